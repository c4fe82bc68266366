-- $1 (a timestamptz as this session wrote it) in PostgreSQL's binary form: microseconds since
-- 2000-01-01 UTC (946684800 in Unix time). extract(epoch ...) is numeric, exact to the microsecond.
SELECT ((extract(epoch FROM $1::timestamptz) - 946684800) * 1000000)::bigint
