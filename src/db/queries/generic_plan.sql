-- In a transaction that sends a body of many MB as a parameter. PostgreSQL plans a prepared
-- statement's first five executions for their parameters' values (custom plans), copying each value
-- into the plan, and the large lane's connection is a new one after every large batch: a 23 MB body
-- took 78-113 ms to bind that way, 10 ms with a generic plan, which reads the value where it lies.
SET LOCAL plan_cache_mode = force_generic_plan
