// SqliteStore: the Store contract on one SQLite file.
//
// One connection per store, guarded by one mutex: calls of one process are
// serialised, and SQLite's file locks (WAL mode, busy timeout) order them
// against other processes. Every write is one BEGIN IMMEDIATE transaction,
// rolled back on any error, so a failing call changes nothing; reads are
// single statements, each consistent on its own.
//
// Durability: synchronous=NORMAL in WAL mode survives kill -9 of any process
// sharing the file; an OS crash or power loss may lose the last commits but
// never corrupts the database.
//
// Listeners are called after COMMIT with the mutex released (QueueListeners),
// so they may call back into the store.
#include "evolve/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "evolve/json.h"
#include "evolve/store_backend.h"
#include "evolve/store_support.h"
#include "sqlite_connection.h"
#include "sqlite_migrations.h"
#include "sqlite_run_locks.h"

namespace evolve::sqlite {

// The Store that OpenSqliteStore returns. Impl holds the connection and the
// helpers the methods share.
class SqliteStore final : public Store {
 public:
  struct Impl;
  explicit SqliteStore(std::unique_ptr<Impl> impl);
  ~SqliteStore() override;

  EVOLVE_STORE_OVERRIDES

 private:
  std::unique_ptr<Impl> impl_;
};

namespace {

// Deeper than any real lineage (one edge per generation); reaching it means
// corrupt data, and stops the recursive query.
constexpr int kMaxAncestryDepth = 10000;

// Column lists, in the order the readers below expect them.
constexpr char kRunColumns[] =
    "id, status, config, hyperparameters, data_options, current_generation, seed_model_id, best_sqn, "
    "best_model_id, promoted, promotion_id, stop_reason, error, created_at, updated_at";
constexpr char kJobColumns[] =
    "id, batch_id, run_id, model_id, generation, priority, status, params, result, error, worker_id, "
    "attempts, max_attempts, lease_until, created_at, updated_at, deaths, claim_token, kind, task, output";
constexpr char kFingerprintColumns[] =
    "fingerprint, model_id, spec, hyperparameters, data_options, created_at";
constexpr char kPromotionColumns[] = "id, doc, hyperparameters, data_options";
constexpr char kWorkerColumns[] =
    "id, host, pid, status, started_at, last_heartbeat, current_jobs, jobs_completed, jobs_failed";

std::string Sql(std::initializer_list<std::string_view> parts) {
  std::string sql;
  for (std::string_view part : parts) sql += part;
  return sql;
}

// kInternal for a stored value this build cannot read: the file was written
// by something else, or edited by hand.
Status Corrupt(const std::string& path, const std::string& table, const std::string& key,
               const std::string& problem) {
  return InternalError(path + ": " + table + " " + key + ": " + problem);
}

// Whether `json` reads back, so that a record is never stored in a form
// that every later read would reject (an invalid config, an object field
// that is not a JSON object).
template <typename T, typename Parse>
Status CheckReadable(const std::string& json, Parse parse, const std::string& what) {
  Result<T> back = parse(json);
  if (!back.ok()) return InvalidArgumentError(what + ": " + back.status().message());
  return Status::Ok();
}

// Switches the file to WAL (persistent: a no-op once any connection did it)
// and returns the journal mode now in force. The switch needs an exclusive
// lock, and SQLite answers SQLITE_BUSY at once instead of calling the busy
// handler when other connections hold shared locks (waiting could deadlock),
// which is what processes opening a new file together do. So retry here, in
// real time, up to the busy timeout.
Result<std::string> EnableWal(Connection& db, std::chrono::milliseconds busy_timeout) {
  const auto deadline = std::chrono::steady_clock::now() + busy_timeout;
  for (int attempt = 0;; ++attempt) {
    EVOLVE_ASSIGN_OR_RETURN(Statement wal, db.Prepare("PRAGMA journal_mode=WAL"));
    Result<bool> row = wal.Step();
    if (row.ok()) return *row ? wal.Text(0) : std::string();
    if ((wal.last_error() & 0xff) != SQLITE_BUSY || std::chrono::steady_clock::now() >= deadline) {
      return row.status();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1 << std::min(attempt, 6), 50)));
  }
}

// LIMIT -1 is SQLite's "no limit"; the contract's is 0.
int64_t SqlLimit(int limit) { return limit == 0 ? -1 : limit; }

}  // namespace

struct SqliteStore::Impl {
  std::string path;
  Clock* clock = nullptr;
  uint64_t artifact_chunk_bytes = kDefaultArtifactChunkBytes;
  std::mutex mu;
  std::unique_ptr<Connection> db;  // guarded by mu
  QueueListeners listeners;
  // The run locks: OFD locks in this file beside the database. A database
  // without a file (which Open refuses today) would have no other process
  // to exclude: its locks would be this process's alone.
  std::string run_lock_file;
  InProcessRunLocks in_process_run_locks;

  // Now, at the microsecond precision of the stored times, so that what a
  // call returns equals what a later read returns.
  TimePoint Now() const { return FromUnixMicros(ToUnixMicros(clock->Now())); }

  // Runs `body` in a BEGIN IMMEDIATE transaction with the mutex held and
  // commits when it returns OK; otherwise everything it did is rolled back.
  template <typename F>
  auto Write(F&& body) -> decltype(body()) {
    std::lock_guard<std::mutex> lock(mu);
    Transaction transaction(*db);
    EVOLVE_RETURN_IF_ERROR(transaction.Begin());
    auto result = body();
    if (!result.ok()) return result;
    EVOLVE_RETURN_IF_ERROR(transaction.Commit());
    return result;
  }

  // Runs `body` (single-statement reads) with the mutex held.
  template <typename F>
  auto Read(F&& body) -> decltype(body()) {
    std::lock_guard<std::mutex> lock(mu);
    return body();
  }

  Status Migrate(bool migrate);

  // The write of an immutable record (a lineage edge, a promotion): stamps
  // its created_at, refuses it when its JSON would not read back (`parse`;
  // `what` names it), and runs `sql`, an INSERT ... ON CONFLICT (id) DO
  // NOTHING, bound by `bind(insert, stamped record, its JSON)`.
  template <typename T, typename Parse, typename Bind>
  Status InsertRecord(T record, Parse parse, const std::string& what, const char* sql, Bind bind) {
    record.created_at = Now();
    const std::string doc = ToJson(record);
    EVOLVE_RETURN_IF_ERROR(CheckReadable<T>(doc, parse, what));
    return Write([&]() -> Status {
      EVOLVE_ASSIGN_OR_RETURN(Statement insert, db->Prepare(sql));
      bind(insert, record, doc);
      return insert.Run();
    });
  }

  // Readers of one row of the column lists above.
  Result<Run> ReadRun(const Statement& row) const;
  Result<Job> ReadJob(const Statement& row) const;
  Result<FingerprintRecord> ReadFingerprint(const Statement& row) const;
  Result<Promotion> ReadPromotion(const Statement& row) const;
  Result<WorkerInfo> ReadWorker(const Statement& row) const;
  template <typename T, typename Parse>
  Result<T> ReadDoc(const Statement& row, int column, Parse parse, const std::string& table,
                    const std::string& key) const;

  // The fencing read of heartbeat/complete/fail/release. REQUIRES: mu held,
  // in a transaction.
  struct Held {
    std::string run_id;
    std::string batch_id;
    int attempts = 0;
    int max_attempts = 0;
    bool simulation = true;  // else a training job: an output, no result
  };
  Result<Held> Fence(const std::string& job_id, const ClaimHolder& holder);

  // The writes of CompleteJob / FailJob, fenced. REQUIRES: mu held, in a
  // transaction. A fencing refusal (kAborted, kNotFound) writes nothing.
  // A simulation keeps `result`, a training job `output`.
  Status CompleteLocked(const std::string& job_id, const ClaimHolder& holder, const SimulationResult& result,
                        const std::string& output, TimePoint now, std::vector<QueueEvent>* events);
  Status FailLocked(const std::string& job_id, const ClaimHolder& holder, const std::string& error,
                    bool retryable, TimePoint now, std::vector<QueueEvent>* events);
};

// ---------------------------------------------------------------- open

int LatestSchemaVersion() { return Migrations().empty() ? 0 : Migrations().back().version; }

Status SqliteStore::Impl::Migrate(bool migrate) {
  return Write([&]() -> Status {
    EVOLVE_RETURN_IF_ERROR(db->Exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "applied_at INTEGER NOT NULL)"));
    int current = 0;
    {
      EVOLVE_ASSIGN_OR_RETURN(Statement max,
                              db->Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
      EVOLVE_ASSIGN_OR_RETURN(bool row, max.Step());
      if (row) current = max.Int(0);
    }
    const int latest = LatestSchemaVersion();
    if (current > latest) {
      return FailedPreconditionError(path + ": schema version " + std::to_string(current) +
                                     " is newer than this build's " + std::to_string(latest) +
                                     "; use a newer libevolve");
    }
    if (current < latest && !migrate) {
      return FailedPreconditionError(path + ": schema version " + std::to_string(current) +
                                     " is behind this build's " + std::to_string(latest) +
                                     "; run `evolve migrate` to upgrade it");
    }
    for (const Migration& migration : Migrations()) {
      if (migration.version <= current) continue;
      Status applied = db->Exec(migration.sql);
      if (!applied.ok()) return applied.WithContext(std::string("migration ") + migration.name);
      EVOLVE_ASSIGN_OR_RETURN(
          Statement record,
          db->Prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)"));
      record.BindAll(migration.version, migration.name, Now());
      EVOLVE_RETURN_IF_ERROR(record.Run());
    }
    return Status::Ok();
  });
}

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, const SqliteOptions& options) {
  const std::vector<Migration>& migrations = Migrations();
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return InternalError(std::string("sql/sqlite: migration ") + migrations[i].name + " should be number " +
                           std::to_string(i + 1) + ": versions must run 1, 2, ... without gaps");
    }
  }
  if (options.artifact_chunk_bytes < 1 || options.artifact_chunk_bytes > kMaxArtifactChunkBytes) {
    return InvalidArgumentError(path + ": artifact_chunk_bytes must be 1 to " +
                                std::to_string(kMaxArtifactChunkBytes) + ", got " +
                                std::to_string(options.artifact_chunk_bytes));
  }
  auto impl = std::make_unique<SqliteStore::Impl>();
  impl->path = path;
  impl->clock = options.clock != nullptr ? options.clock : RealClock();
  impl->artifact_chunk_bytes = options.artifact_chunk_bytes;
  EVOLVE_ASSIGN_OR_RETURN(impl->db, Connection::Open(path, options.busy_timeout));
  Connection& db = *impl->db;

  // The first statement reads the file: this is where a file that is not a
  // database is found out.
  EVOLVE_ASSIGN_OR_RETURN(const std::string mode, EnableWal(db, options.busy_timeout));
  if (mode != "wal") {
    return FailedPreconditionError(path + ": cannot use WAL journal mode (got '" + mode +
                                   "'); the store needs a file on a local filesystem");
  }
  EVOLVE_RETURN_IF_ERROR(db.Exec("PRAGMA synchronous=NORMAL"));
  // A large artifact's put grows the WAL to its size; once checkpointed,
  // the file is cut back to this instead of staying that large on disk.
  EVOLVE_RETURN_IF_ERROR(db.Exec("PRAGMA journal_size_limit=67108864"));
  EVOLVE_RETURN_IF_ERROR(db.Exec("PRAGMA foreign_keys=ON"));
  EVOLVE_RETURN_IF_ERROR(impl->Migrate(options.migrate));
  if (!db.FileName().empty()) impl->run_lock_file = RunLockFilePath(db.FileName());
  return std::unique_ptr<Store>(new SqliteStore(std::move(impl)));
}

SqliteStore::SqliteStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SqliteStore::~SqliteStore() = default;

Clock& SqliteStore::clock() { return *impl_->clock; }

Result<std::unique_ptr<RunLock>> SqliteStore::TryLockRun(const std::string& run_id) {
  if (impl_->run_lock_file.empty()) return impl_->in_process_run_locks.TryLock(run_id);
  return TryLockRunInFile(impl_->run_lock_file, run_id);
}

// ---------------------------------------------------------------- readers

template <typename T, typename Parse>
Result<T> SqliteStore::Impl::ReadDoc(const Statement& row, int column, Parse parse, const std::string& table,
                                     const std::string& key) const {
  Result<T> value = parse(row.Text(column));
  if (!value.ok()) return Corrupt(path, table, key, "unreadable JSON: " + value.status().message());
  return value;
}

Result<Run> SqliteStore::Impl::ReadRun(const Statement& row) const {
  Run run;
  run.id = row.Text(0);
  if (!ParseRunStatus(row.Text(1), &run.status)) {
    return Corrupt(path, "evolution_runs", run.id, "unknown status '" + row.Text(1) + "'");
  }
  EVOLVE_ASSIGN_OR_RETURN(
      run.config,
      ReadDoc<EvolutionConfig>(
          row, 2, [](std::string_view j) { return EvolutionConfigFromJson(j); }, "evolution_runs", run.id));
  row.ReadAll(3, run.config.hyperparameters, run.config.data_options, run.current_generation,
              run.seed_model_id, run.best_sqn, run.best_model_id, run.promoted, run.promotion_id,
              run.stop_reason, run.error, run.created_at, run.updated_at);
  return run;
}

Result<Job> SqliteStore::Impl::ReadJob(const Statement& row) const {
  Job job;
  row.ReadAll(0, job.id, job.batch_id, job.run_id, job.model_id, job.generation, job.priority);
  if (!ParseJobStatus(row.Text(6), &job.status)) {
    return Corrupt(path, "priority_jobs", job.id, "unknown status '" + row.Text(6) + "'");
  }
  EVOLVE_ASSIGN_OR_RETURN(
      job.params,
      ReadDoc<SimulationParams>(
          row, 7, [](std::string_view j) { return SimulationParamsFromJson(j); }, "priority_jobs", job.id));
  if (!row.IsNull(8)) {
    EVOLVE_ASSIGN_OR_RETURN(
        job.result,
        ReadDoc<SimulationResult>(
            row, 8, [](std::string_view j) { return SimulationResultFromJson(j); }, "priority_jobs", job.id));
  }
  row.ReadAll(9, job.error, job.worker_id, job.attempts, job.max_attempts, job.lease_until, job.created_at,
              job.updated_at, job.deaths, job.claim_token);
  if (!ParseJobKind(row.Text(18), &job.kind)) {
    return Corrupt(path, "priority_jobs", job.id, "unknown kind '" + row.Text(18) + "'");
  }
  row.ReadAll(19, job.task, job.output);
  return job;
}

Result<FingerprintRecord> SqliteStore::Impl::ReadFingerprint(const Statement& row) const {
  FingerprintRecord record;
  record.fingerprint = row.Text(0);
  record.model_id = row.Text(1);
  EVOLVE_ASSIGN_OR_RETURN(record.spec, ReadDoc<ModelSpec>(
                                           row, 2, [](std::string_view j) { return ModelSpecFromJson(j); },
                                           "model_fingerprints", record.fingerprint));
  record.spec.hyperparameters = row.Text(3);
  record.spec.data_options = row.Text(4);
  record.created_at = row.Time(5);
  return record;
}

Result<Promotion> SqliteStore::Impl::ReadPromotion(const Statement& row) const {
  EVOLVE_ASSIGN_OR_RETURN(
      Promotion promotion,
      ReadDoc<Promotion>(
          row, 1, [](std::string_view j) { return PromotionFromJson(j); }, "promoted_models", row.Text(0)));
  promotion.spec.hyperparameters = row.Text(2);
  promotion.spec.data_options = row.Text(3);
  return promotion;
}

Result<WorkerInfo> SqliteStore::Impl::ReadWorker(const Statement& row) const {
  WorkerInfo worker;
  row.ReadAll(0, worker.id, worker.host, worker.pid, worker.status, worker.started_at, worker.last_heartbeat);
  EVOLVE_ASSIGN_OR_RETURN(
      worker.current_jobs,
      ReadDoc<std::vector<std::string>>(
          row, 6, [](std::string_view j) { return StringListFromJson(j); }, "workers", worker.id));
  row.ReadAll(7, worker.jobs_completed, worker.jobs_failed);
  return worker;
}

// ---------------------------------------------------------------- RunStore

Status SqliteStore::CreateRun(const Run& run) {
  if (run.id.empty()) return InvalidArgumentError("run id: must not be empty");
  const std::string config = ToJson(run.config);
  EVOLVE_RETURN_IF_ERROR(CheckReadable<EvolutionConfig>(
      config, [](std::string_view j) { return EvolutionConfigFromJson(j); }, "run " + run.id + ": config"));
  const TimePoint now = impl_->Now();
  return impl_->Write([&]() -> Status {
    static const std::string sql =
        Sql({"INSERT INTO evolution_runs (", kRunColumns,
             ", symbol) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"});
    EVOLVE_ASSIGN_OR_RETURN(Statement insert, impl_->db->Prepare(sql));
    insert.BindAll(run.id, RunStatusName(run.status), config, run.config.hyperparameters,
                   run.config.data_options, run.current_generation, run.seed_model_id, run.best_sqn,
                   run.best_model_id, run.promoted ? 1 : 0, run.promotion_id, run.stop_reason, run.error, now,
                   now, run.config.symbol);
    Status inserted = insert.Run();
    if (insert.last_error() == SQLITE_CONSTRAINT_PRIMARYKEY)
      return AlreadyExistsError("run " + run.id + " exists");
    return inserted;
  });
}

Result<Run> SqliteStore::GetRun(const std::string& run_id) {
  return impl_->Read([&]() -> Result<Run> {
    static const std::string sql = Sql({"SELECT ", kRunColumns, " FROM evolution_runs WHERE id = ?1"});
    EVOLVE_ASSIGN_OR_RETURN(Statement select, impl_->db->Prepare(sql));
    select.Bind(1, run_id);
    EVOLVE_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) return NotFoundError("run " + run_id + " not found");
    return impl_->ReadRun(select);
  });
}

Result<RunCounts> SqliteStore::CountRuns() {
  return impl_->Read([&]() -> Result<RunCounts> {
    EVOLVE_ASSIGN_OR_RETURN(
        Statement select, impl_->db->Prepare("SELECT status, count(*) FROM evolution_runs GROUP BY status"));
    RunCounts counts;
    while (true) {
      EVOLVE_ASSIGN_OR_RETURN(bool row, select.Step());
      if (!row) return counts;
      RunStatus status;
      const std::string name = select.Text(0);
      if (!ParseRunStatus(name, &status))
        return InternalError("evolution_runs: unknown status '" + name + "'");
      counts.by_status[status] = select.Int64(1);
    }
  });
}

Result<std::vector<Run>> SqliteStore::ListRuns(const RunFilter& filter) {
  EVOLVE_RETURN_IF_ERROR(CheckPage(filter.limit, filter.offset));
  return impl_->Read([&]() -> Result<std::vector<Run>> {
    // Newest first; the larger id first among equal times, so pages are stable.
    static const std::string all =
        Sql({"SELECT ", kRunColumns,
             " FROM evolution_runs ORDER BY created_at DESC, id DESC LIMIT ?1 OFFSET ?2"});
    static const std::string of_status = Sql({"SELECT ", kRunColumns,
                                              " FROM evolution_runs WHERE status = ?3 "
                                              "ORDER BY created_at DESC, id DESC LIMIT ?1 OFFSET ?2"});
    EVOLVE_ASSIGN_OR_RETURN(Statement select,
                            impl_->db->Prepare(filter.status.has_value() ? of_status : all));
    select.Bind(1, SqlLimit(filter.limit));
    select.Bind(2, filter.offset);
    if (filter.status.has_value()) select.Bind(3, RunStatusName(*filter.status));
    std::vector<Run> runs;
    while (true) {
      EVOLVE_ASSIGN_OR_RETURN(bool row, select.Step());
      if (!row) return runs;
      EVOLVE_ASSIGN_OR_RETURN(Run run, impl_->ReadRun(select));
      runs.push_back(std::move(run));
    }
  });
}

Status SqliteStore::UpdateRun(const Run& run, RunStatus expected) {
  const std::string config = ToJson(run.config);
  EVOLVE_RETURN_IF_ERROR(CheckReadable<EvolutionConfig>(
      config, [](std::string_view j) { return EvolutionConfigFromJson(j); }, "run " + run.id + ": config"));
  const TimePoint now = impl_->Now();
  return impl_->Write([&]() -> Status {
    {
      EVOLVE_ASSIGN_OR_RETURN(Statement select,
                              impl_->db->Prepare("SELECT status FROM evolution_runs WHERE id = ?1"));
      select.Bind(1, run.id);
      EVOLVE_ASSIGN_OR_RETURN(bool row, select.Step());
      if (!row) return NotFoundError("run " + run.id + " not found");
      const std::string status = select.Text(0);
      if (status != RunStatusName(expected)) {
        return AbortedError("run " + run.id + " is " + status + ", expected " + RunStatusName(expected));
      }
    }
    EVOLVE_ASSIGN_OR_RETURN(
        Statement update,
        impl_->db->Prepare(
            "UPDATE evolution_runs SET status = ?2, config = ?3, hyperparameters = ?4, data_options = ?5, "
            "current_generation = ?6, seed_model_id = ?7, best_sqn = ?8, best_model_id = ?9, "
            "promoted = ?10, promotion_id = ?11, stop_reason = ?12, error = ?13, updated_at = ?14, "
            "symbol = ?15 WHERE id = ?1"));
    update.BindAll(run.id, RunStatusName(run.status), config, run.config.hyperparameters,
                   run.config.data_options, run.current_generation, run.seed_model_id, run.best_sqn,
                   run.best_model_id, run.promoted ? 1 : 0, run.promotion_id, run.stop_reason, run.error, now,
                   run.config.symbol);
    return update.Run();
  });
}

Status SqliteStore::TransitionRun(const std::string& run_id, const std::vector<RunStatus>& from, RunStatus to,
                                  const std::string& stop_reason, const std::string& error) {
  const TimePoint now = impl_->Now();
  std::vector<QueueEvent> events;
  Status status = impl_->Write([&]() -> Status {
    Connection& db = *impl_->db;
    {
      EVOLVE_ASSIGN_OR_RETURN(Statement select,
                              db.Prepare("SELECT status FROM evolution_runs WHERE id = ?1"));
      select.Bind(1, run_id);
      EVOLVE_ASSIGN_OR_RETURN(bool row, select.Step());
      if (!row) return NotFoundError("run " + run_id + " not found");
      const std::string current = select.Text(0);
      const bool allowed = std::any_of(from.begin(), from.end(),
                                       [&current](RunStatus s) { return current == RunStatusName(s); });
      if (!allowed) {
        return FailedPreconditionError("run " + run_id + " is " + current + "; cannot move to " +
                                       RunStatusName(to) + " (allowed from " + JoinRunStatuses(from) + ")");
      }
    }
    {
      EVOLVE_ASSIGN_OR_RETURN(
          Statement update,
          db.Prepare("UPDATE evolution_runs SET status = ?2, stop_reason = ?3, error = ?4, updated_at = ?5 "
                     "WHERE id = ?1"));
      update.BindAll(run_id, RunStatusName(to), stop_reason, error, now);
      EVOLVE_RETURN_IF_ERROR(update.Run());
    }
    if (to != RunStatus::kCancelled) return Status::Ok();
    {
      // Whoever waits for a batch must learn that it can finish: one event
      // per batch, in the order the batches were enqueued.
      EVOLVE_ASSIGN_OR_RETURN(
          Statement batches,
          db.Prepare("SELECT batch_id FROM priority_jobs WHERE run_id = ?1 AND status = 'PENDING' "
                     "GROUP BY batch_id ORDER BY MIN(rowid)"));
      batches.Bind(1, run_id);
      while (true) {
        EVOLVE_ASSIGN_OR_RETURN(bool row, batches.Step());
        if (!row) break;
        AddEvent(&events, QueueEvent::Kind::kJobFinished, run_id, batches.Text(0));
      }
    }
    EVOLVE_ASSIGN_OR_RETURN(Statement cancel,
                            db.Prepare("UPDATE priority_jobs SET status = 'CANCELLED', updated_at = ?2 "
                                       "WHERE run_id = ?1 AND status = 'PENDING'"));
    cancel.Bind(1, run_id);
    cancel.Bind(2, now);
    return cancel.Run();
  });
  if (status.ok()) impl_->listeners.Notify(events);
  return status;
}

Status SqliteStore::SaveGeneration(const Generation& generation) {
  Generation stored = generation;
  stored.updated_at = impl_->Now();
  const std::string doc = ToJson(stored);
  EVOLVE_RETURN_IF_ERROR(CheckReadable<Generation>(
      doc, [](std::string_view j) { return GenerationFromJson(j); },
      "run " + generation.run_id + " generation " + std::to_string(generation.generation)));
  return impl_->Write([&]() -> Status {
    Connection& db = *impl_->db;
    {
      // Checked first for the contract's kNotFound; the foreign key is the
      // schema's own guard.
      EVOLVE_ASSIGN_OR_RETURN(Statement run, db.Prepare("SELECT 1 FROM evolution_runs WHERE id = ?1"));
      run.Bind(1, generation.run_id);
      EVOLVE_ASSIGN_OR_RETURN(bool row, run.Step());
      if (!row) return NotFoundError("run " + generation.run_id + " not found");
    }
    EVOLVE_ASSIGN_OR_RETURN(
        Statement upsert,
        db.Prepare(
            "INSERT INTO evolution_generations (run_id, generation, state, model_id, batch_id, best_sqn, "
            "doc, "
            "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
            "ON CONFLICT (run_id, generation) DO UPDATE SET state = excluded.state, "
            "model_id = excluded.model_id, batch_id = excluded.batch_id, best_sqn = excluded.best_sqn, "
            "doc = excluded.doc, updated_at = excluded.updated_at"));
    upsert.BindAll(stored.run_id, stored.generation, GenerationStateName(stored.state), stored.model_id,
                   stored.batch_id, stored.best_sqn, doc, stored.updated_at);
    return upsert.Run();
  });
}

Result<Generation> SqliteStore::GetGeneration(const std::string& run_id, int generation) {
  return impl_->Read([&]() -> Result<Generation> {
    EVOLVE_ASSIGN_OR_RETURN(
        Statement select,
        impl_->db->Prepare("SELECT doc FROM evolution_generations WHERE run_id = ?1 AND generation = ?2"));
    select.Bind(1, run_id);
    select.Bind(2, generation);
    EVOLVE_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) return NotFoundError("run " + run_id + " has no generation " + std::to_string(generation));
    return impl_->ReadDoc<Generation>(
        select, 0, [](std::string_view j) { return GenerationFromJson(j); }, "evolution_generations",
        run_id + "/" + std::to_string(generation));
  });
}

Result<std::vector<Generation>> SqliteStore::ListGenerations(const std::string& run_id) {
  return impl_->Read([&]() -> Result<std::vector<Generation>> {
    EVOLVE_ASSIGN_OR_RETURN(
        Statement select,
        impl_->db->Prepare(
            "SELECT generation, doc FROM evolution_generations WHERE run_id = ?1 ORDER BY generation"));
    select.Bind(1, run_id);
    std::vector<Generation> generations;
    while (true) {
      EVOLVE_ASSIGN_OR_RETURN(bool row, select.Step());
      if (!row) return generations;
      EVOLVE_ASSIGN_OR_RETURN(Generation generation,
                              impl_->ReadDoc<Generation>(
                                  select, 1, [](std::string_view j) { return GenerationFromJson(j); },
                                  "evolution_generations", run_id + "/" + select.Text(0)));
      generations.push_back(std::move(generation));
    }
  });
}

// ------------------------------------------------------------ ModelRegistry

Result<FingerprintRecord> SqliteStore::LookupFingerprint(const std::string& fingerprint) {
  return impl_->Read([&]() -> Result<FingerprintRecord> {
    static const std::string sql =
        Sql({"SELECT ", kFingerprintColumns, " FROM model_fingerprints WHERE fingerprint = ?1"});
    EVOLVE_ASSIGN_OR_RETURN(Statement select, impl_->db->Prepare(sql));
    select.Bind(1, fingerprint);
    EVOLVE_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) return NotFoundError("fingerprint " + fingerprint + " not found");
    return impl_->ReadFingerprint(select);
  });
}

Result<FingerprintRecord> SqliteStore::RecordFingerprint(const FingerprintRecord& record) {
  if (record.fingerprint.empty()) return InvalidArgumentError("fingerprint: must not be empty");
  const std::string spec = ToJson(record.spec);
  EVOLVE_RETURN_IF_ERROR(CheckReadable<ModelSpec>(
      spec, [](std::string_view j) { return ModelSpecFromJson(j); },
      "fingerprint " + record.fingerprint + ": spec"));
  const TimePoint now = impl_->Now();
  return impl_->Write([&]() -> Result<FingerprintRecord> {
    Connection& db = *impl_->db;
    {
      // First writer wins: a later insert of the fingerprint does nothing.
      static const std::string sql = Sql({"INSERT INTO model_fingerprints (", kFingerprintColumns,
                                          ", symbol) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                                          "ON CONFLICT (fingerprint) DO NOTHING"});
      EVOLVE_ASSIGN_OR_RETURN(Statement insert, db.Prepare(sql));
      insert.BindAll(record.fingerprint, record.model_id, spec, record.spec.hyperparameters,
                     record.spec.data_options, now, record.spec.symbol);
      EVOLVE_RETURN_IF_ERROR(insert.Run());
    }
    static const std::string sql =
        Sql({"SELECT ", kFingerprintColumns, " FROM model_fingerprints WHERE fingerprint = ?1"});
    EVOLVE_ASSIGN_OR_RETURN(Statement select, db.Prepare(sql));
    select.Bind(1, record.fingerprint);
    EVOLVE_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row)
      return InternalError(impl_->path + ": fingerprint " + record.fingerprint + " vanished after insert");
    return impl_->ReadFingerprint(select);
  });
}

Status SqliteStore::AddLineageEdge(const LineageEdge& edge) {
  if (edge.id.empty()) return InvalidArgumentError("lineage edge id: must not be empty");
  return impl_->InsertRecord(
      edge, [](std::string_view j) { return LineageEdgeFromJson(j); }, "lineage edge " + edge.id,
      "INSERT INTO evolution_log (id, run_id, parent_model_id, child_model_id, generation, parent_sqn, doc, "
      "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO NOTHING",
      [](Statement& insert, const LineageEdge& e, const std::string& doc) {
        insert.BindAll(e.id, e.run_id, e.parent_model_id, e.child_model_id, e.generation, e.parent_sqn, doc,
                       e.created_at);
      });
}

Result<std::vector<LineageEdge>> SqliteStore::ListLineage(const std::string& run_id) {
  return impl_->Read([&]() -> Result<std::vector<LineageEdge>> {
    EVOLVE_ASSIGN_OR_RETURN(Statement select,
                            impl_->db->Prepare("SELECT id, doc FROM evolution_log WHERE run_id = ?1 "
                                               "ORDER BY generation, created_at, id"));
    select.Bind(1, run_id);
    std::vector<LineageEdge> edges;
    while (true) {
      EVOLVE_ASSIGN_OR_RETURN(bool row, select.Step());
      if (!row) return edges;
      EVOLVE_ASSIGN_OR_RETURN(LineageEdge edge,
                              impl_->ReadDoc<LineageEdge>(
                                  select, 1, [](std::string_view j) { return LineageEdgeFromJson(j); },
                                  "evolution_log", select.Text(0)));
      edges.push_back(std::move(edge));
    }
  });
}

Result<std::vector<LineageEdge>> SqliteStore::Ancestry(const std::string& model_id) {
  return impl_->Read([&]() -> Result<std::vector<LineageEdge>> {
    // From the model's oldest edge to its parent's oldest edge, and so on,
    // until an edge without a parent. The depth bound ends the walk on a
    // cycle, which the loop below then reports.
    EVOLVE_ASSIGN_OR_RETURN(
        Statement select,
        impl_->db->Prepare(
            "WITH RECURSIVE chain (depth, id, parent) AS ("
            " SELECT 0, e.id, e.parent_model_id FROM evolution_log AS e WHERE e.id ="
            "  (SELECT id FROM evolution_log WHERE child_model_id = ?1 ORDER BY created_at, id LIMIT 1)"
            " UNION ALL"
            " SELECT c.depth + 1, e.id, e.parent_model_id FROM chain AS c JOIN evolution_log AS e ON e.id ="
            "  (SELECT id FROM evolution_log WHERE child_model_id = c.parent ORDER BY created_at, id LIMIT 1)"
            " WHERE c.parent <> '' AND c.depth < ?2)"
            " SELECT e.id, e.child_model_id, e.doc FROM chain AS c JOIN evolution_log AS e ON e.id = c.id"
            " ORDER BY c.depth"));
    select.Bind(1, model_id);
    select.Bind(2, kMaxAncestryDepth);
    std::vector<LineageEdge> edges;
    std::set<std::string> seen;
    while (true) {
      EVOLVE_ASSIGN_OR_RETURN(bool row, select.Step());
      if (!row) break;
      const std::string child = select.Text(1);
      if (!seen.insert(child).second) {
        // Pruning only ever shrinks a feature set, so a cycle means corrupt
        // data; following it would never end.
        return InternalError("lineage of model " + model_id + " has a cycle through model " + child);
      }
      EVOLVE_ASSIGN_OR_RETURN(LineageEdge edge,
                              impl_->ReadDoc<LineageEdge>(
                                  select, 2, [](std::string_view j) { return LineageEdgeFromJson(j); },
                                  "evolution_log", select.Text(0)));
      edges.push_back(std::move(edge));
    }
    if (edges.size() > static_cast<size_t>(kMaxAncestryDepth)) {
      return InternalError("lineage of model " + model_id + " is deeper than " +
                           std::to_string(kMaxAncestryDepth) + " edges");
    }
    return edges;
  });
}

// ----------------------------------------------------------------- JobQueue

Result<int> SqliteStore::EnqueueBatch(const std::string& batch_id, const std::vector<Job>& jobs) {
  EVOLVE_RETURN_IF_ERROR(ValidateBatch(batch_id, jobs));
  if (jobs.empty()) return 0;
  const TimePoint now = impl_->Now();
  std::vector<QueueEvent> events;
  Result<int> inserted = impl_->Write([&]() -> Result<int> {
    Connection& db = *impl_->db;
    {
      // Checked before id collisions: re-enqueueing the same batch collides
      // with itself by design and must be a quiet no-op.
      EVOLVE_ASSIGN_OR_RETURN(Statement exists,
                              db.Prepare("SELECT 1 FROM priority_jobs WHERE batch_id = ?1 LIMIT 1"));
      exists.Bind(1, batch_id);
      EVOLVE_ASSIGN_OR_RETURN(bool row, exists.Step());
      if (row) return 0;
    }
    static const std::string sql = Sql(
        {"INSERT INTO priority_jobs (", kJobColumns,
         ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'PENDING', ?7, NULL, '', '', 0, ?8, NULL, ?9, ?9, 0, '', ?10, "
         "?11, '')"});
    for (const Job& job : jobs) {
      {
        EVOLVE_ASSIGN_OR_RETURN(Statement insert, db.Prepare(sql));
        insert.BindAll(job.id, job.batch_id, job.run_id, job.model_id, job.generation, job.priority,
                       ToJson(job.params), job.max_attempts, now, JobKindName(job.kind), job.task);
        Status status = insert.Run();
        if (insert.last_error() != SQLITE_CONSTRAINT_PRIMARYKEY) {
          EVOLVE_RETURN_IF_ERROR(status);
          AddEvent(&events, QueueEvent::Kind::kJobsAvailable, job);
          continue;
        }
      }
      // The id belongs to another batch: the whole batch is rolled back.
      EVOLVE_ASSIGN_OR_RETURN(Statement owner,
                              db.Prepare("SELECT batch_id FROM priority_jobs WHERE id = ?1"));
      owner.Bind(1, job.id);
      EVOLVE_ASSIGN_OR_RETURN(bool row, owner.Step());
      return AlreadyExistsError("job " + job.id + " exists already (in batch " + (row ? owner.Text(0) : "?") +
                                ")");
    }
    return static_cast<int>(jobs.size());
  });
  if (inserted.ok()) impl_->listeners.Notify(events);
  return inserted;
}

Result<std::vector<Job>> SqliteStore::ClaimJobs(const ClaimHolder& holder, int max_jobs, Duration lease,
                                                JobKinds kinds) {
  EVOLVE_RETURN_IF_ERROR(ValidateClaim(holder, max_jobs, lease));
  if (kinds.empty()) return std::vector<Job>();
  // One statement for every set of kinds: three placeholders, the last kind
  // repeated to fill them.
  std::vector<JobKind> wanted = kinds.List();
  wanted.resize(3, wanted.back());
  const std::string& worker_id = holder.worker_id;
  const TimePoint now = impl_->Now();
  const TimePoint lease_until = now + std::chrono::duration_cast<std::chrono::microseconds>(lease);
  return impl_->Write([&]() -> Result<std::vector<Job>> {
    Connection& db = *impl_->db;
    std::vector<Job> claimed;
    {
      // The literal 'PENDING' lets the planner use the partial claim index;
      // the kind (in no index) filters the rows it walks, in claim order.
      static const std::string sql =
          Sql({"SELECT ", kJobColumns,
               " FROM priority_jobs WHERE status = 'PENDING' AND kind IN (?2, ?3, ?4) "
               "ORDER BY priority DESC, created_at, id LIMIT ?1"});
      EVOLVE_ASSIGN_OR_RETURN(Statement select, db.Prepare(sql));
      select.BindAll(max_jobs, JobKindName(wanted[0]), JobKindName(wanted[1]), JobKindName(wanted[2]));
      while (true) {
        EVOLVE_ASSIGN_OR_RETURN(bool row, select.Step());
        if (!row) break;
        EVOLVE_ASSIGN_OR_RETURN(Job job, impl_->ReadJob(select));
        claimed.push_back(std::move(job));
      }
    }
    for (Job& job : claimed) {
      job.status = JobStatus::kRunning;
      job.worker_id = worker_id;
      job.claim_token = holder.claim_token;
      job.attempts += 1;
      job.lease_until = lease_until;
      job.updated_at = now;
      EVOLVE_ASSIGN_OR_RETURN(
          Statement update,
          db.Prepare("UPDATE priority_jobs SET status = 'RUNNING', worker_id = ?2, "
                     "attempts = ?3, lease_until = ?4, updated_at = ?5, claim_token = ?6 WHERE id = ?1"));
      update.BindAll(job.id, worker_id, job.attempts, lease_until, now, holder.claim_token);
      EVOLVE_RETURN_IF_ERROR(update.Run());
    }
    return claimed;
  });
}

Result<SqliteStore::Impl::Held> SqliteStore::Impl::Fence(const std::string& job_id,
                                                         const ClaimHolder& holder) {
  EVOLVE_ASSIGN_OR_RETURN(
      Statement select,
      db->Prepare("SELECT status, worker_id, run_id, batch_id, attempts, max_attempts, claim_token, kind "
                  "FROM priority_jobs WHERE id = ?1"));
  select.Bind(1, job_id);
  EVOLVE_ASSIGN_OR_RETURN(bool row, select.Step());
  if (!row) return NotFoundError("job " + job_id + " not found");
  JobStatus status;
  if (!ParseJobStatus(select.Text(0), &status)) {
    return Corrupt(path, "priority_jobs", job_id, "unknown status '" + select.Text(0) + "'");
  }
  EVOLVE_RETURN_IF_ERROR(CheckLeaseHolder(job_id, holder, status, select.Text(1), select.Text(6)));
  Held held;
  held.run_id = select.Text(2);
  held.batch_id = select.Text(3);
  held.attempts = select.Int(4);
  held.max_attempts = select.Int(5);
  held.simulation = select.Text(7) == JobKindName(JobKind::kSimulate);
  return held;
}

Status SqliteStore::HeartbeatJob(const std::string& job_id, const ClaimHolder& holder, Duration lease) {
  if (lease <= Duration::zero()) return InvalidArgumentError("lease: must be positive");
  const TimePoint now = impl_->Now();
  return impl_->Write([&]() -> Status {
    EVOLVE_RETURN_IF_ERROR(impl_->Fence(job_id, holder).status());
    EVOLVE_ASSIGN_OR_RETURN(
        Statement update,
        impl_->db->Prepare("UPDATE priority_jobs SET lease_until = ?2, updated_at = ?3 WHERE id = ?1"));
    update.BindAll(job_id, now + std::chrono::duration_cast<std::chrono::microseconds>(lease), now);
    return update.Run();
  });
}

Status SqliteStore::Impl::CompleteLocked(const std::string& job_id, const ClaimHolder& holder,
                                         const SimulationResult& result, const std::string& output,
                                         TimePoint now, std::vector<QueueEvent>* events) {
  const std::string& worker_id = holder.worker_id;
  EVOLVE_ASSIGN_OR_RETURN(const Held held, Fence(job_id, holder));
  {
    EVOLVE_ASSIGN_OR_RETURN(
        Statement update,
        db->Prepare("UPDATE priority_jobs SET status = 'COMPLETED', result = NULLIF(?2, ''), output = ?4, "
                    "error = '', lease_until = NULL, claim_token = '', updated_at = ?3 WHERE id = ?1"));
    // A simulation keeps its result (JSON, never ''), a training job its
    // output and no result.
    update.BindAll(job_id, held.simulation ? ToJson(result) : std::string(), now,
                   held.simulation ? std::string() : output);
    EVOLVE_RETURN_IF_ERROR(update.Run());
  }
  EVOLVE_ASSIGN_OR_RETURN(
      Statement count, db->Prepare("UPDATE workers SET jobs_completed = jobs_completed + 1 WHERE id = ?1"));
  count.Bind(1, worker_id);
  EVOLVE_RETURN_IF_ERROR(count.Run());
  AddEvent(events, QueueEvent::Kind::kJobFinished, held.run_id, held.batch_id);
  return Status::Ok();
}

Status SqliteStore::Impl::FailLocked(const std::string& job_id, const ClaimHolder& holder,
                                     const std::string& error, bool retryable, TimePoint now,
                                     std::vector<QueueEvent>* events) {
  const std::string& worker_id = holder.worker_id;
  EVOLVE_ASSIGN_OR_RETURN(const Held held, Fence(job_id, holder));
  if (retryable && held.attempts < held.max_attempts) {
    EVOLVE_ASSIGN_OR_RETURN(
        Statement update,
        db->Prepare("UPDATE priority_jobs SET status = 'PENDING', error = ?2, worker_id = '', "
                    "lease_until = NULL, claim_token = '', updated_at = ?3 WHERE id = ?1"));
    update.BindAll(job_id, error, now);
    EVOLVE_RETURN_IF_ERROR(update.Run());
    AddEvent(events, QueueEvent::Kind::kJobsAvailable, held.run_id, held.batch_id);
    return Status::Ok();
  }
  {
    EVOLVE_ASSIGN_OR_RETURN(
        Statement update, db->Prepare("UPDATE priority_jobs SET status = 'FAILED', error = ?2, "
                                      "lease_until = NULL, claim_token = '', updated_at = ?3 WHERE id = ?1"));
    update.BindAll(job_id, error, now);
    EVOLVE_RETURN_IF_ERROR(update.Run());
  }
  EVOLVE_ASSIGN_OR_RETURN(Statement count,
                          db->Prepare("UPDATE workers SET jobs_failed = jobs_failed + 1 WHERE id = ?1"));
  count.Bind(1, worker_id);
  EVOLVE_RETURN_IF_ERROR(count.Run());
  AddEvent(events, QueueEvent::Kind::kJobFinished, held.run_id, held.batch_id);
  return Status::Ok();
}

Status SqliteStore::CompleteJob(const std::string& job_id, const ClaimHolder& holder,
                                const SimulationResult& result) {
  const TimePoint now = impl_->Now();
  std::vector<QueueEvent> events;
  Status status = impl_->Write(
      [&] { return impl_->CompleteLocked(job_id, holder, result, std::string(), now, &events); });
  if (status.ok()) impl_->listeners.Notify(events);
  return status;
}

Status SqliteStore::FailJob(const std::string& job_id, const ClaimHolder& holder, const std::string& error,
                            bool retryable) {
  const TimePoint now = impl_->Now();
  std::vector<QueueEvent> events;
  Status status =
      impl_->Write([&] { return impl_->FailLocked(job_id, holder, error, retryable, now, &events); });
  if (status.ok()) impl_->listeners.Notify(events);
  return status;
}

Result<std::vector<Status>> SqliteStore::FinishJobs(const std::string& worker_id,
                                                    const std::vector<JobOutcome>& outcomes) {
  const TimePoint now = impl_->Now();
  std::vector<QueueEvent> events;
  std::vector<Status> statuses;
  Status status = impl_->Write([&]() -> Status {
    statuses.clear();
    for (const JobOutcome& o : outcomes) {
      const ClaimHolder holder(worker_id, o.claim_token);
      Status s = o.result.has_value()
                     ? impl_->CompleteLocked(o.job_id, holder, *o.result, o.output, now, &events)
                     : impl_->FailLocked(o.job_id, holder, o.error, o.retryable, now, &events);
      // A job this worker no longer holds is refused alone; any other error
      // rolls the whole batch back.
      if (!s.ok() && s.code() != StatusCode::kAborted && s.code() != StatusCode::kNotFound) return s;
      statuses.push_back(std::move(s));
    }
    return Status::Ok();
  });
  if (!status.ok()) return status;
  impl_->listeners.Notify(events);
  return statuses;
}

Status SqliteStore::ReleaseJob(const std::string& job_id, const ClaimHolder& holder) {
  const TimePoint now = impl_->Now();
  std::vector<QueueEvent> events;
  Status status = impl_->Write([&]() -> Status {
    EVOLVE_ASSIGN_OR_RETURN(const Impl::Held held, impl_->Fence(job_id, holder));
    // The worker never ran it, so the claim must not eat into max_attempts.
    EVOLVE_ASSIGN_OR_RETURN(
        Statement update,
        impl_->db->Prepare(
            "UPDATE priority_jobs SET status = 'PENDING', attempts = MAX(0, attempts - 1), "
            "worker_id = '', claim_token = '', lease_until = NULL, updated_at = ?2 WHERE id = ?1"));
    update.Bind(1, job_id);
    update.Bind(2, now);
    EVOLVE_RETURN_IF_ERROR(update.Run());
    AddEvent(&events, QueueEvent::Kind::kJobsAvailable, held.run_id, held.batch_id);
    return Status::Ok();
  });
  if (status.ok()) impl_->listeners.Notify(events);
  return status;
}

namespace {

// JobQueue's rule for holder deaths (store.h, kJobDeathLimit), on the
// RUNNING jobs `select` yields (id, run_id, batch_id, worker_id, error,
// deaths): deaths + 1, the claim's attempt given back, PENDING again or
// quarantined (FAILED) with the evidence. `death` says how the holder died.
// REQUIRES: inside a write transaction.
Result<int> TakeBackFromDeadHolders(Connection& db, Statement& select, TimePoint now,
                                    const std::function<std::string(const std::string& worker)>& death,
                                    std::vector<QueueEvent>* events) {
  struct Held {
    std::string id;
    std::string run_id;
    std::string batch_id;
    std::string worker_id;
    std::string error;
    int deaths;
  };
  std::vector<Held> held;
  while (true) {
    EVOLVE_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    held.push_back(
        Held{select.Text(0), select.Text(1), select.Text(2), select.Text(3), select.Text(4), select.Int(5)});
  }
  for (const Held& job : held) {
    const bool quarantined = job.deaths + 1 >= kJobDeathLimit;
    EVOLVE_ASSIGN_OR_RETURN(
        Statement update,
        db.Prepare(quarantined ? "UPDATE priority_jobs SET status = 'FAILED', error = ?2, "
                                 "attempts = MAX(0, attempts - 1), deaths = deaths + 1, claim_token = '', "
                                 "lease_until = NULL, updated_at = ?3 WHERE id = ?1"
                               : "UPDATE priority_jobs SET status = 'PENDING', error = ?2, worker_id = '', "
                                 "attempts = MAX(0, attempts - 1), deaths = deaths + 1, claim_token = '', "
                                 "lease_until = NULL, updated_at = ?3 WHERE id = ?1"));
    update.Bind(1, job.id);
    update.Bind(2, HolderDeathError(job.error, job.deaths, death(job.worker_id)));
    update.Bind(3, now);
    EVOLVE_RETURN_IF_ERROR(update.Run());
    AddEvent(events, quarantined ? QueueEvent::Kind::kJobFinished : QueueEvent::Kind::kJobsAvailable,
             job.run_id, job.batch_id);
  }
  return static_cast<int>(held.size());
}

}  // namespace

Result<int> SqliteStore::ReapExpiredJobs() {
  const TimePoint now = impl_->Now();
  std::vector<QueueEvent> events;
  Result<int> reaped = impl_->Write([&]() -> Result<int> {
    Connection& db = *impl_->db;
    // Only RUNNING jobs, by lease end: the partial lease index.
    EVOLVE_ASSIGN_OR_RETURN(Statement select,
                            db.Prepare("SELECT id, run_id, batch_id, worker_id, error, deaths "
                                       "FROM priority_jobs WHERE status = 'RUNNING' AND lease_until < ?1 "
                                       "ORDER BY lease_until, id"));
    select.Bind(1, now);
    return TakeBackFromDeadHolders(db, select, now, LeaseExpiredMessage, &events);
  });
  if (reaped.ok()) impl_->listeners.Notify(events);
  return reaped;
}

Result<int> SqliteStore::ReclaimJobsOfWorker(const std::string& worker_id, const std::string& cause) {
  if (worker_id.empty()) return InvalidArgumentError("worker_id: must not be empty");
  const TimePoint now = impl_->Now();
  std::vector<QueueEvent> events;
  Result<int> reclaimed = impl_->Write([&]() -> Result<int> {
    Connection& db = *impl_->db;
    EVOLVE_ASSIGN_OR_RETURN(Statement select,
                            db.Prepare("SELECT id, run_id, batch_id, worker_id, error, deaths "
                                       "FROM priority_jobs WHERE status = 'RUNNING' AND worker_id = ?1 "
                                       "ORDER BY lease_until, id"));
    select.Bind(1, worker_id);
    return TakeBackFromDeadHolders(
        db, select, now, [&cause](const std::string& worker) { return cause + " (worker " + worker + ")"; },
        &events);
  });
  if (reclaimed.ok()) impl_->listeners.Notify(events);
  return reclaimed;
}

Result<int> SqliteStore::RequeueFailedJobs(const std::string& batch_id) {
  if (batch_id.empty()) return InvalidArgumentError("batch_id: must not be empty");
  const TimePoint now = impl_->Now();
  std::vector<QueueEvent> events;
  Result<int> requeued = impl_->Write([&]() -> Result<int> {
    Connection& db = *impl_->db;
    EVOLVE_ASSIGN_OR_RETURN(
        Statement update,
        db.Prepare("UPDATE priority_jobs SET status = 'PENDING', attempts = 0, deaths = 0, error = '', "
                   "result = NULL, output = '', worker_id = '', claim_token = '', lease_until = NULL, "
                   "updated_at = ?2 "
                   "WHERE batch_id = ?1 AND status = 'FAILED'"));
    update.Bind(1, batch_id);
    update.Bind(2, now);
    EVOLVE_RETURN_IF_ERROR(update.Run());
    const int n = db.Changes();
    if (n > 0) {
      EVOLVE_ASSIGN_OR_RETURN(Statement run,
                              db.Prepare("SELECT run_id FROM priority_jobs WHERE batch_id = ?1 LIMIT 1"));
      run.Bind(1, batch_id);
      EVOLVE_ASSIGN_OR_RETURN(bool row, run.Step());
      AddEvent(&events, QueueEvent::Kind::kJobsAvailable, row ? run.Text(0) : std::string(), batch_id);
    }
    return n;
  });
  if (requeued.ok()) impl_->listeners.Notify(events);
  return requeued;
}

Result<Job> SqliteStore::GetJob(const std::string& job_id) {
  return impl_->Read([&]() -> Result<Job> {
    static const std::string sql = Sql({"SELECT ", kJobColumns, " FROM priority_jobs WHERE id = ?1"});
    EVOLVE_ASSIGN_OR_RETURN(Statement select, impl_->db->Prepare(sql));
    select.Bind(1, job_id);
    EVOLVE_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) return NotFoundError("job " + job_id + " not found");
    return impl_->ReadJob(select);
  });
}

namespace {

// The WHERE clause of a JobFilter's run_id/batch_id/kind (and optionally
// status), with its arguments in placeholder order. Fixed fragments only, so
// at most sixteen distinct statements are cached, each with the best index.
std::string JobWhere(const JobFilter& filter, bool with_status, std::vector<std::string>* args) {
  std::string where;
  auto add = [&where, args](const char* condition, std::string value) {
    where += where.empty() ? " WHERE " : " AND ";
    where += condition;
    args->push_back(std::move(value));
  };
  if (!filter.run_id.empty()) add("run_id = ?", filter.run_id);
  if (!filter.batch_id.empty()) add("batch_id = ?", filter.batch_id);
  if (with_status && filter.status.has_value()) add("status = ?", JobStatusName(*filter.status));
  if (filter.kind.has_value()) add("kind = ?", JobKindName(*filter.kind));
  return where;
}

}  // namespace

Result<std::vector<Job>> SqliteStore::ListJobs(const JobFilter& filter) {
  EVOLVE_RETURN_IF_ERROR(CheckPage(filter.limit, filter.offset));
  std::vector<std::string> args;
  const std::string sql = Sql({"SELECT ", kJobColumns, " FROM priority_jobs", JobWhere(filter, true, &args),
                               " ORDER BY priority DESC, created_at, id LIMIT ? OFFSET ?"});
  return impl_->Read([&]() -> Result<std::vector<Job>> {
    EVOLVE_ASSIGN_OR_RETURN(Statement select, impl_->db->Prepare(sql));
    int index = 1;
    for (const std::string& arg : args) select.Bind(index++, arg);
    select.Bind(index++, SqlLimit(filter.limit));
    select.Bind(index, filter.offset);
    std::vector<Job> jobs;
    while (true) {
      EVOLVE_ASSIGN_OR_RETURN(bool row, select.Step());
      if (!row) return jobs;
      EVOLVE_ASSIGN_OR_RETURN(Job job, impl_->ReadJob(select));
      jobs.push_back(std::move(job));
    }
  });
}

Result<JobCounts> SqliteStore::CountJobs(const JobFilter& filter) {
  std::vector<std::string> args;
  const std::string sql =
      Sql({"SELECT status, COUNT(*) FROM priority_jobs", JobWhere(filter, false, &args), " GROUP BY status"});
  return impl_->Read([&]() -> Result<JobCounts> {
    EVOLVE_ASSIGN_OR_RETURN(Statement select, impl_->db->Prepare(sql));
    int index = 1;
    for (const std::string& arg : args) select.Bind(index++, arg);
    JobCounts counts;
    while (true) {
      EVOLVE_ASSIGN_OR_RETURN(bool row, select.Step());
      if (!row) return counts;
      JobStatus status;
      if (!ParseJobStatus(select.Text(0), &status)) {
        return Corrupt(impl_->path, "priority_jobs", "(count)", "unknown status '" + select.Text(0) + "'");
      }
      counts.Add(status, select.Int(1));
    }
  });
}

int64_t SqliteStore::Subscribe(std::function<void(const QueueEvent&)> listener) {
  return impl_->listeners.Subscribe(std::move(listener));
}

void SqliteStore::Unsubscribe(int64_t handle) { impl_->listeners.Unsubscribe(handle); }

// ----------------------------------------------------------- PromotionStore

Status SqliteStore::SavePromotion(const Promotion& promotion) {
  if (promotion.id.empty()) return InvalidArgumentError("promotion id: must not be empty");
  return impl_->InsertRecord(
      promotion, [](std::string_view j) { return PromotionFromJson(j); }, "promotion " + promotion.id,
      "INSERT INTO promoted_models (id, model_id, run_id, generation, sqn, doc, hyperparameters, "
      "data_options, "
      "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (id) DO NOTHING",
      [](Statement& insert, const Promotion& p, const std::string& doc) {
        insert.BindAll(p.id, p.model_id, p.run_id, p.generation, p.sqn, doc, p.spec.hyperparameters,
                       p.spec.data_options, p.created_at);
      });
}

Result<Promotion> SqliteStore::GetPromotion(const std::string& promotion_id) {
  return impl_->Read([&]() -> Result<Promotion> {
    static const std::string sql = Sql({"SELECT ", kPromotionColumns, " FROM promoted_models WHERE id = ?1"});
    EVOLVE_ASSIGN_OR_RETURN(Statement select, impl_->db->Prepare(sql));
    select.Bind(1, promotion_id);
    EVOLVE_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) return NotFoundError("promotion " + promotion_id + " not found");
    return impl_->ReadPromotion(select);
  });
}

Result<std::vector<Promotion>> SqliteStore::ListPromotions(int limit, int offset) {
  EVOLVE_RETURN_IF_ERROR(CheckPage(limit, offset));
  return impl_->Read([&]() -> Result<std::vector<Promotion>> {
    // Highest SQN first; among equal SQNs the earliest win comes first.
    static const std::string sql =
        Sql({"SELECT ", kPromotionColumns,
             " FROM promoted_models ORDER BY sqn DESC, created_at, id LIMIT ?1 OFFSET ?2"});
    EVOLVE_ASSIGN_OR_RETURN(Statement select, impl_->db->Prepare(sql));
    select.Bind(1, SqlLimit(limit));
    select.Bind(2, offset);
    std::vector<Promotion> promotions;
    while (true) {
      EVOLVE_ASSIGN_OR_RETURN(bool row, select.Step());
      if (!row) return promotions;
      EVOLVE_ASSIGN_OR_RETURN(Promotion promotion, impl_->ReadPromotion(select));
      promotions.push_back(std::move(promotion));
    }
  });
}

// ----------------------------------------------------------- WorkerRegistry

Status SqliteStore::RegisterWorker(const WorkerInfo& worker) {
  if (worker.id.empty()) return InvalidArgumentError("worker id: must not be empty");
  const TimePoint now = impl_->Now();
  return impl_->Write([&]() -> Status {
    // The counters are the store's to keep: a restarted worker continues
    // them, and a new one starts from zero whatever it claims.
    static const std::string sql =
        Sql({"INSERT INTO workers (", kWorkerColumns,
             ") VALUES (?1, ?2, ?3, 'ACTIVE', ?4, ?4, ?5, 0, 0) "
             "ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, "
             "status = 'ACTIVE', started_at = excluded.started_at, "
             "last_heartbeat = excluded.last_heartbeat, current_jobs = excluded.current_jobs"});
    EVOLVE_ASSIGN_OR_RETURN(Statement upsert, impl_->db->Prepare(sql));
    upsert.BindAll(worker.id, worker.host, worker.pid, now, ToJson(worker.current_jobs));
    return upsert.Run();
  });
}

Status SqliteStore::WorkerHeartbeat(const std::string& worker_id,
                                    const std::vector<std::string>& current_jobs) {
  const TimePoint now = impl_->Now();
  return impl_->Write([&]() -> Status {
    EVOLVE_ASSIGN_OR_RETURN(
        Statement update,
        impl_->db->Prepare("UPDATE workers SET last_heartbeat = ?2, current_jobs = ?3 WHERE id = ?1"));
    update.BindAll(worker_id, now, ToJson(current_jobs));
    EVOLVE_RETURN_IF_ERROR(update.Run());
    if (impl_->db->Changes() == 0) return NotFoundError("worker " + worker_id + " not registered");
    return Status::Ok();
  });
}

Status SqliteStore::DeregisterWorker(const std::string& worker_id) {
  return impl_->Write([&]() -> Status {
    EVOLVE_ASSIGN_OR_RETURN(
        Statement update,
        impl_->db->Prepare("UPDATE workers SET status = 'STOPPED', current_jobs = '[]' WHERE id = ?1"));
    update.Bind(1, worker_id);
    EVOLVE_RETURN_IF_ERROR(update.Run());
    if (impl_->db->Changes() == 0) return NotFoundError("worker " + worker_id + " not registered");
    return Status::Ok();
  });
}

Result<std::vector<WorkerInfo>> SqliteStore::ListWorkers() {
  return impl_->Read([&]() -> Result<std::vector<WorkerInfo>> {
    static const std::string sql =
        Sql({"SELECT ", kWorkerColumns, " FROM workers ORDER BY last_heartbeat DESC, id"});
    EVOLVE_ASSIGN_OR_RETURN(Statement select, impl_->db->Prepare(sql));
    std::vector<WorkerInfo> workers;
    while (true) {
      EVOLVE_ASSIGN_OR_RETURN(bool row, select.Step());
      if (!row) return workers;
      EVOLVE_ASSIGN_OR_RETURN(WorkerInfo worker, impl_->ReadWorker(select));
      workers.push_back(std::move(worker));
    }
  });
}

// ----------------------------------------------------------- ArtifactStore

// An artifact is its row in `artifacts` (size, number of chunks) and its
// chunks, rows of artifact_chunks (sql/sqlite/0004_artifact_chunks.sql).

Status SqliteStore::PutArtifact(const std::string& key, const std::string& bytes) {
  if (key.empty()) return InvalidArgumentError("artifact key: must not be empty");
  const TimePoint now = impl_->Now();
  const uint64_t chunk = impl_->artifact_chunk_bytes;
  const uint64_t size = bytes.size();
  const int64_t chunks = static_cast<int64_t>((size + chunk - 1) / chunk);
  return impl_->Write([&]() -> Status {
    // Keys name immutable content: the first write stays, and a later one
    // writes nothing.
    {
      EVOLVE_ASSIGN_OR_RETURN(
          Statement insert,
          impl_->db->Prepare("INSERT INTO artifacts (key, size, chunks, created_at) VALUES (?1, ?2, ?3, ?4) "
                             "ON CONFLICT (key) DO NOTHING"));
      insert.BindAll(key, static_cast<int64_t>(size), chunks, now);
      EVOLVE_RETURN_IF_ERROR(insert.Run());
      if (impl_->db->Changes() == 0) return Status::Ok();
    }
    // Bound without a copy: SQLite copies each chunk once, into its record.
    for (int64_t seq = 0; seq < chunks; ++seq) {
      const uint64_t offset = static_cast<uint64_t>(seq) * chunk;
      EVOLVE_ASSIGN_OR_RETURN(
          Statement insert,
          impl_->db->Prepare("INSERT INTO artifact_chunks (key, seq, bytes) VALUES (?1, ?2, ?3)"));
      insert.BindAll(key, seq);
      insert.BindBorrowedBlob(3, std::string_view(bytes).substr(offset, chunk));
      EVOLVE_RETURN_IF_ERROR(insert.Run());
    }
    return Status::Ok();
  });
}

Result<std::string> SqliteStore::GetArtifact(const std::string& key) {
  return impl_->Read([&]() -> Result<std::string> {
    // One statement, so one snapshot for the row and its chunks (a blob
    // opened while it runs reads in its transaction). A LEFT JOIN: an empty
    // artifact is its row alone.
    EVOLVE_ASSIGN_OR_RETURN(
        Statement select,
        impl_->db->Prepare(
            "SELECT a.size, a.chunks, c.rowid FROM artifacts AS a LEFT JOIN artifact_chunks AS c "
            "ON c.key = a.key WHERE a.key = ?1 ORDER BY c.seq"));
    select.Bind(1, key);
    EVOLVE_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) return NotFoundError("artifact " + key + " not found");
    int64_t size = 0;
    int64_t chunks = 0;
    select.ReadAll(0, size, chunks);
    // A blob holds at most INT32_MAX bytes: a larger size is not an artifact's.
    if (size < 0 || chunks < 0 || size > chunks * int64_t{INT32_MAX}) {
      return Corrupt(impl_->path, "artifacts", key,
                     "size " + std::to_string(size) + " in " + std::to_string(chunks) + " chunks");
    }
    const auto mismatch = [&] {
      return Corrupt(impl_->path, "artifacts", key,
                     "its chunks do not add up to its size " + std::to_string(size) + " in " +
                         std::to_string(chunks) + " chunks");
    };
    // The one allocation: each chunk is copied from the file straight into
    // its place.
    std::string bytes(static_cast<size_t>(size), '\0');
    BlobReader blobs(impl_->db.get(), "artifact_chunks", "bytes");
    int64_t offset = 0;
    int64_t read = 0;
    // With no chunk, the one row's chunk columns are NULL.
    for (row = !select.IsNull(2); row; ++read) {
      EVOLVE_ASSIGN_OR_RETURN(const int64_t length, blobs.Open(select.Int64(2)));
      if (length > size - offset) return mismatch();
      EVOLVE_RETURN_IF_ERROR(blobs.ReadAll(&bytes[static_cast<size_t>(offset)]));
      offset += length;
      EVOLVE_ASSIGN_OR_RETURN(row, select.Step());
    }
    if (read != chunks || offset != size) return mismatch();
    return bytes;
  });
}

}  // namespace evolve::sqlite
