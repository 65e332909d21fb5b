-- libevolve's PostgreSQL schema, version 3: job params as text (issue 5,
-- queue throughput).
--
-- A job's params (SimulationParams JSON, written by libevolve's JSON writer)
-- are only ever written whole and read back whole, like its result since
-- version 2: as text, no claim turns them from jsonb back into text for
-- every job it hands out (and no enqueue parses them). Rewrites both job
-- tables once.
ALTER TABLE job_queue ALTER COLUMN params TYPE text USING params::text;
ALTER TABLE priority_jobs ALTER COLUMN params TYPE text USING params::text;
