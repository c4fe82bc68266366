-- Impacts reach PostgreSQL by COPY into this per-session stage, then upsert_impacts. (Events go as
-- arrays in their upsert itself, one round trip fewer; impacts are a handful per delivery.)
CREATE TEMP TABLE IF NOT EXISTS esr_impacts_stage (
    event_id bigint, impact_date date, impact_score double precision, delivery_id bigint, received_at timestamptz
) ON COMMIT DELETE ROWS
