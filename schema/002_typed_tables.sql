-- Typed, queryable tables derived from eventsshop.deliveries. Every row here can be rebuilt from
-- the stored bodies with `eventsshop-receiver reprocess`. No foreign keys to deliveries: they would
-- cost a lookup per row on 100,000-row demand deliveries; delivery_id columns refer to
-- deliveries.id all the same.

ALTER TABLE eventsshop.deliveries
    ADD COLUMN record_count integer NOT NULL DEFAULT 0,
    ADD COLUMN declared_kind text CHECK (declared_kind IN ('eventsinfo', 'eventimpact', 'hoteldemand')),
    ADD COLUMN classification text,
    ADD COLUMN latest_pending boolean NOT NULL DEFAULT false;
CREATE INDEX deliveries_latest_pending_idx ON eventsshop.deliveries (id) WHERE latest_pending;
COMMENT ON COLUMN eventsshop.deliveries.latest_pending IS
    'True while this large demand delivery''s rows are in hotel_demand but not yet in hotel_demand_latest (brought up to date right after its commit).';
COMMENT ON COLUMN eventsshop.deliveries.record_count IS 'How many typed rows the body yielded (events, impacts, demand rows, demand event records).';
COMMENT ON COLUMN eventsshop.deliveries.declared_kind IS 'The kind named by the path it was posted to (/eventsinfo, ...), NULL when posted to the base path.';
COMMENT ON COLUMN eventsshop.deliveries.classification IS 'Why the body was given its kind, in words.';

CREATE TABLE eventsshop.rejected_deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    remote_addr     inet,
    principal       text NOT NULL,
    path            text NOT NULL,
    byte_size       bigint NOT NULL,
    body_sha256     bytea NOT NULL,
    body            bytea COMPRESSION lz4 NOT NULL,
    body_truncated  boolean NOT NULL,
    error           text NOT NULL
);
CREATE INDEX rejected_deliveries_received_at_idx ON eventsshop.rejected_deliveries (received_at);
COMMENT ON TABLE eventsshop.rejected_deliveries IS
    'Bodies from authenticated senders answered 400 (not JSON, or not the kind their path names), kept to diagnose a vendor format change.';
COMMENT ON COLUMN eventsshop.rejected_deliveries.id IS 'Rejection id.';
COMMENT ON COLUMN eventsshop.rejected_deliveries.received_at IS 'When it was refused.';
COMMENT ON COLUMN eventsshop.rejected_deliveries.remote_addr IS 'Address of the client that sent it.';
COMMENT ON COLUMN eventsshop.rejected_deliveries.principal IS 'Credential presented: basic:<user> or bearer:<n>.';
COMMENT ON COLUMN eventsshop.rejected_deliveries.path IS 'Request path it was posted to.';
COMMENT ON COLUMN eventsshop.rejected_deliveries.byte_size IS 'Length of the whole body in bytes.';
COMMENT ON COLUMN eventsshop.rejected_deliveries.body_sha256 IS 'SHA-256 of the whole body.';
COMMENT ON COLUMN eventsshop.rejected_deliveries.body IS 'The body as received, cut to the first 1 MiB.';
COMMENT ON COLUMN eventsshop.rejected_deliveries.body_truncated IS 'True when body holds only the first 1 MiB.';
COMMENT ON COLUMN eventsshop.rejected_deliveries.error IS 'Why it was refused (the parse error with its byte offset, or the kind mismatch).';

CREATE TABLE eventsshop.events (
    event_id            bigint PRIMARY KEY,
    name                text,
    category            text,
    sub_category        text,
    description         text,
    start_date          date,
    end_date            date,
    estimated_attendee  text,
    attendee_min        bigint,
    attendee_max        bigint,
    venue               text,
    address             text,
    city                text,
    state               text,
    zip                 text,
    country             text,
    region              text,
    lat                 double precision,
    lng                 double precision,
    status_code         integer,
    extra               jsonb NOT NULL DEFAULT '{}',
    first_seen_at       timestamptz NOT NULL,
    last_seen_at        timestamptz NOT NULL,
    last_delivery_id    bigint NOT NULL
);
CREATE INDEX events_city_start_idx ON eventsshop.events (city, start_date);
COMMENT ON TABLE eventsshop.events IS
    'One row per EventsShop event, merged from every delivery that mentions it (eventsinfo, eventimpact and hoteldemand bodies). A later delivery updates what it carries and never erases a known value with a missing one.';
COMMENT ON COLUMN eventsshop.events.event_id IS 'EventsShop eventId.';
COMMENT ON COLUMN eventsshop.events.name IS 'eventName.';
COMMENT ON COLUMN eventsshop.events.category IS 'Category code as sent (text: codes such as "1").';
COMMENT ON COLUMN eventsshop.events.sub_category IS 'Sub-category code as sent.';
COMMENT ON COLUMN eventsshop.events.description IS 'Description.';
COMMENT ON COLUMN eventsshop.events.start_date IS 'First day of the event.';
COMMENT ON COLUMN eventsshop.events.end_date IS 'Last day of the event.';
COMMENT ON COLUMN eventsshop.events.estimated_attendee IS 'estimatedAttendee as sent: a number or a range such as "100-500", "<500", ">500".';
COMMENT ON COLUMN eventsshop.events.attendee_min IS 'Lower bound parsed from estimated_attendee (NULL for "<N").';
COMMENT ON COLUMN eventsshop.events.attendee_max IS 'Upper bound parsed from estimated_attendee (NULL for ">N").';
COMMENT ON COLUMN eventsshop.events.venue IS 'Venue name.';
COMMENT ON COLUMN eventsshop.events.address IS 'Street address.';
COMMENT ON COLUMN eventsshop.events.city IS 'City.';
COMMENT ON COLUMN eventsshop.events.state IS 'State or province.';
COMMENT ON COLUMN eventsshop.events.zip IS 'Postal code (text: codes such as "08908" keep their zeros).';
COMMENT ON COLUMN eventsshop.events.country IS 'Country.';
COMMENT ON COLUMN eventsshop.events.region IS 'Region, e.g. North_America.';
COMMENT ON COLUMN eventsshop.events.lat IS 'Latitude (sent as a string or a number).';
COMMENT ON COLUMN eventsshop.events.lng IS 'Longitude (sent as a string or a number).';
COMMENT ON COLUMN eventsshop.events.status_code IS 'eventStatusCode: 1 scheduled, 2 rescheduled, 3 postponed, 4 holiday, 5 cancelled.';
COMMENT ON COLUMN eventsshop.events.extra IS 'Fields not mapped to a column, as sent; values that could not be coerced are under "_uncoerced".';
COMMENT ON COLUMN eventsshop.events.first_seen_at IS 'received_at of the first delivery that mentioned the event.';
COMMENT ON COLUMN eventsshop.events.last_seen_at IS 'received_at of the latest delivery that mentioned the event.';
COMMENT ON COLUMN eventsshop.events.last_delivery_id IS 'deliveries.id of the latest delivery that mentioned the event.';

CREATE TABLE eventsshop.event_impacts (
    event_id      bigint NOT NULL,
    impact_date   date NOT NULL,
    impact_score  double precision,
    delivery_id   bigint NOT NULL,
    received_at   timestamptz NOT NULL,
    PRIMARY KEY (event_id, impact_date)
);
CREATE INDEX event_impacts_date_idx ON eventsshop.event_impacts (impact_date);
COMMENT ON TABLE eventsshop.event_impacts IS 'Impact of an event on a date (0-100), as most recently delivered.';
COMMENT ON COLUMN eventsshop.event_impacts.event_id IS 'The event (events.event_id).';
COMMENT ON COLUMN eventsshop.event_impacts.impact_date IS 'The date the impact applies to.';
COMMENT ON COLUMN eventsshop.event_impacts.impact_score IS 'Impact on a 0-100 scale.';
COMMENT ON COLUMN eventsshop.event_impacts.delivery_id IS 'deliveries.id that delivered this value.';
COMMENT ON COLUMN eventsshop.event_impacts.received_at IS 'When that delivery was received.';

-- Append-only and large (a year-long city matrix is ~180,000 rows a delivery). BRIN indexes on the
-- insertion-ordered columns cost next to nothing to maintain; the btree serves per-hotel history
-- and "as of" queries. docs/operations.md says when to partition it.
CREATE TABLE eventsshop.hotel_demand (
    delivery_id        bigint NOT NULL,
    observed_at        timestamptz NOT NULL,
    demand_id          bigint,
    hotel_code         text,
    hotel_name         text,
    city               text,
    country            text,
    stay_date          date,
    absolute_demand    bigint,
    relative_demand    double precision,
    events_registered  integer,
    extra              jsonb
);
CREATE INDEX hotel_demand_hotel_stay_observed_idx ON eventsshop.hotel_demand (hotel_code, stay_date, observed_at);
CREATE INDEX hotel_demand_delivery_brin ON eventsshop.hotel_demand USING brin (delivery_id);
CREATE INDEX hotel_demand_observed_brin ON eventsshop.hotel_demand USING brin (observed_at);
COMMENT ON TABLE eventsshop.hotel_demand IS
    'Every demand observation ever delivered, append-only: what was expected for a hotel and stay date as of each delivery.';
COMMENT ON COLUMN eventsshop.hotel_demand.delivery_id IS 'deliveries.id it came from.';
COMMENT ON COLUMN eventsshop.hotel_demand.observed_at IS 'When it was received: the "as of" time of the forecast.';
COMMENT ON COLUMN eventsshop.hotel_demand.demand_id IS 'EventsShop demandId of the request that produced it.';
COMMENT ON COLUMN eventsshop.hotel_demand.hotel_code IS 'EventsShop hotel code (text, as codes are identifiers).';
COMMENT ON COLUMN eventsshop.hotel_demand.hotel_name IS 'Hotel name.';
COMMENT ON COLUMN eventsshop.hotel_demand.city IS 'City of the demand request.';
COMMENT ON COLUMN eventsshop.hotel_demand.country IS 'Country of the demand request.';
COMMENT ON COLUMN eventsshop.hotel_demand.stay_date IS 'The night the demand is for.';
COMMENT ON COLUMN eventsshop.hotel_demand.absolute_demand IS 'Estimated potential guests.';
COMMENT ON COLUMN eventsshop.hotel_demand.relative_demand IS 'Relative demand, 0-100.';
COMMENT ON COLUMN eventsshop.hotel_demand.events_registered IS 'Number of events registered that day.';
COMMENT ON COLUMN eventsshop.hotel_demand.extra IS 'Fields not mapped to a column, as sent (NULL when none).';

CREATE TABLE eventsshop.hotel_demand_latest (
    hotel_code         text NOT NULL,
    stay_date          date NOT NULL,
    demand_id          bigint,
    hotel_name         text,
    city               text,
    country            text,
    absolute_demand    bigint,
    relative_demand    double precision,
    events_registered  integer,
    observed_at        timestamptz NOT NULL,
    delivery_id        bigint NOT NULL,
    PRIMARY KEY (hotel_code, stay_date)
) WITH (fillfactor = 50);  -- room on each page, so a new forecast updates its row in place (HOT)
COMMENT ON TABLE eventsshop.hotel_demand_latest IS 'The newest demand observation per hotel and stay date.';
COMMENT ON COLUMN eventsshop.hotel_demand_latest.hotel_code IS 'EventsShop hotel code.';
COMMENT ON COLUMN eventsshop.hotel_demand_latest.stay_date IS 'The night the demand is for.';
COMMENT ON COLUMN eventsshop.hotel_demand_latest.demand_id IS 'demandId of the newest observation.';
COMMENT ON COLUMN eventsshop.hotel_demand_latest.hotel_name IS 'Hotel name.';
COMMENT ON COLUMN eventsshop.hotel_demand_latest.city IS 'City of the demand request.';
COMMENT ON COLUMN eventsshop.hotel_demand_latest.country IS 'Country of the demand request.';
COMMENT ON COLUMN eventsshop.hotel_demand_latest.absolute_demand IS 'Estimated potential guests.';
COMMENT ON COLUMN eventsshop.hotel_demand_latest.relative_demand IS 'Relative demand, 0-100.';
COMMENT ON COLUMN eventsshop.hotel_demand_latest.events_registered IS 'Number of events registered that day.';
COMMENT ON COLUMN eventsshop.hotel_demand_latest.observed_at IS 'When the newest observation was received.';
COMMENT ON COLUMN eventsshop.hotel_demand_latest.delivery_id IS 'deliveries.id of the newest observation.';

CREATE TABLE eventsshop.demand_event_records (
    delivery_id         bigint NOT NULL,
    demand_id           bigint,
    event_id            bigint,
    event_name          text,
    venue               text,
    category            text,
    event_date          date,
    estimated_attendee  text,
    attendee_min        bigint,
    attendee_max        bigint,
    extra               jsonb
);
CREATE INDEX demand_event_records_delivery_idx ON eventsshop.demand_event_records (delivery_id);
CREATE INDEX demand_event_records_event_idx ON eventsshop.demand_event_records (event_id, event_date);
COMMENT ON TABLE eventsshop.demand_event_records IS 'Event records carried by city-wide demand deliveries, one per event and date.';
COMMENT ON COLUMN eventsshop.demand_event_records.delivery_id IS 'deliveries.id it came from.';
COMMENT ON COLUMN eventsshop.demand_event_records.demand_id IS 'demandId of the request.';
COMMENT ON COLUMN eventsshop.demand_event_records.event_id IS 'The event (events.event_id).';
COMMENT ON COLUMN eventsshop.demand_event_records.event_name IS 'Event name.';
COMMENT ON COLUMN eventsshop.demand_event_records.venue IS 'Venue.';
COMMENT ON COLUMN eventsshop.demand_event_records.category IS 'Category code.';
COMMENT ON COLUMN eventsshop.demand_event_records.event_date IS 'The date the record is for.';
COMMENT ON COLUMN eventsshop.demand_event_records.estimated_attendee IS 'Expected attendance as sent.';
COMMENT ON COLUMN eventsshop.demand_event_records.attendee_min IS 'Lower bound parsed from estimated_attendee.';
COMMENT ON COLUMN eventsshop.demand_event_records.attendee_max IS 'Upper bound parsed from estimated_attendee.';
COMMENT ON COLUMN eventsshop.demand_event_records.extra IS 'Fields not mapped to a column, as sent (NULL when none).';

-- Views for the common questions (docs/queries.md has an example of each).
CREATE VIEW eventsshop.event_days AS
SELECT e.event_id, e.name, e.city, e.country, d::date AS day, e.category, e.status_code,
       e.attendee_min, e.attendee_max
FROM eventsshop.events e
CROSS JOIN LATERAL generate_series(e.start_date, coalesce(e.end_date, e.start_date), interval '1 day') AS d
WHERE e.start_date IS NOT NULL AND coalesce(e.end_date, e.start_date) >= e.start_date;
COMMENT ON VIEW eventsshop.event_days IS 'One row per event and day it is on, from start_date to end_date.';

CREATE VIEW eventsshop.city_daily_demand AS
SELECT city, country, stay_date,
       count(*) AS hotels,
       sum(absolute_demand) AS absolute_demand,
       avg(relative_demand) AS avg_relative_demand,
       max(events_registered) AS events_registered,
       max(observed_at) AS observed_at
FROM eventsshop.hotel_demand_latest
GROUP BY city, country, stay_date;
COMMENT ON VIEW eventsshop.city_daily_demand IS 'Newest demand summed per city and stay date.';

CREATE VIEW eventsshop.event_impact_details AS
SELECT i.event_id, i.impact_date, i.impact_score, e.name, e.category, e.venue, e.city, e.country,
       e.start_date, e.end_date, e.status_code, i.received_at, i.delivery_id
FROM eventsshop.event_impacts i
LEFT JOIN eventsshop.events e USING (event_id);
COMMENT ON VIEW eventsshop.event_impact_details IS 'The latest impact per event and day, with the event.';

CREATE FUNCTION eventsshop.hotel_demand_as_of(as_of timestamptz)
RETURNS SETOF eventsshop.hotel_demand
LANGUAGE sql STABLE AS $$
    SELECT DISTINCT ON (hotel_code, stay_date) *
    FROM eventsshop.hotel_demand
    WHERE observed_at <= as_of
    ORDER BY hotel_code, stay_date, observed_at DESC, delivery_id DESC
$$;
COMMENT ON FUNCTION eventsshop.hotel_demand_as_of(timestamptz) IS
    'Demand per hotel and stay date as it was known at as_of: the newest observation received by then.';
