-- libevolve's PostgreSQL schema, version 2: live jobs apart from finished
-- ones (issue 5, queue throughput).
--
-- job_queue holds the live jobs (PENDING and RUNNING), with every column of
-- priority_jobs in the same order. Its indexes cover only columns that a
-- claim, a heartbeat or a release never change (id, the claim order,
-- batch_id, run_id), and its pages are filled to 40% only, so that those
-- updates find room on their own page and are HOT: they write no index entry
-- (at 50% about 1 claim in 9 was not: a claimed row is longer than a new
-- one). A job leaves job_queue when it finishes: one statement deletes it
-- there and inserts it, COMPLETED, FAILED or CANCELLED,
-- into priority_jobs, which from now on holds only finished jobs and is
-- written once per job. The claim index is not partial: a predicate on
-- status (which a claim changes) would make every claim a non-HOT update;
-- claims skip the few RUNNING rows at its front instead.
--
-- priority_jobs keeps its indexes. The partial claim and lease ones stay
-- empty (no finished job is PENDING or RUNNING) and cost nothing to keep.

CREATE TABLE job_queue (
  id text PRIMARY KEY,
  batch_id text NOT NULL,
  run_id text NOT NULL,
  model_id text NOT NULL,
  generation integer NOT NULL,
  priority double precision NOT NULL,
  status text NOT NULL CHECK (status IN ('PENDING', 'RUNNING')),
  params jsonb NOT NULL,  -- SimulationParams
  result text,            -- SimulationResult JSON; always NULL while live
  error text NOT NULL,    -- of the last retried attempt
  worker_id text NOT NULL,
  attempts integer NOT NULL,
  max_attempts integer NOT NULL,
  lease_until timestamptz,  -- set while RUNNING
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
) WITH (fillfactor = 40);
-- Claim order. RUNNING rows stay in it (filtered by the claim) so that the
-- claim's UPDATE of status, worker_id, attempts and lease_until stays HOT.
CREATE INDEX job_queue_claim ON job_queue (priority DESC, created_at, id);
CREATE INDEX job_queue_batch ON job_queue (batch_id);
CREATE INDEX job_queue_run ON job_queue (run_id);

INSERT INTO job_queue
SELECT id, batch_id, run_id, model_id, generation, priority, status, params, result, error, worker_id,
       attempts, max_attempts, lease_until, created_at, updated_at
FROM priority_jobs WHERE status IN ('PENDING', 'RUNNING');
DELETE FROM priority_jobs WHERE status IN ('PENDING', 'RUNNING');

-- A job's result is written once, by the worker's JSON writer, and only ever
-- read back whole: text, not jsonb, so that finishing a job does not parse
-- it (jsonb_in was the largest single cost of FinishJobs).
ALTER TABLE priority_jobs ALTER COLUMN result TYPE text USING result::text;
