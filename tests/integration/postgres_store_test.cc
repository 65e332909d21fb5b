// The PostgreSQL store on a real server (CTest's evolve_postgres fixture):
// the Store contract suite, claim priority over a backlog, many claimers
// with their own connections, concurrent migrations, reconnecting after a
// server restart, LISTEN/NOTIFY between stores, run locks across sessions
// and processes, on one session per store, and artifacts in chunks as the
// tables hold them.
#include "evolve/postgres/postgres_store.h"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "evolve/clock.h"
#include "evolve/json.h"
#include "evolve/log.h"
#include "evolve/status.h"
#include "evolve/store.h"
#include "postgres_test_support.h"
#include "crash_suite.h"
#include "store_contract.h"

namespace evolve::postgres {
namespace {

using testing::Opened;
using testing::OwningHarness;
using testing::QueryValue;
using testing::RealTimeHarness;
using testing::SqlSession;
using testing::TestDatabase;
using testing::TestServer;
using namespace testing::store_contract;  // NOLINT: the contract's fixtures (MakeJob, Enqueue, ...)

std::unique_ptr<Store> MustOpen(const std::string& url, const PostgresOptions& options = {}) {
  return Opened(OpenPostgresStore(url, options));
}

// The contract's RealTimeHarness over a store on a fresh database, dropped
// after the store is closed.
class PostgresHarness final : public OwningHarness<TestDatabase, RealTimeHarness> {
 public:
  PostgresHarness()
      : OwningHarness([](TestDatabase& database) {
          PostgresOptions options;
          options.artifact_chunk_bytes = testing::store_contract::kContractArtifactChunkBytes;
          return RealTimeHarness(MustOpen(database.url(), options));
        }) {}
};

// `count` jobs of one batch, all of `priority`.
std::vector<Job> MakeBatch(const std::string& prefix, const std::string& batch_id, const std::string& run_id,
                           int count, double priority) {
  std::vector<Job> jobs;
  for (int i = 0; i < count; ++i) {
    jobs.push_back(MakeJob(prefix + std::to_string(i), batch_id, run_id, priority));
  }
  return jobs;
}

// `bytes` as an SQL bytea literal (decode('00ff...', 'hex')).
std::string ByteaLiteral(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : bytes) {
    hex += kDigits[c >> 4];
    hex += kDigits[c & 0xf];
  }
  return "decode('" + hex + "', 'hex')";
}

// The database at `url` as version `version` of the store made it: its
// migrations, recorded as Migrate (postgres_schema.cc) records them.
void MakeSchemaVersion(const std::string& url, int version) {
  testing::ExecSql(url,
                   "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
                   "applied_at timestamptz NOT NULL)");
  for (int v = 1; v <= version; ++v) {
    const MigrationFile migration = ReadMigration("postgres", v);
    testing::ExecSql(url, migration.sql);
    testing::ExecSql(url, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (" +
                              std::to_string(v) + ", " + SqlLiteral(migration.name) + ", now())");
  }
}

// SQL on the database behind the store's back, for the artifact checks.
testing::store_contract::RawSql RawSqlOn(const std::string& url) {
  return {[url](const std::string& sql) { testing::ExecSql(url, sql); },
          [url](const std::string& sql) { return QueryValue(url, sql); }};
}

// Options writing artifacts in chunks of `bytes`, so that the artifact
// checks of store_contract.h get several chunks from little data.
PostgresOptions SmallChunks(uint64_t bytes = 1000) {
  PostgresOptions options;
  options.artifact_chunk_bytes = bytes;
  return options;
}

}  // namespace

EVOLVE_STORE_CONTRACT_TESTS("postgres", std::make_unique<PostgresHarness>())
EVOLVE_CRASH_AT_EVERY_WRITE_TEST("postgres", std::make_unique<PostgresHarness>())

namespace {

TEST_CASE("postgres store: a late high-priority batch is claimed before a backlog") {
  TestDatabase database;
  std::unique_ptr<Store> store = MustOpen(database.url());
  Enqueue(*store, "run-low", "batch-low", MakeBatch("low-", "batch-low", "run-low", 200, 0.5));
  std::this_thread::sleep_for(std::chrono::milliseconds(10));  // a later created_at
  Enqueue(*store, "run-high", "batch-high", MakeBatch("high-", "batch-high", "run-high", 10, 3.0));

  std::vector<std::string> claimed;
  for (int i = 0; i < 4; ++i) {  // claims of 3: the fourth crosses into the backlog
    Result<std::vector<Job>> jobs = store->ClaimJobs("worker-1", 3, kLongLease);
    REQUIRE_MESSAGE(jobs.ok(), jobs.status().ToString());
    for (const Job& job : *jobs) claimed.push_back(job.id);
  }
  REQUIRE(claimed.size() == 12);
  for (int i = 0; i < 10; ++i) CHECK_MESSAGE(claimed[i].rfind("high-", 0) == 0, claimed[i]);
  CHECK(claimed[10].rfind("low-", 0) == 0);
  CHECK(claimed[11].rfind("low-", 0) == 0);
}

TEST_CASE("postgres store: eight claimers with their own connections never share a job") {
  TestDatabase database;
  constexpr int kJobs = 2000;
  constexpr int kClaimers = 8;
  {
    std::unique_ptr<Store> store = MustOpen(database.url());
    for (int b = 0; b < 4; ++b) {
      const std::string batch = "batch-" + std::to_string(b);
      std::vector<Job> jobs;
      for (int i = 0; i < kJobs / 4; ++i) {
        jobs.push_back(MakeJob(batch + "-" + std::to_string(i), batch, "run-hammer", (b * 7 + i) % 5));
      }
      Enqueue(*store, "run-hammer", batch, jobs);
    }
  }

  std::vector<std::unique_ptr<Store>> stores;
  for (int t = 0; t < kClaimers; ++t) stores.push_back(MustOpen(database.url()));
  std::vector<std::vector<std::string>> claimed_by(kClaimers);
  std::vector<std::string> errors;
  std::mutex errors_mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < kClaimers; ++t) {
    threads.emplace_back([&, t] {
      Store& store = *stores[static_cast<size_t>(t)];
      const std::string worker = "worker-" + std::to_string(t);
      for (int round = 0;; ++round) {
        const int batch_size = 1 + (round + t) % 10;  // 1..10 at a time
        Result<std::vector<Job>> jobs = store.ClaimJobs(worker, batch_size, kLongLease);
        if (!jobs.ok()) {
          std::lock_guard<std::mutex> lock(errors_mu);
          errors.push_back(jobs.status().ToString());
          return;
        }
        if (jobs->empty()) return;
        std::vector<JobOutcome> outcomes;
        for (const Job& job : *jobs) {
          claimed_by[static_cast<size_t>(t)].push_back(job.id);
          JobOutcome outcome;
          outcome.job_id = job.id;
          outcome.result = MakeResult(1.0);
          outcomes.push_back(std::move(outcome));
        }
        // Half the rounds through FinishJobs, half job by job.
        if (round % 2 == 0) {
          Result<std::vector<Status>> done = store.FinishJobs(worker, outcomes);
          std::lock_guard<std::mutex> lock(errors_mu);
          if (!done.ok()) errors.push_back(done.status().ToString());
          if (done.ok()) {
            for (const Status& s : *done) {
              if (!s.ok()) errors.push_back(s.ToString());
            }
          }
        } else {
          for (const JobOutcome& outcome : outcomes) {
            Status done = store.CompleteJob(outcome.job_id, worker, *outcome.result);
            std::lock_guard<std::mutex> lock(errors_mu);
            if (!done.ok()) errors.push_back(done.ToString());
          }
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();

  CHECK_MESSAGE(errors.empty(), (errors.empty() ? "" : errors.front()));
  std::map<std::string, int> times_claimed;
  size_t total = 0;
  for (const auto& ids : claimed_by) {
    total += ids.size();
    for (const std::string& id : ids) ++times_claimed[id];
  }
  CHECK(total == static_cast<size_t>(kJobs));
  CHECK(times_claimed.size() == static_cast<size_t>(kJobs));
  for (const auto& entry : times_claimed) CHECK_MESSAGE(entry.second == 1, entry.first);
  JobFilter filter;
  filter.run_id = "run-hammer";
  Result<std::vector<Job>> all = stores.front()->ListJobs(filter);
  REQUIRE(all.ok());
  REQUIRE(all->size() == static_cast<size_t>(kJobs));
  for (const Job& job : *all) {
    CHECK_MESSAGE(job.status == JobStatus::kCompleted, job.id);
    CHECK_MESSAGE(job.attempts == 1, job.id);
  }
}

TEST_CASE("postgres store: processes migrating one fresh database at once both succeed") {
  TestDatabase database;
  // Both children wait on the pipe, so that they open the store together.
  int go[2];
  REQUIRE(pipe(go) == 0);
  std::vector<pid_t> children;
  for (int i = 0; i < 2; ++i) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(go[1]);
      char byte;
      if (read(go[0], &byte, 1) != 1) _exit(3);
      _exit(OpenPostgresStore(database.url()).ok() ? 0 : 1);
    }
    children.push_back(pid);
  }
  close(go[0]);
  REQUIRE(write(go[1], "gg", 2) == 2);
  close(go[1]);
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  // Each migration applied once.
  CHECK(QueryValue(database.url(), "SELECT count(*) || '/' || max(version) FROM schema_migrations") ==
        std::to_string(LatestSchemaVersion()) + "/" + std::to_string(LatestSchemaVersion()));
  std::unique_ptr<Store> store = MustOpen(database.url());
  EVOLVE_CONTRACT_OK(store->CreateRun(MakeRun("run-after-migration")));
}

TEST_CASE("postgres store: a version 4 database with jobs is migrated, its jobs simulations") {
  TestDatabase database;
  const std::string& url = database.url();
  MakeSchemaVersion(url, 4);
  // A live job in job_queue, a finished one in priority_jobs.
  const std::string columns =
      " (id, batch_id, run_id, model_id, generation, priority, status, params, result, error, worker_id, "
      "attempts, max_attempts, lease_until, created_at, updated_at, claim_token, deaths) VALUES ";
  const std::string params = SqlLiteral(ToJson(MakeParams("model-old", 0.0003)));
  testing::ExecSql(url, "INSERT INTO job_queue" + columns +
                            "('old-pending', 'batch-old', 'run-old', 'model-old', 1, 2, 'PENDING', " +
                            params + ", NULL, '', '', 0, 3, NULL, now(), now(), '', 0)");
  testing::ExecSql(url, "INSERT INTO priority_jobs" + columns +
                            "('old-done', 'batch-old', 'run-old', 'model-old', 1, 3, 'COMPLETED', " + params +
                            ", " + SqlLiteral(ToJson(MakeResult(2.5))) +
                            ", '', 'worker-0', 1, 3, NULL, now(), now(), '', 0)");

  std::unique_ptr<Store> store = MustOpen(url);
  CHECK(QueryValue(url, "SELECT max(version) FROM schema_migrations") ==
        std::to_string(LatestSchemaVersion()));
  // A job moves between the two tables whole: one column order (version 2).
  const std::string column_order =
      "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns "
      "WHERE table_schema = current_schema() AND table_name = ";
  const std::string live_columns = QueryValue(url, column_order + "'job_queue'");
  CHECK(live_columns == QueryValue(url, column_order + "'priority_jobs'"));
  CHECK_MESSAGE(Contains(live_columns, ",kind,task,output"), live_columns);
  OldJobsAreSimulations(*store);
}

TEST_CASE("postgres store: a version 5 database with artifacts is migrated, its artifacts byte for byte") {
  TestDatabase database;
  const std::string& url = database.url();
  MakeSchemaVersion(url, 5);
  // As version 5 wrote them, one bytea each.
  testing::ExecSql(url, "INSERT INTO artifacts (key, bytes, created_at) VALUES ('model/old', " +
                            ByteaLiteral(ArtifactBytes(300000)) + ", now()), ('model/old-empty', '', now())");

  std::unique_ptr<Store> store = MustOpen(url, SmallChunks());
  CHECK(QueryValue(url, "SELECT max(version) FROM schema_migrations") ==
        std::to_string(LatestSchemaVersion()));
  OldArtifactsReadBack(*store, RawSqlOn(url));
  // The old table and its bytes are gone; chunks are kept uncompressed, out of line.
  const std::string columns =
      "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns "
      "WHERE table_schema = current_schema() AND table_name = 'artifacts'";
  CHECK(QueryValue(url, columns) == "key,size,chunks,created_at");
  CHECK(QueryValue(url, "SELECT count(*) FROM pg_class WHERE relname LIKE 'artifacts_v5%'") == "0");
  CHECK(QueryValue(url,
                   "SELECT attstorage FROM pg_attribute WHERE attrelid = 'artifact_chunks'::regclass AND "
                   "attname = 'bytes'") == "e");
}

TEST_CASE("postgres store: artifacts are kept in chunks of their writer's size, read whatever their size") {
  TestDatabase database;
  std::unique_ptr<Store> small = MustOpen(database.url(), SmallChunks());
  std::unique_ptr<Store> large = MustOpen(database.url(), SmallChunks(3000));
  ArtifactsAreChunkedByTheirWriter(*small, *large, RawSqlOn(database.url()));
  for (uint64_t chunk : {uint64_t{0}, kMaxArtifactChunkBytes + 1}) {
    Result<std::unique_ptr<Store>> refused = OpenPostgresStore(database.url(), SmallChunks(chunk));
    CHECK(refused.status().code() == StatusCode::kInvalidArgument);
    CHECK_MESSAGE(Contains(refused.status().message(), "artifact_chunk_bytes"), refused.status().ToString());
  }
}

TEST_CASE("postgres store: a put that fails part-way leaves no artifact and no chunk") {
  TestDatabase database;
  PostgresOptions options = SmallChunks();
  options.pool_size = 1;  // the connection that failed is the one used next
  std::unique_ptr<Store> store = MustOpen(database.url(), options);
  APutFailingPartWayLeavesNothing(
      *store, RawSqlOn(database.url()),
      "CREATE FUNCTION fail_third_chunk() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.seq = 2 THEN "
      "RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$; "
      "CREATE TRIGGER fail_third_chunk BEFORE INSERT ON artifact_chunks FOR EACH ROW "
      "EXECUTE FUNCTION fail_third_chunk()",
      "DROP TRIGGER fail_third_chunk ON artifact_chunks");
}

TEST_CASE("postgres store: an artifact whose chunks do not add up is kInternal naming it") {
  TestDatabase database;
  std::unique_ptr<Store> store = MustOpen(database.url(), SmallChunks());
  ChunksNotAddingUpAreInternal(*store, RawSqlOn(database.url()));
}

// The planner's side of a claim by kind (postgres_queue.cc, ClaimJobs): a
// large claim of simulations on a table that was never analyzed, and one
// that was, walks job_queue_claim and never scans the table.
TEST_CASE("postgres store: claims by kind walk the claim index, analyzed or not") {
  TestDatabase database;
  const std::string& url = database.url();
  {
    std::unique_ptr<Store> store = MustOpen(url);
    testing::ExecSql(url, "ALTER TABLE job_queue SET (autovacuum_enabled = false)");  // never analyzed
    Enqueue(*store, "run-big", "batch-big", MakeBatch("big-", "batch-big", "run-big", 20000, 1));
    Enqueue(*store, "run-big", "batch-train",
            {MakeTrainingJob("train-0", "batch-train", "run-big", 0, JobKind::kTrain),
             MakeTrainingJob("assemble-0", "batch-train", "run-big", 0, JobKind::kAssemble)});
  }
  SqlSession sql(url);
  // The counters of job_queue, once every other session of the database
  // ended: a backend reports its counters before it leaves pg_stat_activity.
  auto counter = [&sql](const std::string& name) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (sql.Query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
                     "backend_type = 'client backend' AND pid <> pg_backend_pid()") != "0") {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::stoll(sql.Query("SELECT " + name + " FROM pg_stat_user_tables WHERE relname = 'job_queue'"));
  };
  for (const bool analyzed : {false, true}) {
    CAPTURE(analyzed);
    if (analyzed) sql.Query("ANALYZE job_queue");
    const int64_t seq_scans = counter("seq_scan");
    const int64_t index_scans = counter("idx_scan");
    const int claim_size = analyzed ? 1000 : 5000;
    {
      std::unique_ptr<Store> store = MustOpen(url);
      Result<std::vector<Job>> simulations = store->ClaimJobs("worker-sim", claim_size, kLongLease);
      EVOLVE_CONTRACT_OK(simulations);
      CHECK(simulations->size() == static_cast<size_t>(claim_size));
      Result<std::vector<Job>> all = store->ClaimJobs("worker-all", claim_size, kLongLease, JobKinds::All());
      EVOLVE_CONTRACT_OK(all);
      CHECK(all->size() == static_cast<size_t>(claim_size));
    }
    CHECK(counter("seq_scan") == seq_scans);
    CHECK(counter("idx_scan") >= index_scans + 2);
  }
}

TEST_CASE("postgres store: a database from a newer libevolve is refused") {
  TestDatabase database;
  MustOpen(database.url());
  testing::ExecSql(database.url(), "INSERT INTO schema_migrations (version, name, applied_at) VALUES (" +
                                       std::to_string(LatestSchemaVersion() + 1) +
                                       ", '9999_future.sql', now())");
  Result<std::unique_ptr<Store>> refused = OpenPostgresStore(database.url());
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
  CHECK_MESSAGE(Contains(refused.status().message(), "newer"), refused.status().ToString());
}

TEST_CASE("postgres store: a database behind the schema is refused when migrations are off") {
  TestDatabase database;
  PostgresOptions options;
  options.migrate = false;
  Result<std::unique_ptr<Store>> refused = OpenPostgresStore(database.url(), options);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
  CHECK_MESSAGE(Contains(refused.status().message(), "evolve migrate"), refused.status().ToString());
}

TEST_CASE("postgres store: an unreachable server is kUnavailable, naming the URL without the password") {
  PostgresOptions options;
  options.connect_timeout = std::chrono::seconds(2);
  // Port 1 on the loopback: nothing listens there.
  Result<std::unique_ptr<Store>> store =
      OpenPostgresStore("postgresql://evolve:s3cret@127.0.0.1:1/evolve", options);
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == StatusCode::kUnavailable);
  CHECK_MESSAGE(Contains(store.status().message(), "127.0.0.1:1/evolve"), store.status().ToString());
  CHECK_MESSAGE(!Contains(store.status().message(), "s3cret"), store.status().ToString());
}

TEST_CASE("postgres store: after a server restart calls reconnect and listeners are woken") {
  TestServer server;  // private: a restart would cut every other test's connections
  TestDatabase database(server.url());
  {
    std::unique_ptr<Store> store = MustOpen(database.url());
    Enqueue(*store, "run-restart", "batch-restart",
            {MakeJob("restart-1", "batch-restart", "run-restart", 1)});
    EventLog events;
    const int64_t handle = store->Subscribe([&events](const QueueEvent& e) { events.Add(e); });

    server.Restart();

    // The first call may find its connection cut; within a few seconds calls
    // succeed again, and what was written before is there.
    Result<Run> run = store->GetRun("run-restart");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!run.ok() && std::chrono::steady_clock::now() < deadline) {
      CHECK_MESSAGE(run.status().code() == StatusCode::kUnavailable, run.status().ToString());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      run = store->GetRun("run-restart");
    }
    REQUIRE_MESSAGE(run.ok(), run.status().ToString());
    CHECK(MustGetJob(*store, "restart-1").status == JobStatus::kPending);

    // The listener connection came back too, and said so: a wake-up with no
    // batch (events may have been missed while it was away).
    CHECK(events.WaitFor(QueueEvent::Kind::kJobsAvailable, ""));
    store->Unsubscribe(handle);
  }
}

TEST_CASE("postgres store: artifact calls after a server restart reconnect") {
  TestServer server;  // private: a restart would cut every other test's connections
  TestDatabase database(server.url());
  std::unique_ptr<Store> store = MustOpen(database.url(), SmallChunks());
  const std::string bytes = ArtifactBytes(5000);
  EVOLVE_CONTRACT_OK(store->PutArtifact("model/before", bytes));  // its connection is kept idle

  server.Restart();

  Result<std::string> got = store->GetArtifact("model/before");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!got.ok() && std::chrono::steady_clock::now() < deadline) {
    CHECK_MESSAGE(got.status().code() == StatusCode::kUnavailable, got.status().ToString());
    CHECK_MESSAGE(Contains(got.status().message(), database.url()), got.status().ToString());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    got = store->GetArtifact("model/before");
  }
  REQUIRE_MESSAGE(got.ok(), got.status().ToString());
  CHECK(*got == bytes);
  EVOLVE_CONTRACT_OK(store->PutArtifact("model/after", bytes));
  CheckArtifact(*store, "model/after", bytes);
}

TEST_CASE("postgres store: a listener hears another store's enqueue through NOTIFY") {
  TestDatabase database;
  std::unique_ptr<Store> listening = MustOpen(database.url());
  std::unique_ptr<Store> writing = MustOpen(database.url());
  EventLog heard;
  const int64_t handle = listening->Subscribe([&heard](const QueueEvent& e) { heard.Add(e); });

  Enqueue(*writing, "run-n", "batch-n", {MakeJob("n-1", "batch-n", "run-n", 1)});
  CHECK(heard.WaitFor(QueueEvent::Kind::kJobsAvailable, "batch-n"));
  for (const QueueEvent& e : heard.events()) {
    if (e.batch_id == "batch-n") CHECK(e.run_id == "run-n");
  }

  Result<std::vector<Job>> claimed = writing->ClaimJobs("worker-1", 1, kLongLease);
  REQUIRE(claimed.ok());
  REQUIRE(claimed->size() == 1);
  EVOLVE_CONTRACT_OK(writing->CompleteJob("n-1", "worker-1", MakeResult(1.0)));
  CHECK(heard.WaitFor(QueueEvent::Kind::kJobFinished, "batch-n"));
  listening->Unsubscribe(handle);

  // The writer's own listener hears its events once, not once more by NOTIFY.
  EventLog own;
  const int64_t own_handle = writing->Subscribe([&own](const QueueEvent& e) { own.Add(e); });
  Enqueue(*writing, "run-n", "batch-n2", {MakeJob("n2-1", "batch-n2", "run-n", 1)});
  REQUIRE(own.WaitFor(QueueEvent::Kind::kJobsAvailable, "batch-n2"));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // time for a duplicate to arrive
  int copies = 0;
  for (const QueueEvent& e : own.events()) copies += e.batch_id == "batch-n2" ? 1 : 0;
  CHECK(copies == 1);
  writing->Unsubscribe(own_handle);
}

// ----------------------------------------------------------------- run locks

// The advisory-lock key of `run_id` in SQL, derived as the store documents.
std::string RunKeySql(const std::string& run_id) {
  return "('x' || left(encode(sha256(convert_to('evolve/run/" + run_id +
         "', 'UTF8')), 'hex'), 16))::bit(64)::bigint";
}

// The run locks (bigint advisory locks) held in this database, as
// "locks/sessions".
constexpr char kHeldRunLocks[] =
    "SELECT count(*) || '/' || count(DISTINCT pid) FROM pg_locks WHERE locktype = 'advisory' "
    "AND objsubid = 1 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";

// The backend holding the lock of `run_id` in this database; "" for none.
std::string HolderOf(SqlSession& sql, const std::string& run_id) {
  return sql.Query(
      "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted AND database = "
      "(SELECT oid FROM pg_database WHERE datname = current_database()) AND "
      "((classid::bigint << 32) | objid::bigint) = " +
      RunKeySql(run_id));
}

// The log records written while it lives.
class CapturedLog {
 public:
  CapturedLog() {
    SetLogSink([this](LogLevel, const std::string& line) {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.push_back(line);
    });
  }
  ~CapturedLog() { SetLogSink(nullptr); }

  // Waits up to 10 s for a record containing every one of `parts`.
  bool WaitFor(const std::vector<std::string>& parts) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (const std::string& line : lines_) {
          if (std::all_of(parts.begin(), parts.end(),
                          [&line](const std::string& p) { return Contains(line, p); })) {
            return true;
          }
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

TEST_CASE("postgres store: a run locked through one store is refused through another session") {
  TestDatabase database;
  std::unique_ptr<Store> first = MustOpen(database.url());
  std::unique_ptr<Store> second = MustOpen(database.url());
  RunLockExcludesAnotherStore(*first, *second);
}

TEST_CASE("postgres store: a run held by a process killed with SIGKILL is freed by the server") {
  TestDatabase database;
  const std::string url = database.url();
  RunLockOfKilledHolderIsFreed([&url] { return OpenPostgresStore(url); }, std::chrono::seconds(10));
}

TEST_CASE("postgres store: fifty runs locked at once hold one session, on the documented keys") {
  TestDatabase database;
  std::unique_ptr<Store> store = MustOpen(database.url());
  SqlSession sql(database.url());
  const std::string connections =
      "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client "
      "backend'";
  EVOLVE_CONTRACT_OK(store->CountRuns());  // the pool's connection is open
  const int before = std::stoi(sql.Query(connections));

  std::vector<std::unique_ptr<RunLock>> locks;
  for (int i = 0; i < 50; ++i) {
    Result<std::unique_ptr<RunLock>> lock = store->TryLockRun("run-" + std::to_string(i));
    EVOLVE_CONTRACT_OK(lock);
    locks.push_back(std::move(lock).value());
  }
  CHECK(sql.Query(kHeldRunLocks) == "50/1");
  CHECK(std::stoi(sql.Query(connections)) == before + 1);  // the lock session, and nothing else
  for (int i : {0, 17, 49}) {
    CHECK_MESSAGE(!HolderOf(sql, "run-" + std::to_string(i)).empty(), "run-" << i << " not on its key");
  }
  locks.resize(10);
  CHECK(sql.Query(kHeldRunLocks) == "10/1");
  locks.clear();
  CHECK(sql.Query(kHeldRunLocks) == "0/0");
}

TEST_CASE("postgres store: a cut lock session is logged, reconnected, and its locks taken back") {
  TestDatabase database;
  CapturedLog log;
  std::unique_ptr<Store> store = MustOpen(database.url());
  std::unique_ptr<Store> other = MustOpen(database.url());
  SqlSession sql(database.url());
  Result<std::unique_ptr<RunLock>> kept = store->TryLockRun("run-kept");
  EVOLVE_CONTRACT_OK(kept);
  Result<std::unique_ptr<RunLock>> lost = store->TryLockRun("run-lost");
  EVOLVE_CONTRACT_OK(lost);
  const std::string session = HolderOf(sql, "run-kept");
  REQUIRE(!session.empty());

  // Cut the session while nobody can connect (set from another database:
  // not allowed on the current one), and take run-lost meanwhile: the
  // server released it with the session.
  const std::string server = testing::TestServerUrl();
  testing::ExecSql(server, "ALTER DATABASE " + database.name() + " ALLOW_CONNECTIONS false");
  REQUIRE(sql.Query("SELECT pg_terminate_backend(" + session + ", 10000)") == "t");
  REQUIRE(sql.Query("SELECT pg_try_advisory_lock(" + RunKeySql("run-lost") + ")") == "t");
  CHECK(log.WaitFor({"ERROR", "run-lock session lost", "run-kept", "run-lost"}));
  EVOLVE_CONTRACT_CODE(store->TryLockRun("run-new"), kUnavailable);  // no session to be had
  testing::ExecSql(server, "ALTER DATABASE " + database.name() + " ALLOW_CONNECTIONS true");

  // The store reconnects by itself and takes back what it still can.
  CHECK(log.WaitFor({"WARNING", "taken again", "run-kept"}));
  CHECK(log.WaitFor({"ERROR", "lost for good", "run-lost"}));
  const std::string new_session = HolderOf(sql, "run-kept");
  CHECK(!new_session.empty());
  CHECK(new_session != session);
  EVOLVE_CONTRACT_CODE(other->TryLockRun("run-kept"), kFailedPrecondition);
  EVOLVE_CONTRACT_CODE(other->TryLockRun("run-lost"), kFailedPrecondition);  // the SQL session has it

  lost->reset();  // void: releases nothing of the SQL session's
  CHECK(HolderOf(sql, "run-lost") == sql.Query("SELECT pg_backend_pid()"));
  REQUIRE(sql.Query("SELECT pg_advisory_unlock(" + RunKeySql("run-lost") + ")") == "t");
  EVOLVE_CONTRACT_OK(other->TryLockRun("run-lost"));
  kept->reset();
  EVOLVE_CONTRACT_OK(other->TryLockRun("run-kept"));
  EVOLVE_CONTRACT_OK(store->TryLockRun("run-new"));
}

}  // namespace
}  // namespace evolve::postgres
