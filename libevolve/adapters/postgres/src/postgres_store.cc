// PostgresStore: opening (OpenPostgresStore), and the methods that are not
// tables: clock(), the run locks and the queue's listeners.
#include "evolve/postgres/postgres_store.h"

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "postgres_backend.h"
#include "postgres_schema.h"

namespace evolve::postgres {

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url, const PostgresOptions& options) {
  EVOLVE_RETURN_IF_ERROR(CheckMigrationNumbers());
  const Endpoint endpoint = Endpoint::Of(url, options.connect_timeout);
  if (options.pool_size < 1) {
    return InvalidArgumentError("postgres " + endpoint.url + ": pool_size must be >= 1, got " +
                                std::to_string(options.pool_size));
  }
  if (options.connect_timeout < std::chrono::seconds(1)) {
    return InvalidArgumentError("postgres " + endpoint.url + ": connect_timeout must be at least 1 s");
  }
  if (options.artifact_chunk_bytes < 1 || options.artifact_chunk_bytes > kMaxArtifactChunkBytes) {
    return InvalidArgumentError("postgres " + endpoint.url + ": artifact_chunk_bytes must be 1 to " +
                                std::to_string(kMaxArtifactChunkBytes) + ", got " +
                                std::to_string(options.artifact_chunk_bytes));
  }
  {
    // On a connection of its own, made before the tables exist, so without
    // the queue's prepared statements.
    ConnectionPool migrating(endpoint, 1);
    EVOLVE_RETURN_IF_ERROR(Migrate(migrating, options.migrate));
  }
  return std::unique_ptr<Store>(new PostgresStore(endpoint, options));
}

PostgresStore::PostgresStore(Endpoint endpoint, const PostgresOptions& options)
    : pool_(endpoint, options.pool_size),
      artifacts_(endpoint, options.pool_size),
      artifact_chunk_bytes_(options.artifact_chunk_bytes),
      rows_(endpoint.url),
      notifier_(endpoint, options.connect_timeout, listeners_),
      run_locks_(RunLockSession::Create(endpoint)) {
  pool_.PrepareOnConnect(QueueStatements());
}

PostgresStore::~PostgresStore() = default;

Clock& PostgresStore::clock() { return *RealClock(); }

Result<std::unique_ptr<RunLock>> PostgresStore::TryLockRun(const std::string& run_id) {
  return run_locks_->TryLock(run_id);
}

int64_t PostgresStore::Subscribe(std::function<void(const QueueEvent&)> listener) {
  const int64_t handle = listeners_.Subscribe(std::move(listener));
  notifier_.Listen();
  return handle;
}

void PostgresStore::Unsubscribe(int64_t handle) { listeners_.Unsubscribe(handle); }

}  // namespace evolve::postgres
