-- Impacts reach PostgreSQL as events do: COPY into this per-session stage, then upsert_impacts.
CREATE TEMP TABLE IF NOT EXISTS esr_impacts_stage (
    event_id bigint, impact_date date, impact_score double precision, delivery_id bigint, received_at timestamptz
) ON COMMIT DELETE ROWS
