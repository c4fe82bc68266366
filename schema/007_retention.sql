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
COMMENT ON COLUMN eventsshop.pruned_partitions.row_count IS 'Rows it held when dropped (added up if the month was made again and dropped again).';
COMMENT ON COLUMN eventsshop.pruned_partitions.bytes IS 'Its size on disk with indexes and TOAST, freed by the drop.';
COMMENT ON COLUMN eventsshop.pruned_partitions.first_delivery_id IS 'The lowest delivery id it held (deliveries.id, or hotel_demand.delivery_id); NULL for an empty month.';
COMMENT ON COLUMN eventsshop.pruned_partitions.last_delivery_id IS 'The highest delivery id it held.';
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

-- What prune reads before it drops a month of `parent`: its rows and the first and last delivery id
-- they name (deliveries.id, hotel_demand.delivery_id). Read without a lock that would keep writers
-- waiting, so a row that arrives after it (a month is over: none but those a wrong clock stamps, or
-- reprocess writes again) is dropped uncounted. Raises when the month holds a delivery id newer than
-- one received more than a day after the month ended: ids grow with time, so those rows were stamped
-- by a wrong database clock (set back), and dropping the month would drop new deliveries.
CREATE FUNCTION eventsshop.prune_candidate(parent text, partition_name text,
                                           OUT row_count bigint, OUT first_id bigint, OUT last_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
    p record;
    later bigint;
BEGIN
    SELECT * INTO p FROM eventsshop.partitions_ending_by(parent, 'infinity') AS e
    WHERE e.partition_name = prune_candidate.partition_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no monthly partition % of %', prune_candidate.partition_name, parent;
    END IF;
    EXECUTE format('SELECT count(*), min(%1$I), max(%1$I) FROM eventsshop.%2$I',
                   CASE parent WHEN 'deliveries' THEN 'id' ELSE 'delivery_id' END, p.partition_name)
        INTO row_count, first_id, last_id;
    SELECT min(id) INTO later FROM eventsshop.deliveries WHERE received_at >= p.range_to + interval '1 day';
    IF last_id > later THEN
        RAISE EXCEPTION '% holds delivery % though delivery % was received more than a day after that month: '
                        'a database clock set back stamped it; not dropped (move those rows by hand)',
                        p.partition_name, last_id, later;
    END IF;
END
$$;

-- Drops one monthly partition of `parent` that prune_candidate read, writing it down in
-- pruned_partitions in the same transaction. Returns false when it keeps it: gone already (another
-- prune), or a large delivery of that month or before still has its hotel_demand_latest update
-- pending (looked at again here, under the lock, as reprocess may have marked one since).
CREATE FUNCTION eventsshop.drop_partition(parent text, partition_name text, row_count bigint, first_id bigint,
                                          last_id bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    p record;
BEGIN
    -- The parent first, as every writer and ensure_partition take it: holding the partition while
    -- waiting for the parent deadlocked with a large delivery's update by id (every partition).
    -- The caller's lock_timeout bounds how long writers queue behind this request.
    EXECUTE format('LOCK TABLE eventsshop.%I IN ACCESS EXCLUSIVE MODE', parent);
    SELECT * INTO p FROM eventsshop.partitions_ending_by(parent, 'infinity') AS e
    WHERE e.partition_name = drop_partition.partition_name;
    IF NOT FOUND OR EXISTS (SELECT 1 FROM eventsshop.deliveries WHERE latest_pending AND received_at < p.range_to) THEN
        RETURN false;
    END IF;
    -- A month made again after it was pruned (rows a wrong clock stamped, or reprocess wrote) adds
    -- to the first record.
    INSERT INTO eventsshop.pruned_partitions AS r (partition_name, parent, range_from, range_to, row_count, bytes,
                                                   first_delivery_id, last_delivery_id)
    VALUES (p.partition_name, parent, p.range_from, p.range_to, row_count, p.bytes, first_id, last_id)
    ON CONFLICT ON CONSTRAINT pruned_partitions_pkey DO UPDATE SET
        row_count = r.row_count + EXCLUDED.row_count, bytes = r.bytes + EXCLUDED.bytes,
        first_delivery_id = least(r.first_delivery_id, EXCLUDED.first_delivery_id),
        last_delivery_id = greatest(r.last_delivery_id, EXCLUDED.last_delivery_id), pruned_at = now();
    EXECUTE format('ALTER TABLE eventsshop.%I DETACH PARTITION eventsshop.%I', parent, p.partition_name);
    EXECUTE format('DROP TABLE eventsshop.%I', p.partition_name);
    RETURN true;
END
$$;
COMMENT ON FUNCTION eventsshop.drop_partition(text, text, bigint, bigint, bigint) IS
    'Drops a monthly partition of deliveries or hotel_demand and records it in pruned_partitions (used by eventsshop-receiver prune).';
