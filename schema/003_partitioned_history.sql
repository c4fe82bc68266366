-- hotel_demand (by observed_at) and deliveries (by received_at) become range-partitioned by month
-- (docs/partitioning.md says why). Old months become read-only and retention can drop whole
-- partitions instead of deleting rows.
--
-- A unique constraint on a partitioned table must include the partition key, so the dedupe key
-- moves to delivery_digests, which is not partitioned and not pruned with the bodies: a body whose
-- row was dropped is still a duplicate when it comes again.
--
-- This file is the short first step of the migration from version 2 (docs/partitioning.md,
-- "Migrating an existing database"): one transaction, as every migration, that puts the new tables
-- in place and keeps the old ones, renamed deliveries_v2 and hotel_demand_v2, with their rows. It
-- reads each old delivery's digest, id and received_at (not its body) and no demand row. What dedupe
-- needs is complete when it commits: every old digest is in delivery_digests with its old id, and
-- the id sequence goes on past the old one. The rows themselves are moved afterwards in batches,
-- each its own transaction (a DELETE from the old table feeding an INSERT into the new one, so the
-- rows left in the old table are what remains to do), by src/db/migrations.cpp (move_history),
-- which drops each old table once it is empty. An interruption anywhere loses and repeats nothing:
-- this transaction rolls back whole, a batch rolls back whole, and the next run resumes from the
-- rows still in the old tables.

-- One month's partition of `parent` (deliveries or hotel_demand), keyed on `key`, for the month
-- holding `month` (UTC). Rows of that month already in the DEFAULT partition are moved into it.
-- Returns whether it created one.
CREATE FUNCTION eventsshop.ensure_partition(parent text, key text, month date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    first date := date_trunc('month', month::timestamp)::date;
    name text := parent || '_' || to_char(first, '"y"YYYY"m"MM');
    lo timestamptz := first::timestamp AT TIME ZONE 'UTC';
    hi timestamptz := (first + interval '1 month')::timestamp AT TIME ZONE 'UTC';
    fallback text := parent || '_default';
    waiting boolean;
BEGIN
    IF to_regclass(format('eventsshop.%I', name)) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('LOCK TABLE eventsshop.%I IN EXCLUSIVE MODE', fallback);
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM eventsshop.%I WHERE %I >= $1 AND %I < $2)', fallback, key, key)
        INTO waiting USING lo, hi;
    IF NOT waiting THEN
        EXECUTE format('CREATE TABLE eventsshop.%I PARTITION OF eventsshop.%I FOR VALUES FROM (%L) TO (%L)',
                       name, parent, lo, hi);
    ELSE
        -- The DEFAULT partition is emptied here: its rows of this month move to the new partition.
        EXECUTE format('CREATE TABLE eventsshop.%I (LIKE eventsshop.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
                       'INCLUDING COMPRESSION INCLUDING STORAGE)', name, parent);
        EXECUTE format('WITH m AS (DELETE FROM eventsshop.%I WHERE %I >= $1 AND %I < $2 RETURNING *) '
                       'INSERT INTO eventsshop.%I SELECT * FROM m', fallback, key, key, name) USING lo, hi;
        EXECUTE format('ALTER TABLE eventsshop.%I ATTACH PARTITION eventsshop.%I FOR VALUES FROM (%L) TO (%L)',
                       parent, name, lo, hi);
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION eventsshop.ensure_partition(text, text, date) IS
    'Creates the monthly partition of deliveries or hotel_demand for the month of the given date (UTC), moving that month''s rows out of the DEFAULT partition.';

-- This month's and the next months_ahead months' partitions of both tables, and one for each month
-- that has rows in a DEFAULT partition (which leaves it empty). Called by migrate and by the daemon
-- (at start, then hourly); returns how many partitions it created.
CREATE FUNCTION eventsshop.ensure_partitions(months_ahead integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    t record;
    m date;
    made integer := 0;
    this_month date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('deliveries', 'received_at'), ('hotel_demand', 'observed_at')) AS v(parent, key)
    LOOP
        FOR m IN SELECT (this_month + make_interval(months => i))::date FROM generate_series(0, months_ahead) AS i
        LOOP
            IF eventsshop.ensure_partition(t.parent, t.key, m) THEN made := made + 1; END IF;
        END LOOP;
        FOR m IN EXECUTE format('SELECT DISTINCT date_trunc(''month'', %I AT TIME ZONE ''UTC'')::date FROM eventsshop.%I',
                                t.key, t.parent || '_default')
        LOOP
            IF eventsshop.ensure_partition(t.parent, t.key, m) THEN made := made + 1; END IF;
        END LOOP;
    END LOOP;
    RETURN made;
END
$$;
COMMENT ON FUNCTION eventsshop.ensure_partitions(integer) IS
    'Creates this month''s and the next months_ahead months'' partitions of deliveries and hotel_demand, and empties their DEFAULT partitions into monthly ones. Returns how many it created.';

-- The old tables step aside with their rows, which are moved into the new ones in batches later.
-- Their constraint and index names are the new tables' (names are per schema): the old primary key
-- is renamed (the batches read deliveries_v2 in id order), the rest dropped (digests dedupe now,
-- and batches need no other index; a DELETE does not maintain indexes anyway).
ALTER TABLE eventsshop.deliveries RENAME TO deliveries_v2;
ALTER TABLE eventsshop.hotel_demand RENAME TO hotel_demand_v2;
ALTER TABLE eventsshop.deliveries_v2 RENAME CONSTRAINT deliveries_pkey TO deliveries_v2_pkey;
ALTER TABLE eventsshop.deliveries_v2 DROP CONSTRAINT deliveries_body_sha256_key;
DROP INDEX eventsshop.deliveries_received_at_brin, eventsshop.deliveries_latest_pending_idx,
           eventsshop.hotel_demand_hotel_stay_observed_idx, eventsshop.hotel_demand_delivery_brin,
           eventsshop.hotel_demand_observed_brin;
COMMENT ON TABLE eventsshop.deliveries_v2 IS
    'Deliveries stored before schema version 3, not yet moved into eventsshop.deliveries (migrate moves them in batches, then drops this table).';
COMMENT ON TABLE eventsshop.hotel_demand_v2 IS
    'Demand rows stored before schema version 3, not yet moved into eventsshop.hotel_demand (migrate moves them in batches, then drops this table).';
-- hotel_demand_as_of returns hotel_demand's row type: it is made again for the new table.
DROP FUNCTION eventsshop.hotel_demand_as_of(timestamptz);

CREATE TABLE eventsshop.deliveries (
    -- An identity as before (ALTER COLUMN id RESTART works), its sequence named so the inserts can
    -- draw from it for delivery_digests first.
    id              bigint GENERATED BY DEFAULT AS IDENTITY (SEQUENCE NAME eventsshop.delivery_ids),
    received_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind            text NOT NULL
                    CHECK (kind IN ('eventsinfo', 'eventimpact', 'hoteldemand', 'unclassified')),
    body            bytea COMPRESSION lz4 NOT NULL,
    body_sha256     bytea NOT NULL CHECK (length(body_sha256) = 32),
    byte_size       bigint NOT NULL CHECK (byte_size >= 0),
    remote_addr     inet,
    principal       text NOT NULL,
    record_count    integer NOT NULL DEFAULT 0,
    declared_kind   text CHECK (declared_kind IN ('eventsinfo', 'eventimpact', 'hoteldemand')),
    classification  text,
    latest_pending  boolean NOT NULL DEFAULT false
) PARTITION BY RANGE (received_at);
CREATE TABLE eventsshop.deliveries_default PARTITION OF eventsshop.deliveries DEFAULT;

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
) PARTITION BY RANGE (observed_at);
CREATE TABLE eventsshop.hotel_demand_default PARTITION OF eventsshop.hotel_demand DEFAULT;

-- The dedupe key, one row per body ever stored; never pruned.
CREATE TABLE eventsshop.delivery_digests (
    body_sha256  bytea PRIMARY KEY CHECK (length(body_sha256) = 32),
    delivery_id  bigint NOT NULL,
    received_at  timestamptz NOT NULL
);
COMMENT ON TABLE eventsshop.delivery_digests IS
    'SHA-256 of every body ever stored, with the delivery it made: what makes a body posted again a duplicate, even once its deliveries partition is dropped.';
COMMENT ON COLUMN eventsshop.delivery_digests.body_sha256 IS 'SHA-256 of the body.';
COMMENT ON COLUMN eventsshop.delivery_digests.delivery_id IS 'deliveries.id of the delivery that stored it.';
COMMENT ON COLUMN eventsshop.delivery_digests.received_at IS 'deliveries.received_at of that delivery (its partition key).';

-- A partition of both tables for every month that has deliveries (a demand row is observed when its
-- delivery was received; a batch makes any other month's partition before it moves its rows), then
-- this month's and the next three.
DO $$
DECLARE
    m date;
BEGIN
    FOR m IN SELECT DISTINCT date_trunc('month', received_at AT TIME ZONE 'UTC')::date FROM eventsshop.deliveries_v2
    LOOP
        PERFORM eventsshop.ensure_partition('deliveries', 'received_at', m);
        PERFORM eventsshop.ensure_partition('hotel_demand', 'observed_at', m);
    END LOOP;
    PERFORM eventsshop.ensure_partitions(3);
END
$$;

-- Every old body is a duplicate from the first new write on, answered with its old id.
INSERT INTO eventsshop.delivery_digests (body_sha256, delivery_id, received_at)
SELECT body_sha256, id, received_at FROM eventsshop.deliveries_v2;

-- Ids go on from where the old identity left them (never one given before, even if rolled back).
SELECT setval('eventsshop.delivery_ids',
              greatest((SELECT last_value FROM eventsshop.deliveries_id_seq),
                       (SELECT coalesce(max(id), 0) FROM eventsshop.deliveries_v2), 1));

-- The old tables' column comments carry over.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT t.new_name, a.attname, col_description(a.attrelid, a.attnum) AS description
             FROM (VALUES ('deliveries_v2', 'deliveries'), ('hotel_demand_v2', 'hotel_demand')) AS t(old_name, new_name)
             JOIN pg_attribute a ON a.attrelid = format('eventsshop.%I', t.old_name)::regclass
             WHERE a.attnum > 0 AND NOT a.attisdropped AND col_description(a.attrelid, a.attnum) IS NOT NULL
    LOOP
        EXECUTE format('COMMENT ON COLUMN eventsshop.%I.%I IS %L', c.new_name, c.attname, c.description);
    END LOOP;
END
$$;

-- The indexes now, on empty partitions: the daemon writes at once, and the batches after it. A
-- primary key on a partitioned table must include the partition key; lookups by id use its leading
-- column.
ALTER TABLE eventsshop.deliveries ADD CONSTRAINT deliveries_pkey PRIMARY KEY (id, received_at);
CREATE INDEX deliveries_received_at_brin ON eventsshop.deliveries USING brin (received_at);
CREATE INDEX deliveries_latest_pending_idx ON eventsshop.deliveries (id) WHERE latest_pending;
CREATE INDEX hotel_demand_hotel_stay_observed_idx ON eventsshop.hotel_demand (hotel_code, stay_date, observed_at);
CREATE INDEX hotel_demand_delivery_brin ON eventsshop.hotel_demand USING brin (delivery_id);
CREATE INDEX hotel_demand_observed_brin ON eventsshop.hotel_demand USING brin (observed_at);

COMMENT ON TABLE eventsshop.deliveries IS
    'One row per accepted delivery (HTTP POST from EventsShop), stored byte for byte, partitioned by month of received_at. A body posted again is not stored twice (delivery_digests).';
COMMENT ON TABLE eventsshop.hotel_demand IS
    'Every demand observation ever delivered, append-only: what was expected for a hotel and stay date as of each delivery. Partitioned by month of observed_at.';

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

-- The batches size themselves from the old demand table's rows per page.
ANALYZE eventsshop.hotel_demand_v2, eventsshop.delivery_digests;
