-- The pgbench baseline's queue: libevolve's own priority_jobs table (applied
-- before this file from sql/postgres/, by tests/bench/run.sh) filled with
-- :jobs PENDING rows shaped like bench_queue's no-op jobs, so the bare claim
-- walks the same table and indexes as evolve-worker's ClaimJobs.
INSERT INTO priority_jobs (id, batch_id, run_id, model_id, generation, priority, status, params, result,
                           error, worker_id, attempts, max_attempts, lease_until, created_at, updated_at)
SELECT format('bench-job-%s', lpad(i::text, 8, '0')), format('bench-batch-%s', i / 5000), 'bench-run',
       format('bench-model-%s', i / 5000), i / 5000, 0, 'PENDING',
       jsonb_build_object('model_id', format('bench-model-%s', i / 5000), 'ticker', 'BENCH',
                          'threshold', 0.0001 * (i % 3 + 1)),
       NULL, '', '', 0, 3, NULL, now(), now()
FROM generate_series(0, :jobs - 1) AS i;
-- Settled as the other two sides' queues are before their timed runs.
VACUUM ANALYZE priority_jobs;
CHECKPOINT;
