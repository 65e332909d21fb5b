// The Store on a PostgreSQL server, for many hosts sharing one queue:
// OpenPostgresStore.
//
// Implements the whole Store contract (tests/store_contract.h runs the same
// cases on it as on the in-memory fake and the SQLite store). Every call is
// one transaction on a pooled connection, so calls of many threads run side
// by side; claims use FOR UPDATE SKIP LOCKED, so any number of workers on
// any number of hosts drain one queue and a job is never handed to two of
// them.
//
// Time is the database's: created_at, updated_at, leases and the reaper's
// "now" are the server's now(), so hosts whose clocks differ still agree on
// when a lease ends. clock() is RealClock(), for callers that measure
// durations.
//
// Opening applies the pending migrations of sql/postgres/ (compiled in) in
// one transaction under an advisory lock, so processes starting together are
// safe. A database written by a newer libevolve is refused with
// kFailedPrecondition. Once open, the database's schema version is
// LatestSchemaVersion().
//
// Queue listeners (Subscribe) hear this process's events at once, and other
// processes' through LISTEN/NOTIFY on a connection of their own: a worker
// elsewhere wakes as soon as work is queued. After that connection was lost
// and came back, every listener is sent a kJobsAvailable wake-up (events may
// have been missed meanwhile).
//
// Run locks (RunLocks::TryLockRun) are session advisory locks of the
// database, every run a store locks on one connection of its own (the lock
// session; one connection however many runs are held), on the key of the
// first 64 bits of SHA-256("evolve/run/" + run id). The server releases
// them when the holder's process dies. When the lock session's connection
// breaks, the server has released them all: each lock object held is then
// stale, and another process may take its run. The store logs an ERROR
// naming the runs, reconnects at once (and at the latest on the next
// TryLockRun) and takes the locks back; a run another process took
// meanwhile stays with that process, is logged as an ERROR, and its lock
// object is void from then on.
//
// Artifacts (PutArtifact, GetArtifact) travel on connections of their own,
// through libpq itself: their bytes go and come back in binary format, which
// libpqxx 6.4 cannot ask for results. Up to pool_size of them are kept idle,
// except those that carried a large artifact (their buffers grew to a
// chunk).
//
// Errors: a lost connection is kUnavailable ("postgres <url>: connection
// lost: ..."), and the next call reconnects. Messages name the URL with any
// password elided.
//
// Thread-safety: the store is safe for concurrent use by many threads.
#ifndef EVOLVE_POSTGRES_POSTGRES_STORE_H_
#define EVOLVE_POSTGRES_POSTGRES_STORE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "evolve/status.h"
#include "evolve/store.h"

namespace evolve::postgres {

// Artifacts are stored in chunks of at most this many bytes (rows of
// artifact_chunks, sent and read as binary bytea), so that an artifact of
// any size fits; a put or a get needs memory for the artifact plus about
// two chunks (libpq's buffer and the row). Not larger: on PostgreSQL 15 a
// chunk of 16 MiB or more cost the server three times the CPU per byte of
// one of 8 MiB (docs/architecture.md, "PostgreSQL store").
inline constexpr uint64_t kDefaultArtifactChunkBytes = uint64_t{8} << 20;  // 8 MiB
// The largest chunk size accepted (PostgreSQL's values stop at 1 GB).
inline constexpr uint64_t kMaxArtifactChunkBytes = uint64_t{256} << 20;

struct PostgresOptions {
  // Apply pending migrations on open. When false, a database whose schema
  // is behind this build is refused with kFailedPrecondition naming
  // `evolve migrate`.
  bool migrate = true;
  // How long opening a connection may take before the call fails with
  // kUnavailable (libpq's connect_timeout; whole seconds, at least 1).
  std::chrono::seconds connect_timeout{10};
  // Idle connections kept for reuse. A call borrows one (opening a new one
  // when none is idle), so this is not a cap on concurrent calls.
  int pool_size = 4;
  // The chunk size of the artifacts this store writes, 1 to
  // kMaxArtifactChunkBytes (a test sets a small one to get many chunks from
  // little data). A read takes chunks of any size, so stores with different
  // settings share a database.
  uint64_t artifact_chunk_bytes = kDefaultArtifactChunkBytes;
};

// The schema version this build writes (the highest migration in
// sql/postgres/).
int LatestSchemaVersion();

// Connects to `url` (a libpq URL or key=value string, e.g.
// "postgresql://user@host:5432/db") and brings its schema up to date.
// Errors: kUnavailable when the server cannot be reached;
// kFailedPrecondition for a newer schema, or pending migrations with
// migrate=false; kInvalidArgument for bad options. Every message names the
// URL (password elided).
Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url, const PostgresOptions& options = {});

}  // namespace evolve::postgres

#endif  // EVOLVE_POSTGRES_POSTGRES_STORE_H_
