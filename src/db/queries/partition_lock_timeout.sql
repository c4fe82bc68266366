-- Creating a partition locks its parent briefly; the daemon would rather try again later than wait behind writers.
SET LOCAL lock_timeout = '5s'
