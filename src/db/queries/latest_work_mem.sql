-- Sorts a city matrix's keys in memory when hotel_demand_latest is brought up to date.
SET LOCAL work_mem = '64MB'
