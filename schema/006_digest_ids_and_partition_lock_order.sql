-- Two mends to version 3, found by review after it was released.
--
-- deliveries' key is (id, received_at), so an id drawn twice (the sequence set back by a restore or
-- a switchover) was stored, and every later statement by id (the large lane's update of its row)
-- touched both deliveries, rewriting an acknowledged body. delivery_digests is not partitioned: a
-- UNIQUE delivery_id there fails the second claim as the old primary key did, and the store draws
-- a new id and tries again. (A database that already holds an id twice fails this migration,
-- loudly, rather than be declared sound: the log names the constraint, the rows need an operator.)
-- Looked for first, without a lock, so a database that fails this migration fails fast instead of
-- building the index under an exclusive lock each time a daemon tries again.
DO $$
DECLARE
    twice bigint;
BEGIN
    SELECT delivery_id INTO twice FROM eventsshop.delivery_digests GROUP BY delivery_id HAVING count(*) > 1 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'delivery id % names more than one stored body (SELECT * FROM eventsshop.delivery_digests WHERE delivery_id = %); an operator must give one of them a new id', twice, twice;
    END IF;
END
$$;
ALTER TABLE eventsshop.delivery_digests
    ADD CONSTRAINT delivery_digests_delivery_id_key UNIQUE (delivery_id);

CREATE OR REPLACE FUNCTION eventsshop.ensure_partition(parent text, key text, month date) RETURNS boolean
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
    -- The parent first, as every writer locks it before a partition: taking the DEFAULT partition
    -- first deadlocked with a large delivery's transaction, which holds the parent and later
    -- updates its row by id (every partition, DEFAULT included).
    EXECUTE format('LOCK TABLE eventsshop.%I IN ACCESS EXCLUSIVE MODE', parent);
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
