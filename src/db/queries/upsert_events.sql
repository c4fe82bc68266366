-- The staged events (create_events_stage) into events. A later delivery's known values win; its
-- missing ones never erase what an earlier one said. Reprocessing in any order gives the same row,
-- because "later" is the delivery id. Taking the rows out of the stage as they are read keeps it
-- empty for the next batch of the same transaction (reprocess writes many); the commit truncates
-- what is left.
WITH r AS (DELETE FROM pg_temp.esr_events_stage RETURNING *)
INSERT INTO eventsshop.events AS e (
    event_id,
    name, category, sub_category, description, start_date, end_date, estimated_attendee,
    attendee_min, attendee_max, venue, address, city, state, zip, country, region, lat, lng,
    status_code,
    extra, first_seen_at, last_seen_at, last_delivery_id)
SELECT r.event_id,
       r.name, r.category, r.sub_category, r.description, r.start_date, r.end_date,
       r.estimated_attendee, r.attendee_min, r.attendee_max, r.venue, r.address, r.city, r.state,
       r.zip, r.country, r.region, r.lat, r.lng, r.status_code,
       coalesce(r.extra, '{}'::jsonb), r.first_seen_at, r.last_seen_at, r.last_delivery_id
FROM r
ON CONFLICT (event_id) DO UPDATE SET
    name = CASE WHEN EXCLUDED.last_delivery_id >= e.last_delivery_id THEN coalesce(EXCLUDED.name, e.name)
         ELSE coalesce(e.name, EXCLUDED.name) END,
    category = CASE WHEN EXCLUDED.last_delivery_id >= e.last_delivery_id THEN coalesce(EXCLUDED.category, e.category)
         ELSE coalesce(e.category, EXCLUDED.category) END,
    sub_category = CASE WHEN EXCLUDED.last_delivery_id >= e.last_delivery_id THEN coalesce(EXCLUDED.sub_category, e.sub_category)
         ELSE coalesce(e.sub_category, EXCLUDED.sub_category) END,
    description = CASE WHEN EXCLUDED.last_delivery_id >= e.last_delivery_id THEN coalesce(EXCLUDED.description, e.description)
         ELSE coalesce(e.description, EXCLUDED.description) END,
    start_date = CASE WHEN EXCLUDED.last_delivery_id >= e.last_delivery_id THEN coalesce(EXCLUDED.start_date, e.start_date)
         ELSE coalesce(e.start_date, EXCLUDED.start_date) END,
    end_date = CASE WHEN EXCLUDED.last_delivery_id >= e.last_delivery_id THEN coalesce(EXCLUDED.end_date, e.end_date)
         ELSE coalesce(e.end_date, EXCLUDED.end_date) END,
    estimated_attendee = CASE WHEN EXCLUDED.last_delivery_id >= e.last_delivery_id THEN coalesce(EXCLUDED.estimated_attendee, e.estimated_attendee)
         ELSE coalesce(e.estimated_attendee, EXCLUDED.estimated_attendee) END,
    attendee_min = CASE WHEN EXCLUDED.last_delivery_id >= e.last_delivery_id THEN coalesce(EXCLUDED.attendee_min, e.attendee_min)
         ELSE coalesce(e.attendee_min, EXCLUDED.attendee_min) END,
    attendee_max = CASE WHEN EXCLUDED.last_delivery_id >= e.last_delivery_id THEN coalesce(EXCLUDED.attendee_max, e.attendee_max)
         ELSE coalesce(e.attendee_max, EXCLUDED.attendee_max) END,
    venue = CASE WHEN EXCLUDED.last_delivery_id >= e.last_delivery_id THEN coalesce(EXCLUDED.venue, e.venue)
         ELSE coalesce(e.venue, EXCLUDED.venue) END,
    address = CASE WHEN EXCLUDED.last_delivery_id >= e.last_delivery_id THEN coalesce(EXCLUDED.address, e.address)
         ELSE coalesce(e.address, EXCLUDED.address) END,
    city = CASE WHEN EXCLUDED.last_delivery_id >= e.last_delivery_id THEN coalesce(EXCLUDED.city, e.city)
         ELSE coalesce(e.city, EXCLUDED.city) END,
    state = CASE WHEN EXCLUDED.last_delivery_id >= e.last_delivery_id THEN coalesce(EXCLUDED.state, e.state)
         ELSE coalesce(e.state, EXCLUDED.state) END,
    zip = CASE WHEN EXCLUDED.last_delivery_id >= e.last_delivery_id THEN coalesce(EXCLUDED.zip, e.zip)
         ELSE coalesce(e.zip, EXCLUDED.zip) END,
    country = CASE WHEN EXCLUDED.last_delivery_id >= e.last_delivery_id THEN coalesce(EXCLUDED.country, e.country)
         ELSE coalesce(e.country, EXCLUDED.country) END,
    region = CASE WHEN EXCLUDED.last_delivery_id >= e.last_delivery_id THEN coalesce(EXCLUDED.region, e.region)
         ELSE coalesce(e.region, EXCLUDED.region) END,
    lat = CASE WHEN EXCLUDED.last_delivery_id >= e.last_delivery_id THEN coalesce(EXCLUDED.lat, e.lat)
         ELSE coalesce(e.lat, EXCLUDED.lat) END,
    lng = CASE WHEN EXCLUDED.last_delivery_id >= e.last_delivery_id THEN coalesce(EXCLUDED.lng, e.lng)
         ELSE coalesce(e.lng, EXCLUDED.lng) END,
    status_code = CASE WHEN EXCLUDED.last_delivery_id >= e.last_delivery_id THEN coalesce(EXCLUDED.status_code, e.status_code)
         ELSE coalesce(e.status_code, EXCLUDED.status_code) END,
    extra = CASE WHEN EXCLUDED.last_delivery_id >= e.last_delivery_id THEN e.extra || EXCLUDED.extra
            ELSE EXCLUDED.extra || e.extra END,
    first_seen_at = least(e.first_seen_at, EXCLUDED.first_seen_at),
    last_seen_at = greatest(e.last_seen_at, EXCLUDED.last_seen_at),
    last_delivery_id = greatest(e.last_delivery_id, EXCLUDED.last_delivery_id)
