// The SQLite store on real files: the Store contract suite, persistence
// across reopening, migrations, files it must refuse, several processes
// draining one queue, run locks across stores and processes, and artifacts
// in chunks as the tables hold them.
#include "evolve/sqlite/sqlite_store.h"

#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "evolve/clock.h"
#include "evolve/json.h"
#include "evolve/status.h"
#include "evolve/store.h"
#include "crash_suite.h"
#include "store_contract.h"

namespace evolve::sqlite {
namespace {

using testing::ManualClockHarness;
using testing::Opened;
using testing::OwningHarness;
using namespace testing::store_contract;  // NOLINT: the contract's fixtures (MakeJob, Enqueue, ...)

// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
 public:
  TempDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/evolve-sqlite-XXXXXX";
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::unique_ptr<Store> MustOpen(const std::string& path, const SqliteOptions& options = {}) {
  return Opened(OpenSqliteStore(path, options));
}

// The contract's ManualClockHarness over a fresh file, and the directory
// that holds it, removed after the store is closed.
class SqliteHarness final : public OwningHarness<TempDir, ManualClockHarness> {
 public:
  SqliteHarness()
      : OwningHarness([](TempDir& dir) {
          return ManualClockHarness([&dir](Clock& clock) {
            SqliteOptions options;
            options.clock = &clock;
            options.artifact_chunk_bytes = testing::store_contract::kContractArtifactChunkBytes;
            return MustOpen(dir.File("store.db"), options);
          });
        }) {}
};

// Raw SQL on the file, for what the store must not be able to do itself.
void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  const std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  REQUIRE_MESSAGE(rc == SQLITE_OK, message);
}

// The schema version recorded in the file, read behind the store's back.
int StoredSchemaVersion(const std::string& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  int version = -1;
  if (sqlite3_prepare_v2(db, "SELECT MAX(version) FROM schema_migrations", -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    version = sqlite3_column_int(stmt, 0);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return version;
}

// The first column of the first row of `sql` on the file, as text ("" for
// none or NULL), read behind the store's back.
std::string RawValue(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  std::string value;
  const int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
  const std::string error = sqlite3_errmsg(db);
  if (rc == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
    value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  REQUIRE_MESSAGE(rc == SQLITE_OK, error);
  return value;
}

// `bytes` as an SQL blob literal (X'00ff...').
std::string BlobLiteral(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string literal = "X'";
  for (unsigned char c : bytes) {
    literal += kDigits[c >> 4];
    literal += kDigits[c & 0xf];
  }
  return literal + "'";
}

// The file at `path` as version `version` of the store made it: its
// migrations, recorded as SqliteStore::Impl::Migrate records them.
void MakeSchemaVersion(const std::string& path, int version) {
  RawExec(path,
          "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
          "applied_at INTEGER NOT NULL)");
  for (int v = 1; v <= version; ++v) {
    const MigrationFile migration = ReadMigration("sqlite", v);
    RawExec(path, migration.sql);
    RawExec(path, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (" + std::to_string(v) +
                      ", " + SqlLiteral(migration.name) + ", 0)");
  }
  REQUIRE(StoredSchemaVersion(path) == version);
}

// SQL on the file behind the store's back, for the artifact checks.
testing::store_contract::RawSql RawSqlOn(const std::string& path) {
  return {[path](const std::string& sql) { RawExec(path, sql); },
          [path](const std::string& sql) { return RawValue(path, sql); }};
}

}  // namespace

EVOLVE_STORE_CONTRACT_TESTS("sqlite", std::make_unique<SqliteHarness>())
EVOLVE_CRASH_AT_EVERY_WRITE_TEST("sqlite", std::make_unique<SqliteHarness>())

namespace {

TEST_CASE("sqlite store: everything written is read back after reopening") {
  TempDir dir;
  const std::string path = dir.File("persist.db");
  ManualClock clock;
  SqliteOptions options;
  options.clock = &clock;

  Run run_before;
  Job done_before;
  Job pending_before;
  Generation generation;
  generation.run_id = "run-1";
  generation.generation = 1;
  generation.model_id = "model-1";
  generation.features = {"rsi_14"};
  generation.best_sqn = 2.5;
  FingerprintRecord fingerprint;
  fingerprint.fingerprint = "fp-1";
  fingerprint.model_id = "model-1";
  fingerprint.spec.symbol = "AAPL";
  fingerprint.spec.hyperparameters = "{\"max_depth\": 4}";  // kept as given
  std::vector<LineageEdge> lineage_before;
  Promotion promotion_before;
  std::vector<WorkerInfo> workers_before;
  std::string blob("\0\x01\x02 model", 9);
  {
    std::unique_ptr<Store> store = MustOpen(path, options);
    CHECK(std::filesystem::exists(path));
    EnsureRun(*store, "run-1");
    REQUIRE(store->SaveGeneration(generation).ok());
    REQUIRE(store->RecordFingerprint(fingerprint).ok());
    REQUIRE(store->AddLineageEdge(MakeEdge("edge-0", "run-1", "", "model-0", 0)).ok());
    REQUIRE(store->AddLineageEdge(MakeEdge("edge-1", "run-1", "model-0", "model-1", 1)).ok());
    Promotion promotion = MakePromotion("promo-1", 3.5);
    promotion.run_id = "run-1";
    REQUIRE(store->SavePromotion(promotion).ok());
    REQUIRE(store->RegisterWorker(MakeWorker("worker-1")).ok());
    REQUIRE(store->PutArtifact("model/model-1", blob).ok());
    Enqueue(*store, "run-1", "batch-1",
            {MakeJob("j-1", "batch-1", "run-1", 2), MakeJob("j-2", "batch-1", "run-1", 1)});
    clock.Advance(std::chrono::seconds(1));
    REQUIRE(store->ClaimJobs("worker-1", 1, kLongLease).ok());
    REQUIRE(store->CompleteJob("j-1", "worker-1", MakeResult(2.5)).ok());
    REQUIRE(store->WorkerHeartbeat("worker-1", {"j-9"}).ok());

    run_before = MustGetRun(*store, "run-1");
    done_before = MustGetJob(*store, "j-1");
    pending_before = MustGetJob(*store, "j-2");
    generation = *store->GetGeneration("run-1", 1);
    lineage_before = *store->ListLineage("run-1");
    promotion_before = *store->GetPromotion("promo-1");
    workers_before = *store->ListWorkers();
  }

  std::unique_ptr<Store> store = MustOpen(path, options);
  CHECK(MustGetRun(*store, "run-1") == run_before);
  CHECK(run_before.config.hyperparameters == "{\"n_estimators\": 50}");
  CHECK(MustGetJob(*store, "j-1") == done_before);
  CHECK(done_before.result == std::optional<SimulationResult>(MakeResult(2.5)));
  CHECK(MustGetJob(*store, "j-2") == pending_before);
  CHECK(*store->GetGeneration("run-1", 1) == generation);
  Result<FingerprintRecord> looked_up = store->LookupFingerprint("fp-1");
  REQUIRE(looked_up.ok());
  CHECK(looked_up->spec.hyperparameters == "{\"max_depth\": 4}");
  CHECK(looked_up->model_id == "model-1");
  CHECK(*store->ListLineage("run-1") == lineage_before);
  CHECK(store->Ancestry("model-1")->size() == 2);
  CHECK(*store->GetPromotion("promo-1") == promotion_before);
  CHECK(*store->ListWorkers() == workers_before);
  CHECK(workers_before.at(0).current_jobs == std::vector<std::string>{"j-9"});
  CHECK(workers_before.at(0).jobs_completed == 1);
  CHECK(*store->GetArtifact("model/model-1") == blob);
  // The queue goes on where it stopped.
  Result<std::vector<Job>> claimed = store->ClaimJobs("worker-2", 5, kLongLease);
  REQUIRE(claimed.ok());
  REQUIRE(claimed->size() == 1);
  CHECK(claimed->front().id == "j-2");
}

TEST_CASE("sqlite store: a fresh file gets the latest schema, reopening changes nothing") {
  TempDir dir;
  const std::string path = dir.File("fresh.db");
  CHECK(LatestSchemaVersion() >= 1);
  MustOpen(path);
  CHECK(StoredSchemaVersion(path) == LatestSchemaVersion());
  SqliteOptions no_migrate;
  no_migrate.migrate = false;  // nothing is pending any more
  MustOpen(path, no_migrate);
  CHECK(StoredSchemaVersion(path) == LatestSchemaVersion());
}

TEST_CASE("sqlite store: a file from a newer libevolve is refused") {
  TempDir dir;
  const std::string path = dir.File("newer.db");
  MustOpen(path);
  const int newer = LatestSchemaVersion() + 1;
  RawExec(path, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (" + std::to_string(newer) +
                    ", 'future.sql', 0)");
  Result<std::unique_ptr<Store>> refused = OpenSqliteStore(path);
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
  CHECK_MESSAGE(Contains(refused.status().message(), "newer"), refused.status().ToString());
  CHECK_MESSAGE(Contains(refused.status().message(), path), refused.status().ToString());
}

TEST_CASE("sqlite store: a file behind this build is migrated, or refused with migrate=false") {
  TempDir dir;
  const std::string path = dir.File("older.db");
  // A database with no libevolve schema yet: version 0.
  RawExec(path, "CREATE TABLE unrelated (x INTEGER)");
  SqliteOptions no_migrate;
  no_migrate.migrate = false;
  Result<std::unique_ptr<Store>> refused = OpenSqliteStore(path, no_migrate);
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
  CHECK_MESSAGE(Contains(refused.status().message(), "evolve migrate"), refused.status().ToString());
  CHECK_MESSAGE(Contains(refused.status().message(), path), refused.status().ToString());

  std::unique_ptr<Store> migrated = MustOpen(path);
  CHECK(StoredSchemaVersion(path) == LatestSchemaVersion());
  CHECK(migrated->CreateRun(MakeRun("run-1")).ok());
}

TEST_CASE("sqlite store: a version 2 file with jobs is migrated, its jobs simulations") {
  TempDir dir;
  const std::string path = dir.File("version2.db");
  MakeSchemaVersion(path, 2);
  const std::string params = SqlLiteral(ToJson(MakeParams("model-old", 0.0003)));
  RawExec(
      path,
      "INSERT INTO priority_jobs (id, batch_id, run_id, model_id, generation, priority, status, params, "
      "result, error, worker_id, attempts, max_attempts, lease_until, created_at, updated_at, claim_token, "
      "deaths) VALUES ('old-pending', 'batch-old', 'run-old', 'model-old', 1, 2, 'PENDING', " +
          params + ", NULL, '', '', 0, 3, NULL, 1000, 1000, '', 0), ('old-done', 'batch-old', 'run-old', " +
          "'model-old', 1, 3, 'COMPLETED', " + params + ", " + SqlLiteral(ToJson(MakeResult(2.5))) +
          ", '', 'worker-0', 1, 3, NULL, 1000, 2000, '', 0)");

  std::unique_ptr<Store> store = MustOpen(path);
  CHECK(StoredSchemaVersion(path) == LatestSchemaVersion());
  OldJobsAreSimulations(*store);
}

// Options writing artifacts in chunks of `bytes`, so that the artifact
// checks of store_contract.h get several chunks from little data.
SqliteOptions SmallChunks(uint64_t bytes = 1000) {
  SqliteOptions options;
  options.artifact_chunk_bytes = bytes;
  return options;
}

TEST_CASE("sqlite store: artifacts are kept in chunks of their writer's size, read whatever their size") {
  TempDir dir;
  const std::string path = dir.File("chunks.db");
  std::unique_ptr<Store> small = MustOpen(path, SmallChunks());
  std::unique_ptr<Store> large = MustOpen(path, SmallChunks(3000));
  ArtifactsAreChunkedByTheirWriter(*small, *large, RawSqlOn(path));
}

TEST_CASE("sqlite store: an artifact chunk size out of range is refused") {
  TempDir dir;
  for (uint64_t chunk : {uint64_t{0}, kMaxArtifactChunkBytes + 1}) {
    Result<std::unique_ptr<Store>> refused = OpenSqliteStore(dir.File("refused.db"), SmallChunks(chunk));
    CHECK(refused.status().code() == StatusCode::kInvalidArgument);
    CHECK_MESSAGE(Contains(refused.status().message(), "artifact_chunk_bytes"), refused.status().ToString());
  }
  CHECK_FALSE(std::filesystem::exists(dir.File("refused.db")));
}

TEST_CASE("sqlite store: a put that fails part-way leaves no artifact and no chunk") {
  TempDir dir;
  const std::string path = dir.File("atomic.db");
  std::unique_ptr<Store> store = MustOpen(path, SmallChunks());
  APutFailingPartWayLeavesNothing(*store, RawSqlOn(path),
                                  "CREATE TRIGGER fail_third_chunk BEFORE INSERT ON artifact_chunks "
                                  "WHEN NEW.seq = 2 BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
                                  "DROP TRIGGER fail_third_chunk");
}

TEST_CASE("sqlite store: an artifact whose chunks do not add up is kInternal naming it") {
  TempDir dir;
  const std::string path = dir.File("corrupt.db");
  std::unique_ptr<Store> store = MustOpen(path, SmallChunks());
  ChunksNotAddingUpAreInternal(*store, RawSqlOn(path));
}

TEST_CASE("sqlite store: a version 3 file with artifacts is migrated, its artifacts byte for byte") {
  TempDir dir;
  const std::string path = dir.File("version3.db");
  MakeSchemaVersion(path, 3);
  // As version 3 wrote them, one blob each.
  RawExec(path, "INSERT INTO artifacts (key, bytes, created_at) VALUES ('model/old', " +
                    BlobLiteral(ArtifactBytes(300000)) + ", 1000), ('model/old-empty', X'', 2000)");

  std::unique_ptr<Store> store = MustOpen(path, SmallChunks());
  CHECK(StoredSchemaVersion(path) == LatestSchemaVersion());
  OldArtifactsReadBack(*store, RawSqlOn(path));
  // The old table and its bytes are gone.
  CHECK(RawValue(path, "SELECT group_concat(name, ',') FROM pragma_table_info('artifacts')") ==
        "key,size,chunks,created_at");
  CHECK(RawValue(path, "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'artifacts_v3%'") == "0");
}

TEST_CASE("sqlite store: threads and processes opening one new file at once all succeed") {
  TempDir dir;
  SUBCASE("threads") {
    const std::string path = dir.File("threads.db");
    constexpr int kOpeners = 6;
    std::vector<Status> outcomes(kOpeners);
    std::atomic<bool> go{false};
    std::vector<std::thread> openers;
    for (int i = 0; i < kOpeners; ++i) {
      openers.emplace_back([&, i] {
        while (!go) std::this_thread::yield();
        outcomes[static_cast<size_t>(i)] = OpenSqliteStore(path).status();
      });
    }
    go = true;
    for (std::thread& t : openers) t.join();
    for (const Status& s : outcomes) CHECK_MESSAGE(s.ok(), s.ToString());
    CHECK(StoredSchemaVersion(path) == LatestSchemaVersion());
  }
  SUBCASE("processes") {
    const std::string path = dir.File("processes.db");
    constexpr int kOpeners = 4;
    std::vector<pid_t> children;
    for (int i = 0; i < kOpeners; ++i) {
      const pid_t pid = fork();
      REQUIRE(pid >= 0);
      if (pid == 0) {
        Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
        const bool ok = store.ok() && (*store)->CreateRun(MakeRun("run-" + std::to_string(i))).ok();
        _exit(ok ? 0 : 1);
      }
      children.push_back(pid);
    }
    for (pid_t pid : children) {
      int status = 0;
      REQUIRE(waitpid(pid, &status, 0) == pid);
      CHECK(WIFEXITED(status));
      CHECK(WEXITSTATUS(status) == 0);
    }
    Result<std::vector<Run>> runs = MustOpen(path)->ListRuns(RunFilter{});
    REQUIRE(runs.ok());
    CHECK(runs->size() == static_cast<size_t>(kOpeners));
    CHECK(StoredSchemaVersion(path) == LatestSchemaVersion());
  }
}

TEST_CASE("sqlite store: files it cannot use give a clear error naming the path") {
  TempDir dir;
  SUBCASE("not a database") {
    const std::string path = dir.File("garbage.db");
    std::ofstream(path) << std::string(8192, '\x5a') << "this is not a SQLite file";
    Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
    CHECK(store.status().code() == StatusCode::kInternal);
    CHECK_MESSAGE(Contains(store.status().message(), path), store.status().ToString());
    CHECK_MESSAGE(Contains(store.status().message(), "not a SQLite database"), store.status().ToString());
  }
  SUBCASE("missing directory") {
    const std::string path = dir.File("no-such-dir/store.db");
    Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
    CHECK(store.status().code() == StatusCode::kUnavailable);
    CHECK_MESSAGE(Contains(store.status().message(), path), store.status().ToString());
  }
  SUBCASE("read-only file") {
    const std::string path = dir.File("readonly.db");
    MustOpen(path);
    REQUIRE(chmod(path.c_str(), 0444) == 0);
    if (geteuid() == 0) {
      // Permission bits do not stop root, so the file is writable after all.
      MESSAGE("running as root: a read-only file cannot be simulated; skipping that check");
    } else {
      Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
      CHECK(store.status().code() == StatusCode::kUnavailable);
      CHECK_MESSAGE(Contains(store.status().message(), path), store.status().ToString());
      CHECK_MESSAGE(Contains(store.status().message(), "read-only"), store.status().ToString());
    }
  }
}

TEST_CASE("sqlite store: a write blocked by another process past the busy timeout is kUnavailable") {
  TempDir dir;
  const std::string path = dir.File("locked.db");
  SqliteOptions options;
  options.busy_timeout = std::chrono::milliseconds(100);
  std::unique_ptr<Store> store = MustOpen(path, options);
  REQUIRE(store->CreateRun(MakeRun("run-1")).ok());

  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  const Status blocked = store->CreateRun(MakeRun("run-2"));
  CHECK(blocked.code() == StatusCode::kUnavailable);
  CHECK_MESSAGE(Contains(blocked.message(), "locked"), blocked.ToString());
  CHECK(store->GetRun("run-1").ok());  // WAL: readers are not blocked
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);

  CHECK(store->CreateRun(MakeRun("run-2")).ok());
}

TEST_CASE("sqlite store: a record that could not be read back is refused, not stored") {
  TempDir dir;
  std::unique_ptr<Store> store = MustOpen(dir.File("invalid.db"));
  Run run = MakeRun("run-bad");
  run.config.sqn_min = 9;  // > sqn_max
  const Status refused = store->CreateRun(run);
  CHECK(refused.code() == StatusCode::kInvalidArgument);
  CHECK_MESSAGE(Contains(refused.message(), "sqn_min"), refused.ToString());
  CHECK(store->GetRun("run-bad").status().code() == StatusCode::kNotFound);

  FingerprintRecord record;
  record.fingerprint = "fp-bad";
  record.spec.hyperparameters = "not json";
  CHECK(store->RecordFingerprint(record).status().code() == StatusCode::kInvalidArgument);
  CHECK(store->LookupFingerprint("fp-bad").status().code() == StatusCode::kNotFound);
}

TEST_CASE("sqlite store: a corrupt stored document is kInternal naming the table") {
  TempDir dir;
  const std::string path = dir.File("corrupt.db");
  std::unique_ptr<Store> store = MustOpen(path);
  EnsureRun(*store, "run-1");
  Generation generation;
  generation.run_id = "run-1";
  REQUIRE(store->SaveGeneration(generation).ok());
  RawExec(path, "UPDATE evolution_generations SET doc = '{\"oops\": 1}'");
  Result<Generation> got = store->GetGeneration("run-1", 0);
  CHECK(got.status().code() == StatusCode::kInternal);
  CHECK_MESSAGE(Contains(got.status().message(), "evolution_generations"), got.status().ToString());
}

TEST_CASE("sqlite store: a lineage cycle is reported, not followed") {
  TempDir dir;
  std::unique_ptr<Store> store = MustOpen(dir.File("cycle.db"));
  REQUIRE(store->AddLineageEdge(MakeEdge("edge-1", "run-1", "model-a", "model-b", 1)).ok());
  REQUIRE(store->AddLineageEdge(MakeEdge("edge-2", "run-1", "model-b", "model-a", 2)).ok());
  Result<std::vector<LineageEdge>> ancestry = store->Ancestry("model-b");
  CHECK(ancestry.status().code() == StatusCode::kInternal);
  CHECK_MESSAGE(Contains(ancestry.status().message(), "cycle"), ancestry.status().ToString());
}

TEST_CASE("sqlite store: a listener may call back into the store") {
  TempDir dir;
  std::unique_ptr<Store> store = MustOpen(dir.File("listener.db"));
  std::vector<std::string> claimed_ids;
  // Would deadlock if listeners were called with the store's mutex held.
  const int64_t handle = store->Subscribe([&](const QueueEvent& e) {
    if (e.kind != QueueEvent::Kind::kJobsAvailable) return;
    Result<std::vector<Job>> claimed = store->ClaimJobs("worker-1", 10, kLongLease);
    if (claimed.ok()) {
      for (const Job& job : *claimed) claimed_ids.push_back(job.id);
    }
  });
  Enqueue(*store, "run-1", "batch-1", {MakeJob("j-1", "batch-1", "run-1", 1)});
  store->Unsubscribe(handle);
  CHECK(claimed_ids == std::vector<std::string>{"j-1"});
}

TEST_CASE("sqlite store: claims and the reaper use the partial indexes") {
  TempDir dir;
  const std::string path = dir.File("plan.db");
  MustOpen(path);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  auto plan = [db](const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &stmt, nullptr) == SQLITE_OK);
    std::string text;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      text += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
      text += "\n";
    }
    sqlite3_finalize(stmt);
    return text;
  };
  // As ClaimJobs asks: the kinds (in no index) filter the walk.
  const std::string claim = plan(
      "SELECT id FROM priority_jobs WHERE status = 'PENDING' AND kind IN ('simulate', 'train', 'train') "
      "ORDER BY priority DESC, created_at, id LIMIT 3");
  CHECK_MESSAGE(Contains(claim, "priority_jobs_claim"), claim);
  CHECK_MESSAGE(!Contains(claim, "TEMP B-TREE"), claim);  // no sort: the index is the order
  const std::string reap = plan(
      "SELECT id FROM priority_jobs WHERE status = 'RUNNING' AND lease_until < 5 ORDER BY lease_until, id");
  CHECK_MESSAGE(Contains(reap, "priority_jobs_lease"), reap);
  sqlite3_close(db);
}

// Several worker processes drain one queue: every job is claimed once, by
// one process, and completed by it.
TEST_CASE("sqlite store: processes sharing the file never claim a job twice") {
  TempDir dir;
  const std::string path = dir.File("shared.db");
  constexpr int kJobs = 400;
  constexpr int kProcesses = 4;
  {
    // Closed before forking: a SQLite connection must not cross fork().
    std::unique_ptr<Store> store = MustOpen(path);
    std::vector<Job> jobs;
    for (int i = 0; i < kJobs; ++i) {
      jobs.push_back(MakeJob("job-" + std::to_string(i), "batch-mp", "run-mp", i % 7));
    }
    Enqueue(*store, "run-mp", "batch-mp", jobs);
  }

  struct Child {
    pid_t pid;
    int read_fd;
  };
  std::vector<Child> children;
  for (int p = 0; p < kProcesses; ++p) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // The child: no doctest here; the exit status and the pipe report.
      close(fds[0]);
      const std::string worker = "p" + std::to_string(p);
      int claimed = 0;
      bool ok = false;
      Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
      if (store.ok() && (*store)->RegisterWorker(MakeWorker(worker)).ok()) {
        ok = true;
        while (ok) {
          Result<std::vector<Job>> jobs = (*store)->ClaimJobs(worker, 3, std::chrono::seconds(60));
          if (!jobs.ok()) ok = false;
          if (!ok || jobs->empty()) break;
          for (const Job& job : *jobs) {
            ++claimed;
            if (!(*store)->CompleteJob(job.id, worker, MakeResult(1.0)).ok()) ok = false;
          }
        }
      }
      const bool written = write(fds[1], &claimed, sizeof claimed) == static_cast<ssize_t>(sizeof claimed);
      close(fds[1]);
      _exit(ok && written ? 0 : 1);
    }
    close(fds[1]);
    children.push_back(Child{pid, fds[0]});
  }

  std::map<std::string, int> reported;
  int total = 0;
  for (int p = 0; p < kProcesses; ++p) {
    int claimed = -1;
    CHECK(read(children[static_cast<size_t>(p)].read_fd, &claimed, sizeof claimed) ==
          static_cast<ssize_t>(sizeof claimed));
    close(children[static_cast<size_t>(p)].read_fd);
    int status = 0;
    REQUIRE(waitpid(children[static_cast<size_t>(p)].pid, &status, 0) ==
            children[static_cast<size_t>(p)].pid);
    CHECK(WIFEXITED(status));
    CHECK_MESSAGE(WEXITSTATUS(status) == 0, "worker p" << p << " failed");
    reported["p" + std::to_string(p)] = claimed;
    total += claimed;
  }
  CHECK(total == kJobs);

  std::unique_ptr<Store> store = MustOpen(path);
  Result<std::vector<Job>> jobs = store->ListJobs(JobFilter{});
  REQUIRE(jobs.ok());
  REQUIRE(jobs->size() == static_cast<size_t>(kJobs));
  std::map<std::string, int> completed_by;
  for (const auto& entry : reported) completed_by[entry.first] = 0;  // a process may have found nothing left
  for (const Job& job : *jobs) {
    CHECK(job.status == JobStatus::kCompleted);
    CHECK(job.attempts == 1);  // claimed exactly once
    ++completed_by[job.worker_id];
  }
  CHECK(completed_by == reported);
  Result<std::vector<WorkerInfo>> workers = store->ListWorkers();
  REQUIRE(workers.ok());
  for (const WorkerInfo& worker : *workers) CHECK(worker.jobs_completed == reported.at(worker.id));
}

TEST_CASE("sqlite store: a database without a file is refused") {
  for (const char* path : {":memory:", ""}) {
    CAPTURE(path);
    Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
    CHECK(store.status().code() == StatusCode::kFailedPrecondition);
    CHECK_MESSAGE(Contains(store.status().message(), "WAL"), store.status().ToString());
  }
}

TEST_CASE("sqlite store: a run locked through one store is refused through another on the same file") {
  TempDir dir;
  std::unique_ptr<Store> first = MustOpen(dir.File("locks.db"));
  std::unique_ptr<Store> second = MustOpen(dir.File("./locks.db"));  // another spelling, the same file
  RunLockExcludesAnotherStore(*first, *second);
}

TEST_CASE("sqlite store: a run held by a process killed with SIGKILL is free at once") {
  TempDir dir;
  const std::string path = dir.File("killed.db");
  RunLockOfKilledHolderIsFreed([&path] { return OpenSqliteStore(path); }, Duration::zero());
}

}  // namespace
}  // namespace evolve::sqlite
