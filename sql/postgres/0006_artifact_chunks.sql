-- libevolve's PostgreSQL schema, version 6: artifacts in chunks, sent in
-- binary (issue 19, "Artifacts without size walls").
--
-- An artifact was one bytea value, which PostgreSQL caps at 1 GB, and the
-- store sent and read it hex-encoded (twice the bytes, a message the server
-- refuses past 1 GB): a symbol's simulation inputs past ~20M bars could not
-- be stored. Now `artifacts` keeps one row per artifact, its total size and
-- number of chunks, and its bytes are the rows of artifact_chunks, seq 0,
-- 1, ..., each at most the writing store's chunk size
-- (PostgresOptions::artifact_chunk_bytes), written and read as binary
-- parameters and results, so an artifact of any size fits. An empty
-- artifact has no chunk. A put writes the artifact's row and all its chunks
-- in one transaction, so a reader that sees the row sees every chunk; a
-- read (one statement: one snapshot) checks their number and total size
-- against the row.
--
-- bytes is STORAGE EXTERNAL: out of line and never compressed, as on
-- SQLite. pglz would spend server CPU on every chunk written and read, for
-- bytes most artifacts (trained models, doubles) do not shrink much.
--
-- The artifacts of version 5 move here, each as one chunk (seq 0) of its
-- whole size, below 1 GB: a read assumes nothing of a chunk's size but the
-- order. The old table is renamed away first (and its primary key's index,
-- whose name the new table takes), then dropped, which frees its storage at
-- once.
ALTER TABLE artifacts RENAME TO artifacts_v5;
ALTER INDEX artifacts_pkey RENAME TO artifacts_v5_pkey;

CREATE TABLE artifacts (
  key text PRIMARY KEY,
  size bigint NOT NULL CHECK (size >= 0),
  chunks integer NOT NULL CHECK (chunks >= 0),
  created_at timestamptz NOT NULL
);

CREATE TABLE artifact_chunks (
  key text NOT NULL REFERENCES artifacts (key),
  seq integer NOT NULL CHECK (seq >= 0),
  bytes bytea NOT NULL,
  PRIMARY KEY (key, seq)
);
ALTER TABLE artifact_chunks ALTER COLUMN bytes SET STORAGE EXTERNAL;

INSERT INTO artifacts (key, size, chunks, created_at)
  SELECT key, length(bytes), CASE WHEN length(bytes) > 0 THEN 1 ELSE 0 END, created_at FROM artifacts_v5;
INSERT INTO artifact_chunks (key, seq, bytes)
  SELECT key, 0, bytes FROM artifacts_v5 WHERE length(bytes) > 0;
DROP TABLE artifacts_v5;
