-- The bare claim, one pgbench transaction: :claim PENDING jobs in claim order
-- (priority DESC, created_at, id) become RUNNING with a lease, skipping rows
-- other clients hold, as a queue claim must. Nothing else: no completion, no
-- heartbeat, no client-side work; the floor of what a claim costs.
UPDATE priority_jobs
SET status = 'RUNNING', worker_id = 'pgbench', attempts = attempts + 1,
    lease_until = now() + interval '60 seconds', updated_at = now()
WHERE id IN (SELECT id FROM priority_jobs WHERE status = 'PENDING'
             ORDER BY priority DESC, created_at, id LIMIT :claim FOR UPDATE SKIP LOCKED);
