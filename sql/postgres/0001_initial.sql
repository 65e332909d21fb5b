-- libevolve's PostgreSQL schema, version 1. Applied by PostgresStore::Open
-- inside the transaction that records it in schema_migrations (created by
-- the store itself, under an advisory lock), so it must not BEGIN or COMMIT.
--
-- The same tables and columns as sql/sqlite/0001_initial.sql (the seed's
-- names), in PostgreSQL's types: times are timestamptz stamped by the
-- database's clock (now()), so that every host sharing the database agrees
-- on them and on leases; metrics are double precision, NULL when undefined;
-- "none" is '' for text. Immutable records (generations, lineage edges,
-- promotions, fingerprints) keep the whole struct as jsonb in `doc`/`spec`
-- beside copies of the fields that are queried; their timestamp column is
-- the authority (the doc's copy is overwritten on read). Mutable records
-- (runs, jobs, workers) are plain columns, with jsonb only for nested values.
--
-- hyperparameters / data_options: evolve/json.h writes JSON-object fields
-- canonically and jsonb reformats them, so these text columns keep them
-- exactly as the caller gave them, and a read returns that text.

CREATE TABLE evolution_runs (
  id text PRIMARY KEY,
  symbol text NOT NULL,
  status text NOT NULL
    CHECK (status IN ('PENDING', 'RUNNING', 'PROMOTED', 'COMPLETED', 'STOPPED', 'CANCELLED', 'FAILED')),
  config jsonb NOT NULL,  -- EvolutionConfig
  hyperparameters text NOT NULL,
  data_options text NOT NULL,
  current_generation integer NOT NULL,
  seed_model_id text NOT NULL,
  best_sqn double precision,
  best_model_id text NOT NULL,
  promoted boolean NOT NULL,
  promotion_id text NOT NULL,
  stop_reason text NOT NULL,
  error text NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
-- ListRuns: newest first, optionally of one status.
CREATE INDEX evolution_runs_created ON evolution_runs (created_at DESC, id DESC);
CREATE INDEX evolution_runs_status ON evolution_runs (status, created_at DESC, id DESC);

CREATE TABLE evolution_generations (
  run_id text NOT NULL REFERENCES evolution_runs (id),
  generation integer NOT NULL,
  state text NOT NULL CHECK (state IN ('MODEL_READY', 'SIMULATING', 'EVALUATED')),
  model_id text NOT NULL,
  batch_id text NOT NULL,
  best_sqn double precision,
  doc jsonb NOT NULL,  -- Generation
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (run_id, generation)
);

CREATE TABLE model_fingerprints (
  fingerprint text PRIMARY KEY,
  model_id text NOT NULL,
  symbol text NOT NULL,
  spec jsonb NOT NULL,  -- ModelSpec
  hyperparameters text NOT NULL,
  data_options text NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX model_fingerprints_model ON model_fingerprints (model_id);

-- The lineage DAG: one parent -> child edge per row (parent '' for a seed).
CREATE TABLE evolution_log (
  id text PRIMARY KEY,
  run_id text NOT NULL,
  parent_model_id text NOT NULL,
  child_model_id text NOT NULL,
  generation integer NOT NULL,
  parent_sqn double precision,
  doc jsonb NOT NULL,  -- LineageEdge
  created_at timestamptz NOT NULL
);
-- Ancestry: the oldest edge of a child. ListLineage: a run's edges in order.
CREATE INDEX evolution_log_child ON evolution_log (child_model_id, created_at, id);
CREATE INDEX evolution_log_run ON evolution_log (run_id, generation, created_at, id);

CREATE TABLE priority_jobs (
  id text PRIMARY KEY,
  batch_id text NOT NULL,
  run_id text NOT NULL,
  model_id text NOT NULL,
  generation integer NOT NULL,
  priority double precision NOT NULL,
  status text NOT NULL CHECK (status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')),
  params jsonb NOT NULL,  -- SimulationParams
  result jsonb,           -- SimulationResult, once COMPLETED
  error text NOT NULL,
  worker_id text NOT NULL,
  attempts integer NOT NULL,
  max_attempts integer NOT NULL,
  lease_until timestamptz,  -- set while RUNNING
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
-- Claims walk only PENDING jobs, in claim order, and the reaper only RUNNING
-- ones by lease end: finished jobs never slow either, however many pile up.
CREATE INDEX priority_jobs_claim ON priority_jobs (priority DESC, created_at, id) WHERE status = 'PENDING';
CREATE INDEX priority_jobs_lease ON priority_jobs (lease_until) WHERE status = 'RUNNING';
CREATE INDEX priority_jobs_batch ON priority_jobs (batch_id);
CREATE INDEX priority_jobs_run ON priority_jobs (run_id, status);

CREATE TABLE promoted_models (
  id text PRIMARY KEY,
  model_id text NOT NULL,
  run_id text NOT NULL,
  generation integer NOT NULL,
  sqn double precision NOT NULL,
  doc jsonb NOT NULL,             -- Promotion
  hyperparameters text NOT NULL,  -- of spec
  data_options text NOT NULL,     -- of spec
  created_at timestamptz NOT NULL
);
CREATE INDEX promoted_models_sqn ON promoted_models (sqn DESC, created_at, id);

CREATE TABLE workers (
  id text PRIMARY KEY,
  host text NOT NULL,
  pid bigint NOT NULL,
  status text NOT NULL,
  started_at timestamptz NOT NULL,
  last_heartbeat timestamptz NOT NULL,
  current_jobs jsonb NOT NULL,  -- array of job ids
  jobs_completed bigint NOT NULL,
  jobs_failed bigint NOT NULL
);

CREATE TABLE artifacts (
  key text PRIMARY KEY,
  bytes bytea NOT NULL,
  created_at timestamptz NOT NULL
);
