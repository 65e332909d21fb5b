-- libevolve's SQLite schema, version 4: artifacts in chunks (issue 19,
-- "Artifacts without size walls").
--
-- An artifact was one BLOB, which SQLite caps at SQLITE_MAX_LENGTH (1e9
-- bytes): a symbol's simulation inputs past ~38M bars could not be stored.
-- Now `artifacts` keeps one row per artifact, its total size and number of
-- chunks, and its bytes are the rows of artifact_chunks, seq 0, 1, ...,
-- each at most the writing store's chunk size
-- (SqliteOptions::artifact_chunk_bytes), so an artifact of any size fits.
-- An empty artifact has no chunk. A put writes the artifact's row and all
-- its chunks in one transaction, so a reader that sees the row sees every
-- chunk; a read checks their number and total size against the row.
--
-- artifact_chunks keeps its rowid (no WITHOUT ROWID: its rows are large),
-- which a read opens each chunk's blob by (sqlite3_blob_open) to copy it
-- straight into the artifact it is assembling.
--
-- The artifacts of version 3 move here, each as one chunk (seq 0) of its
-- whole size, below 1e9 bytes: a read assumes nothing of a chunk's size but
-- the order. (Splitting them would read each blob once per chunk.) The old
-- table is renamed away first, so that the new one takes its name and its
-- chunks' foreign key names the new one.
ALTER TABLE artifacts RENAME TO artifacts_v3;

CREATE TABLE artifacts (
  key TEXT PRIMARY KEY,
  size INTEGER NOT NULL CHECK (size >= 0),
  chunks INTEGER NOT NULL CHECK (chunks >= 0),
  created_at INTEGER NOT NULL
);

CREATE TABLE artifact_chunks (
  key TEXT NOT NULL REFERENCES artifacts (key),
  seq INTEGER NOT NULL CHECK (seq >= 0),
  bytes BLOB NOT NULL,
  PRIMARY KEY (key, seq)
);

INSERT INTO artifacts (key, size, chunks, created_at)
  SELECT key, length(bytes), length(bytes) > 0, created_at FROM artifacts_v3;
INSERT INTO artifact_chunks (key, seq, bytes)
  SELECT key, 0, bytes FROM artifacts_v3 WHERE length(bytes) > 0;
DROP TABLE artifacts_v3;
