-- libevolve's SQLite schema, version 1. Applied by SqliteStore::Open inside
-- the transaction that records it in schema_migrations (created by the
-- store itself), so it must not BEGIN or COMMIT.
--
-- Conventions: times are INTEGER microseconds since the Unix epoch (UTC);
-- "none" is '' for text, NULL for metrics that can be undefined. The table
-- names are the seed's, shared with the PostgreSQL schema. Immutable records
-- (generations are replaced whole, edges, promotions, fingerprints) keep the
-- whole struct as JSON in `doc`, with copies of the fields that are queried;
-- mutable ones (runs, jobs, workers) are plain columns, with JSON only for
-- nested values.
--
-- hyperparameters / data_options: evolve/json.h writes JSON-object fields
-- canonically (keys sorted, compact), so config/spec/doc hold them
-- canonicalised; these columns keep them exactly as the caller gave them,
-- and a read returns that text.

CREATE TABLE evolution_runs (
  id TEXT PRIMARY KEY,
  symbol TEXT NOT NULL,
  status TEXT NOT NULL
    CHECK (status IN ('PENDING', 'RUNNING', 'PROMOTED', 'COMPLETED', 'STOPPED', 'CANCELLED', 'FAILED')),
  config TEXT NOT NULL,  -- EvolutionConfig JSON
  hyperparameters TEXT NOT NULL,
  data_options TEXT NOT NULL,
  current_generation INTEGER NOT NULL,
  seed_model_id TEXT NOT NULL,
  best_sqn REAL,
  best_model_id TEXT NOT NULL,
  promoted INTEGER NOT NULL CHECK (promoted IN (0, 1)),
  promotion_id TEXT NOT NULL,
  stop_reason TEXT NOT NULL,
  error TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
-- ListRuns: newest first, optionally of one status.
CREATE INDEX evolution_runs_created ON evolution_runs (created_at DESC, id DESC);
CREATE INDEX evolution_runs_status ON evolution_runs (status, created_at DESC, id DESC);

CREATE TABLE evolution_generations (
  run_id TEXT NOT NULL REFERENCES evolution_runs (id),
  generation INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('MODEL_READY', 'SIMULATING', 'EVALUATED')),
  model_id TEXT NOT NULL,
  batch_id TEXT NOT NULL,
  best_sqn REAL,
  doc TEXT NOT NULL,  -- Generation JSON
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (run_id, generation)
);

CREATE TABLE model_fingerprints (
  fingerprint TEXT PRIMARY KEY,
  model_id TEXT NOT NULL,
  symbol TEXT NOT NULL,
  spec TEXT NOT NULL,  -- ModelSpec JSON
  hyperparameters TEXT NOT NULL,
  data_options TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX model_fingerprints_model ON model_fingerprints (model_id);

-- The lineage DAG: one parent -> child edge per row (parent '' for a seed).
CREATE TABLE evolution_log (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL,
  parent_model_id TEXT NOT NULL,
  child_model_id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  parent_sqn REAL,
  doc TEXT NOT NULL,  -- LineageEdge JSON
  created_at INTEGER NOT NULL
);
-- Ancestry: the oldest edge of a child. ListLineage: a run's edges in order.
CREATE INDEX evolution_log_child ON evolution_log (child_model_id, created_at, id);
CREATE INDEX evolution_log_run ON evolution_log (run_id, generation, created_at, id);

CREATE TABLE priority_jobs (
  id TEXT PRIMARY KEY,
  batch_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  model_id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  priority REAL NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')),
  params TEXT NOT NULL,  -- SimulationParams JSON
  result TEXT,           -- SimulationResult JSON, once COMPLETED
  error TEXT NOT NULL,
  worker_id TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  lease_until INTEGER,  -- set while RUNNING
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
-- Claims walk only PENDING jobs, in claim order, and the reaper only RUNNING
-- ones by lease end: finished jobs never slow either, however many pile up.
CREATE INDEX priority_jobs_claim ON priority_jobs (priority DESC, created_at, id) WHERE status = 'PENDING';
CREATE INDEX priority_jobs_lease ON priority_jobs (lease_until) WHERE status = 'RUNNING';
CREATE INDEX priority_jobs_batch ON priority_jobs (batch_id);
CREATE INDEX priority_jobs_run ON priority_jobs (run_id, status);

CREATE TABLE promoted_models (
  id TEXT PRIMARY KEY,
  model_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  sqn REAL NOT NULL,
  doc TEXT NOT NULL,  -- Promotion JSON
  hyperparameters TEXT NOT NULL,  -- of spec
  data_options TEXT NOT NULL,     -- of spec
  created_at INTEGER NOT NULL
);
CREATE INDEX promoted_models_sqn ON promoted_models (sqn DESC, created_at, id);

CREATE TABLE workers (
  id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  status TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  last_heartbeat INTEGER NOT NULL,
  current_jobs TEXT NOT NULL,  -- JSON array of job ids
  jobs_completed INTEGER NOT NULL,
  jobs_failed INTEGER NOT NULL
);

CREATE TABLE artifacts (
  key TEXT PRIMARY KEY,
  bytes BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
