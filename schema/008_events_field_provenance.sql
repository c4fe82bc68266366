-- The events merge kept one last_delivery_id per row and compared every field with it, so with
-- three deliveries of one event committing out of id order (several receivers, several writers) a
-- field could keep an older delivery's value: applied in the order 12, 10, 11, 11's city was
-- refused because the row already said 12, and 10's stayed. Now each column the merge fills has a
-- <column>_delivery_id, and extra_delivery_ids has one per key of extra: the delivery whose value
-- is stored. Each field takes the value of the highest delivery id that gave one, whatever the
-- commit order (src/db/queries/upsert_events.sql).
--
-- A bigint column per field rather than one jsonb map of them all (tried first). Measured on a
-- batch of 20,000 events: the jsonb map took ~540 bytes a row with every field known (numeric ids
-- and the key names), 20 us an event to build and ~0.4 us a key to read (38 reads an update); a
-- bigint takes 8 bytes when its field is known (152 at most, a NULL one only its bit in the null
-- bitmap) and costs next to nothing to read, compare or write. An update rewrites the whole row
-- under MVCC either way. With these columns that batch upserts in ~1.6 times the time of the old
-- statement as inserts and ~1.4 times as updates (the batch is also merged per event, see
-- upsert_events.sql), ~2.5 times when every event carries keys of extra. The keys of extra are
-- open-ended, so their ids are a jsonb map, read only when a delivery carries extra.
ALTER TABLE eventsshop.events
    ADD COLUMN name_delivery_id bigint,
    ADD COLUMN category_delivery_id bigint,
    ADD COLUMN sub_category_delivery_id bigint,
    ADD COLUMN description_delivery_id bigint,
    ADD COLUMN start_date_delivery_id bigint,
    ADD COLUMN end_date_delivery_id bigint,
    ADD COLUMN estimated_attendee_delivery_id bigint,
    ADD COLUMN attendee_min_delivery_id bigint,
    ADD COLUMN attendee_max_delivery_id bigint,
    ADD COLUMN venue_delivery_id bigint,
    ADD COLUMN address_delivery_id bigint,
    ADD COLUMN city_delivery_id bigint,
    ADD COLUMN state_delivery_id bigint,
    ADD COLUMN zip_delivery_id bigint,
    ADD COLUMN country_delivery_id bigint,
    ADD COLUMN region_delivery_id bigint,
    ADD COLUMN lat_delivery_id bigint,
    ADD COLUMN lng_delivery_id bigint,
    ADD COLUMN status_code_delivery_id bigint,
    ADD COLUMN extra_delivery_ids jsonb NOT NULL DEFAULT '{}';

-- Rows stored before this version: every known value is credited to the row's last_delivery_id,
-- the best knowledge there is. They behave as before: a delivery with a lower id does not replace
-- them, one with a higher or equal id does, and their unknown fields take any delivery's value.
-- (This rewrites every row of events once, a table of one row per event.)
UPDATE eventsshop.events SET
    name_delivery_id = CASE WHEN name IS NOT NULL THEN last_delivery_id END,
    category_delivery_id = CASE WHEN category IS NOT NULL THEN last_delivery_id END,
    sub_category_delivery_id = CASE WHEN sub_category IS NOT NULL THEN last_delivery_id END,
    description_delivery_id = CASE WHEN description IS NOT NULL THEN last_delivery_id END,
    start_date_delivery_id = CASE WHEN start_date IS NOT NULL THEN last_delivery_id END,
    end_date_delivery_id = CASE WHEN end_date IS NOT NULL THEN last_delivery_id END,
    estimated_attendee_delivery_id = CASE WHEN estimated_attendee IS NOT NULL THEN last_delivery_id END,
    attendee_min_delivery_id = CASE WHEN attendee_min IS NOT NULL THEN last_delivery_id END,
    attendee_max_delivery_id = CASE WHEN attendee_max IS NOT NULL THEN last_delivery_id END,
    venue_delivery_id = CASE WHEN venue IS NOT NULL THEN last_delivery_id END,
    address_delivery_id = CASE WHEN address IS NOT NULL THEN last_delivery_id END,
    city_delivery_id = CASE WHEN city IS NOT NULL THEN last_delivery_id END,
    state_delivery_id = CASE WHEN state IS NOT NULL THEN last_delivery_id END,
    zip_delivery_id = CASE WHEN zip IS NOT NULL THEN last_delivery_id END,
    country_delivery_id = CASE WHEN country IS NOT NULL THEN last_delivery_id END,
    region_delivery_id = CASE WHEN region IS NOT NULL THEN last_delivery_id END,
    lat_delivery_id = CASE WHEN lat IS NOT NULL THEN last_delivery_id END,
    lng_delivery_id = CASE WHEN lng IS NOT NULL THEN last_delivery_id END,
    status_code_delivery_id = CASE WHEN status_code IS NOT NULL THEN last_delivery_id END,
    extra_delivery_ids = coalesce((SELECT jsonb_object_agg(x.key, last_delivery_id) FROM jsonb_each(extra) AS x
                                   WHERE x.value <> 'null'), '{}');

COMMENT ON TABLE eventsshop.events IS
    'One row per EventsShop event, merged from every delivery that mentions it (eventsinfo, eventimpact and hoteldemand bodies). Each field, and each key of extra, holds the value of the highest delivery id that gave a non-null one (the *_delivery_id columns, extra_delivery_ids), whatever order the deliveries commit in: a later delivery updates what it carries and never erases a known value with a missing one.';
COMMENT ON COLUMN eventsshop.events.name_delivery_id IS 'deliveries.id of the delivery whose name is stored (NULL while name is).';
COMMENT ON COLUMN eventsshop.events.category_delivery_id IS 'deliveries.id of the delivery whose category is stored (NULL while category is).';
COMMENT ON COLUMN eventsshop.events.sub_category_delivery_id IS 'deliveries.id of the delivery whose sub_category is stored (NULL while sub_category is).';
COMMENT ON COLUMN eventsshop.events.description_delivery_id IS 'deliveries.id of the delivery whose description is stored (NULL while description is).';
COMMENT ON COLUMN eventsshop.events.start_date_delivery_id IS 'deliveries.id of the delivery whose start_date is stored (NULL while start_date is).';
COMMENT ON COLUMN eventsshop.events.end_date_delivery_id IS 'deliveries.id of the delivery whose end_date is stored (NULL while end_date is).';
COMMENT ON COLUMN eventsshop.events.estimated_attendee_delivery_id IS 'deliveries.id of the delivery whose estimated_attendee is stored (NULL while estimated_attendee is).';
COMMENT ON COLUMN eventsshop.events.attendee_min_delivery_id IS 'deliveries.id of the delivery whose attendee_min is stored (NULL while attendee_min is).';
COMMENT ON COLUMN eventsshop.events.attendee_max_delivery_id IS 'deliveries.id of the delivery whose attendee_max is stored (NULL while attendee_max is).';
COMMENT ON COLUMN eventsshop.events.venue_delivery_id IS 'deliveries.id of the delivery whose venue is stored (NULL while venue is).';
COMMENT ON COLUMN eventsshop.events.address_delivery_id IS 'deliveries.id of the delivery whose address is stored (NULL while address is).';
COMMENT ON COLUMN eventsshop.events.city_delivery_id IS 'deliveries.id of the delivery whose city is stored (NULL while city is).';
COMMENT ON COLUMN eventsshop.events.state_delivery_id IS 'deliveries.id of the delivery whose state is stored (NULL while state is).';
COMMENT ON COLUMN eventsshop.events.zip_delivery_id IS 'deliveries.id of the delivery whose zip is stored (NULL while zip is).';
COMMENT ON COLUMN eventsshop.events.country_delivery_id IS 'deliveries.id of the delivery whose country is stored (NULL while country is).';
COMMENT ON COLUMN eventsshop.events.region_delivery_id IS 'deliveries.id of the delivery whose region is stored (NULL while region is).';
COMMENT ON COLUMN eventsshop.events.lat_delivery_id IS 'deliveries.id of the delivery whose lat is stored (NULL while lat is).';
COMMENT ON COLUMN eventsshop.events.lng_delivery_id IS 'deliveries.id of the delivery whose lng is stored (NULL while lng is).';
COMMENT ON COLUMN eventsshop.events.status_code_delivery_id IS 'deliveries.id of the delivery whose status_code is stored (NULL while status_code is).';
COMMENT ON COLUMN eventsshop.events.extra_delivery_ids IS
    'deliveries.id of the delivery whose value is stored, per key of extra: {"key": 11} (a key only ever sent as null has none).';
