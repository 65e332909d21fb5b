// The embedded default Store, one SQLite file: OpenSqliteStore.
//
// Implements the whole Store contract (tests/store_contract.h runs the same
// cases on it as on the in-memory fake). The file is in WAL mode and every
// write is a BEGIN IMMEDIATE transaction, so several processes on one host
// may share it: a claim is atomic across processes, and a job is never
// handed to two workers.
//
// Opening a file creates it if needed and applies the pending migrations of
// sql/sqlite/ (compiled in), all in one transaction. A file written by a
// newer libevolve (a schema version this build does not know) is refused
// with kFailedPrecondition; a file that is not a SQLite database, is
// corrupt, or cannot be written gives a clear error naming the path.
//
// Queue listeners (Subscribe) hear only this process's events; workers in
// other processes find new work by polling (WorkerOptions::poll_interval).
//
// Run locks (RunLocks::TryLockRun) are open-file-description locks, one
// byte per run of "<database file>-runs.lock" beside the database: they
// exclude every other holder on the host (another store of this process
// included), and the kernel drops them when the holding process dies, even
// by kill -9. They do not reach other hosts, nor does the store (WAL needs
// one host's shared memory).
//
// Thread-safety: safe for concurrent use by many threads (calls are
// serialised on one connection).
#ifndef EVOLVE_SQLITE_SQLITE_STORE_H_
#define EVOLVE_SQLITE_SQLITE_STORE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "evolve/clock.h"
#include "evolve/status.h"
#include "evolve/store.h"

namespace evolve::sqlite {

// Artifacts are stored in chunks of at most this many bytes (rows of
// artifact_chunks), so that an artifact of any size fits; a put needs
// memory for the artifact plus one chunk, a get for the artifact alone.
// The same as PostgreSQL's: SQLite's speed hardly depends on it.
inline constexpr uint64_t kDefaultArtifactChunkBytes = uint64_t{8} << 20;  // 8 MiB
// The largest chunk size accepted (SQLite's blobs stop at 1e9 bytes).
inline constexpr uint64_t kMaxArtifactChunkBytes = uint64_t{256} << 20;

struct SqliteOptions {
  // Stamps times and judges leases; nullptr: RealClock(). Must outlive the
  // store.
  Clock* clock = nullptr;
  // How long a call waits for another process's write transaction before it
  // fails with kUnavailable.
  std::chrono::milliseconds busy_timeout{30000};
  // Apply pending migrations on open. When false, a file whose schema is
  // behind this build is refused with kFailedPrecondition naming
  // `evolve migrate`.
  bool migrate = true;
  // The chunk size of the artifacts this store writes, 1 to
  // kMaxArtifactChunkBytes (a test sets a small one to get many chunks from
  // little data). A read takes chunks of any size, so stores with different
  // settings share a file.
  uint64_t artifact_chunk_bytes = kDefaultArtifactChunkBytes;
};

// The schema version this build writes (the highest migration in sql/sqlite/).
int LatestSchemaVersion();

// Opens (creating if needed) the database file at `path` and brings its
// schema up to date: once open, the file's schema version is
// LatestSchemaVersion(). A database with no file (":memory:", "") is refused
// with kFailedPrecondition: the store needs WAL, so a file on a local
// filesystem. Errors: kFailedPrecondition for a newer schema or pending
// migrations with migrate=false; kUnavailable when the file cannot be
// opened or written (missing directory, permissions, locked past the busy
// timeout); kInternal when it is not a SQLite database or is corrupt;
// kInvalidArgument for an artifact_chunk_bytes out of range. Every message
// names `path`.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, const SqliteOptions& options = {});

}  // namespace evolve::sqlite

#endif  // EVOLVE_SQLITE_SQLITE_STORE_H_
