-- Retention (docs/retention.md): `eventsshop-receiver prune` drops whole monthly partitions of
-- deliveries and hotel_demand once they are older than the configured age, so old history goes
-- without DELETE, bloat or vacuum. What went is written down here: `reprocess` reads it to say
-- which deliveries it can no longer rebuild, and an operator can see what was dropped and when.
-- delivery_digests is never pruned, so a pruned body posted again is still a duplicate.

CREATE TABLE eventsshop.pruned_partitions (
    partition_name     text PRIMARY KEY,
    parent             text NOT NULL CHECK (parent IN ('deliveries', 'hotel_demand')),
    range_from         timestamptz NOT NULL,
    range_to           timestamptz NOT NULL,
    row_count          bigint NOT NULL,
    bytes              bigint NOT NULL,
    first_delivery_id  bigint,
    last_delivery_id   bigint,
    pruned_at          timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE eventsshop.pruned_partitions IS
    'Monthly partitions of deliveries and hotel_demand that prune dropped: what history is gone, and which deliveries reprocess can no longer rebuild.';
COMMENT ON COLUMN eventsshop.pruned_partitions.partition_name IS 'The partition dropped, e.g. deliveries_y2025m01.';
COMMENT ON COLUMN eventsshop.pruned_partitions.parent IS 'deliveries (raw bodies) or hotel_demand (demand history).';
COMMENT ON COLUMN eventsshop.pruned_partitions.range_from IS 'Start of the month it held (received_at or observed_at), inclusive.';
COMMENT ON COLUMN eventsshop.pruned_partitions.range_to IS 'End of that month, exclusive.';
COMMENT ON COLUMN eventsshop.pruned_partitions.row_count IS 'Rows it held when dropped.';
COMMENT ON COLUMN eventsshop.pruned_partitions.bytes IS 'Its size on disk with indexes and TOAST, freed by the drop.';
COMMENT ON COLUMN eventsshop.pruned_partitions.first_delivery_id IS 'deliveries: the lowest delivery id it held (NULL for hotel_demand or an empty month).';
COMMENT ON COLUMN eventsshop.pruned_partitions.last_delivery_id IS 'deliveries: the highest delivery id it held.';
COMMENT ON COLUMN eventsshop.pruned_partitions.pruned_at IS 'When prune dropped it.';

-- The monthly partitions of `parent` (deliveries or hotel_demand) that end at or before `cutoff`,
-- oldest first, with their size. Months come from the names ensure_partition gives
-- (parent_yYYYYmMM, UTC); the DEFAULT partition is never one of them (ensure_partitions empties
-- it into monthly partitions first).
CREATE FUNCTION eventsshop.partitions_ending_by(parent text, cutoff timestamptz)
RETURNS TABLE (partition_name text, range_from timestamptz, range_to timestamptz, bytes bigint)
LANGUAGE sql STABLE AS $$
    SELECT p.relname, p.first::timestamp AT TIME ZONE 'UTC',
           (p.first + interval '1 month')::timestamp AT TIME ZONE 'UTC', p.bytes
    FROM (
        SELECT c.relname::text AS relname, pg_total_relation_size(c.oid) AS bytes,
               make_date(m[1]::int, m[2]::int, 1) AS first
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        CROSS JOIN LATERAL regexp_match(c.relname, '^' || parent || '_y([0-9]{4})m([0-9]{2})$') AS m
        WHERE i.inhparent = format('eventsshop.%I', parent)::regclass AND m IS NOT NULL
    ) p
    WHERE (p.first + interval '1 month')::timestamp AT TIME ZONE 'UTC' <= cutoff
    ORDER BY p.first
$$;

-- Drops one monthly partition found by partitions_ending_by, writing it down in pruned_partitions
-- in the same transaction. Returns the rows it held, NULL when it is already gone (a second prune).
CREATE FUNCTION eventsshop.drop_partition(parent text, partition_name text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    p record;
    n bigint;
    first_id bigint;
    last_id bigint;
BEGIN
    SELECT * INTO p FROM eventsshop.partitions_ending_by(parent, 'infinity') AS e
    WHERE e.partition_name = drop_partition.partition_name;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    -- Counted before the parent is locked, so writers of this month (it is over: none but a
    -- delivery drained from a spool long after) are the only ones kept waiting by the count; the
    -- SHARE lock keeps what is counted what is dropped.
    EXECUTE format('LOCK TABLE eventsshop.%I IN SHARE MODE', p.partition_name);
    IF parent = 'deliveries' THEN
        EXECUTE format('SELECT count(*), min(id), max(id) FROM eventsshop.%I', p.partition_name)
            INTO n, first_id, last_id;
    ELSE
        EXECUTE format('SELECT count(*) FROM eventsshop.%I', p.partition_name) INTO n;
    END IF;
    -- Detaching locks the parent against every reader and writer for a moment; the session's
    -- lock_timeout (prune sets one) bounds how long they queue behind this.
    INSERT INTO eventsshop.pruned_partitions (partition_name, parent, range_from, range_to, row_count, bytes,
                                              first_delivery_id, last_delivery_id)
    VALUES (p.partition_name, parent, p.range_from, p.range_to, n, p.bytes, first_id, last_id);
    EXECUTE format('ALTER TABLE eventsshop.%I DETACH PARTITION eventsshop.%I', parent, p.partition_name);
    EXECUTE format('DROP TABLE eventsshop.%I', p.partition_name);
    RETURN n;
END
$$;
COMMENT ON FUNCTION eventsshop.drop_partition(text, text) IS
    'Drops a monthly partition of deliveries or hotel_demand and records it in pruned_partitions (used by eventsshop-receiver prune).';
