-- libevolve's PostgreSQL schema, version 4: per-claim fencing tokens and
-- holder deaths counted apart from failures (issue 18, hardening).
--
-- claim_token: a secret made by each claim and returned only to the
-- claimer; heartbeat, complete and release of a worker that speaks the
-- current worker protocol must present it, so knowing a worker's id is not
-- enough to act for it. Empty while the job is not RUNNING.
--
-- deaths: how many times the job's holder stopped heartbeating while it
-- ran (its lease expired, or the registry found its process dead). Kept
-- apart from attempts, which count runs that ended in a reported failure:
-- a service killed three times must not fail the jobs it held. A job whose
-- holders died too often is quarantined (FAILED, with the evidence in
-- error) and `resume` can queue it again.
--
-- Both tables get both columns, at the end, so job_queue keeps every column
-- of priority_jobs in the same order (version 2); a finished job keeps its
-- deaths and an empty claim_token.
ALTER TABLE job_queue ADD COLUMN claim_token text NOT NULL DEFAULT '';
ALTER TABLE job_queue ADD COLUMN deaths integer NOT NULL DEFAULT 0;
ALTER TABLE priority_jobs ADD COLUMN claim_token text NOT NULL DEFAULT '';
ALTER TABLE priority_jobs ADD COLUMN deaths integer NOT NULL DEFAULT 0;
