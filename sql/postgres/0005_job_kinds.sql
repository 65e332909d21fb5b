-- libevolve's PostgreSQL schema, version 5: training jobs on the queue
-- beside simulations (issue 19).
--
-- kind: what a job asks a worker to do: 'simulate' a model (params ->
-- result), 'train' one part of a model or 'assemble' a model from its parts
-- (task -> output). Every job queued before this version is a simulation. A
-- claim names the kinds its worker can run and takes them in the one claim
-- order of every kind: the kind is a residual filter of the walk of
-- job_queue_claim (priority DESC, created_at, id), not a key of it, and no
-- index covers it, so a claim's UPDATE stays HOT (version 2).
--
-- task: a training job's TrainingTask JSON, '' for a simulation.
-- output: what a completed training job produced (a part's output, or the
-- assembled model's id), '' otherwise. A training job has no result.
--
-- Both tables get the three columns, at the end and in the same order, so
-- job_queue keeps every column of priority_jobs in the same order (version
-- 2). Constant defaults: no table is rewritten.
ALTER TABLE job_queue ADD COLUMN kind text NOT NULL DEFAULT 'simulate'
  CHECK (kind IN ('simulate', 'train', 'assemble'));
ALTER TABLE job_queue ADD COLUMN task text NOT NULL DEFAULT '';
ALTER TABLE job_queue ADD COLUMN output text NOT NULL DEFAULT '';
ALTER TABLE priority_jobs ADD COLUMN kind text NOT NULL DEFAULT 'simulate'
  CHECK (kind IN ('simulate', 'train', 'assemble'));
ALTER TABLE priority_jobs ADD COLUMN task text NOT NULL DEFAULT '';
ALTER TABLE priority_jobs ADD COLUMN output text NOT NULL DEFAULT '';
