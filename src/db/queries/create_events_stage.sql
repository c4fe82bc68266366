-- Events reach PostgreSQL through COPY into this per-session stage and upsert_events: COPY's text
-- format is parsed several times faster than json_to_recordset. The stage empties at every commit.
-- Its columns are those stage_events() in typed_rows.cpp copies, in that order: one row per event
-- and delivery mentioning it (last_delivery_id is that delivery), which upsert_events.sql merges
-- field by field, so it may hold several rows of one event.
CREATE TEMP TABLE IF NOT EXISTS esr_events_stage (
    event_id bigint,
    name text, category text, sub_category text, description text, start_date date, end_date date,
    estimated_attendee text, attendee_min bigint, attendee_max bigint, venue text, address text,
    city text, state text, zip text, country text, region text, lat double precision,
    lng double precision, status_code integer,
    extra jsonb, first_seen_at timestamptz, last_seen_at timestamptz, last_delivery_id bigint
) ON COMMIT DELETE ROWS
