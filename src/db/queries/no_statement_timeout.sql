-- In a transaction whose statements take what they take (a large body's parse inside its COPY, a
-- year-long matrix's latest update, a migration, a body sent alone).
SET LOCAL statement_timeout = 0
