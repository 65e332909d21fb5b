-- libevolve's SQLite schema, version 3: training jobs on the queue beside
-- simulations (issue 19).
--
-- kind: what a job asks a worker to do: 'simulate' a model (params ->
-- result), 'train' one part of a model or 'assemble' a model from its parts
-- (task -> output). Every job queued before this version is a simulation. A
-- claim names the kinds its worker can run and takes them in the one claim
-- order of every kind: the kind is a residual filter of the walk of the
-- claim index (priority DESC, created_at, id), not a key of it.
--
-- task: a training job's TrainingTask JSON, '' for a simulation.
-- output: what a completed training job produced (a part's output, or the
-- assembled model's id), '' otherwise. A training job has no result.
ALTER TABLE priority_jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'simulate'
  CHECK (kind IN ('simulate', 'train', 'assemble'));
ALTER TABLE priority_jobs ADD COLUMN task TEXT NOT NULL DEFAULT '';
ALTER TABLE priority_jobs ADD COLUMN output TEXT NOT NULL DEFAULT '';
