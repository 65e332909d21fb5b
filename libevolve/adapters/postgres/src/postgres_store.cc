// PostgresStore: the Store contract on a PostgreSQL server.
//
// Every call is one READ COMMITTED transaction on a connection borrowed from
// a small pool, so calls of many threads (and processes, and hosts) run side
// by side and PostgreSQL's row locks order them:
//
// - A claim is one UPDATE whose subquery picks PENDING jobs in claim order
//   FOR UPDATE SKIP LOCKED: concurrent claimers skip each other's rows
//   instead of waiting, and a job is never handed out twice.
// - Fenced writes (heartbeat, complete, fail, release) are one UPDATE ...
//   WHERE id AND worker_id AND status = 'RUNNING'; only when it matches
//   nothing is the job read, to say why (CheckLeaseHolder's words).
// - Times are the server's now(), so hosts agree on leases whatever their
//   clocks say; they are read back as integer microseconds.
//
// Values go in as parameters only ($1, $2, ...); batches go in as array
// parameters expanded with unnest(), one statement however many rows.
//
// Queue events are sent twice, on purpose: to this process's listeners
// directly after COMMIT (fast, and with the store's locks released), and to
// other processes with NOTIFY inside the transaction (delivered on commit).
// The listener thread drops the NOTIFYs this store sent itself (they carry
// its origin token), so a local listener hears each event once.
//
// libpqxx: only API that 6.4 (Debian 12) and 7.x share. No libpqxx
// exception leaves this file: Transact maps them to Status.
#include "evolve/postgres/postgres_store.h"

#include <fcntl.h>
#include <poll.h>
#include <pqxx/pqxx>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "evolve/json.h"
#include "evolve/store_support.h"
#include "postgres_migrations.h"

namespace evolve::postgres {
namespace {

// Deeper than any real lineage (one edge per generation); reaching it means
// corrupt data, and stops the recursive query.
constexpr int kMaxAncestryDepth = 10000;
// Deadlocks and serialization failures are retried this many times before
// the call gives up with kUnavailable.
constexpr int kTransactionRetries = 5;
// The first key of libevolve's advisory locks (pg_advisory_xact_lock(int,
// int)); the second names what is locked.
constexpr int kLockSpace = 0x65766f6c;  // "evol"
constexpr int kMigrationLock = 1;
// The NOTIFY channel of queue events.
constexpr char kChannel[] = "evolve_jobs";
// How long the listener thread waits for input before it looks again (a
// closing store wakes it at once through its pipe; this only bounds a wait
// that nothing wakes).
constexpr int kListenPollMillis = 1000;

// `column` (timestamptz) as integer microseconds since the Unix epoch: exact,
// unlike the text form, which depends on the session's settings.
std::string Micros(const std::string& column) {
  return "(extract(epoch FROM " + column + ") * 1000000)::bigint";
}
// The same through double precision, cheaper where it runs for every row
// of a claim: a double holds any such time to well under a microsecond, so
// rounding gives back the exact value (checked against Micros for 2 million
// random times of 1970-2096).
std::string FloatMicros(const std::string& column) {
  return "round(date_part('epoch', " + column + ") * 1000000)::bigint";
}

// Column lists, in the order the readers below expect them.
const std::string& RunColumns() {
  static const std::string columns =
      "id, status, config::text, hyperparameters, data_options, current_generation, seed_model_id, "
      "best_sqn, best_model_id, promoted, promotion_id, stop_reason, error, " +
      Micros("created_at") + ", " + Micros("updated_at");
  return columns;
}
// Every column of job_queue and priority_jobs, in table order (the two
// tables have the same columns: a job moves from one to the other whole).
constexpr const char* kJobTableColumns =
    "id, batch_id, run_id, model_id, generation, priority, status, params, result, error, worker_id, "
    "attempts, max_attempts, lease_until, created_at, updated_at";
const std::string& JobColumns() {
  static const std::string columns =
      "id, batch_id, run_id, model_id, generation, priority, status, params::text, result::text, error, "
      "worker_id, attempts, max_attempts, " +
      Micros("lease_until") + ", " + Micros("created_at") + ", " + Micros("updated_at");
  return columns;
}
const std::string& FingerprintColumns() {
  static const std::string columns =
      "fingerprint, model_id, spec::text, hyperparameters, data_options, " + Micros("created_at");
  return columns;
}
const std::string& PromotionColumns() {
  static const std::string columns = "id, doc::text, hyperparameters, data_options, " + Micros("created_at");
  return columns;
}
const std::string& WorkerColumns() {
  static const std::string columns = "id, host, pid, status, " + Micros("started_at") + ", " +
                                     Micros("last_heartbeat") +
                                     ", current_jobs::text, jobs_completed, jobs_failed";
  return columns;
}

// ------------------------------------------------------------- parameters

// A double as text that reads back as the same double ("%.17g"); callers
// never pass NaN or infinities (ValidateBatch, optional metrics).
std::string Float(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  return buffer;
}

// An optional double for `NULLIF($n, '')::double precision`.
std::string OptionalFloat(const std::optional<double>& value) { return value ? Float(*value) : ""; }

// Builds a PostgreSQL array literal ({"a","b",NULL}): a whole batch in one
// parameter, for unnest().
class ArrayLiteral {
 public:
  void Add(std::string_view item) {
    Separate();
    out_ += '"';
    size_t plain = 0;  // start of the run of characters not yet copied
    for (size_t i = 0; i < item.size(); ++i) {
      if (item[i] != '"' && item[i] != '\\') continue;
      out_.append(item, plain, i - plain);
      out_ += '\\';
      plain = i;
    }
    out_.append(item, plain, std::string_view::npos);
    out_ += '"';
  }
  void Add(const std::string& item) { Add(std::string_view(item)); }
  void AddNull() {
    Separate();
    out_ += "NULL";
  }
  void Add(const std::optional<std::string>& item) {
    if (item.has_value()) {
      Add(std::string_view(*item));
    } else {
      AddNull();
    }
  }
  std::string Take() {
    out_ += '}';
    return std::move(out_);
  }

 private:
  void Separate() {
    if (!empty_) out_ += ',';
    empty_ = false;
  }
  std::string out_ = "{";
  bool empty_ = true;
};

// The array literal of `items`, unset ones NULL.
std::string ArrayOf(const std::vector<std::optional<std::string>>& items) {
  ArrayLiteral array;
  for (const auto& item : items) array.Add(item);
  return array.Take();
}

template <typename T, typename F>
std::string ArrayOf(const std::vector<T>& items, F to_text) {
  ArrayLiteral array;
  for (const T& item : items) array.Add(to_text(item));
  return array.Take();
}

std::string Hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> Unhex(std::string_view hex) {
  if (hex.size() % 2 != 0) return InternalError("odd-length hex from encode()");
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int high = HexDigit(hex[i]);
    const int low = HexDigit(hex[i + 1]);
    if (high < 0 || low < 0) return InternalError("bad hex digit from encode()");
    out += static_cast<char>(high << 4 | low);
  }
  return out;
}

// ------------------------------------------------------------------- rows

std::string Text(const pqxx::row& row, int column) {
  const pqxx::field field = row[column];
  return field.is_null() ? std::string() : std::string(field.c_str(), field.size());
}
int Int(const pqxx::row& row, int column) { return row[column].as<int>(); }
int64_t Int64(const pqxx::row& row, int column) { return row[column].as<long long>(); }  // NOLINT
// The text of a column, valid while its result lives; empty for NULL.
std::string_view View(const pqxx::row& row, int column) {
  const pqxx::field field = row[column];
  return std::string_view(field.c_str(), field.size());
}
// float8 text is shortest-exact: from_chars reads it back bit for bit, and
// without the stream and locale that pqxx's conversion sets up per value.
double Double(const pqxx::row& row, int column) {
  const std::string_view text = View(row, column);
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc() && end == text.data() + text.size()) return value;
  return row[column].as<double>();  // NaN, Infinity: pqxx's spelling rules
}
std::optional<double> OptionalDouble(const pqxx::row& row, int column) {
  if (row[column].is_null()) return std::nullopt;
  return Double(row, column);
}
TimePoint Time(const pqxx::row& row, int column) { return FromUnixMicros(Int64(row, column)); }
std::optional<TimePoint> OptionalTime(const pqxx::row& row, int column) {
  if (row[column].is_null()) return std::nullopt;
  return Time(row, column);
}

// Whether `json` reads back, so that a record is never stored in a form
// that every later read would reject.
template <typename T, typename Parse>
Status CheckReadable(const std::string& json, Parse parse, const std::string& what) {
  Result<T> back = parse(json);
  if (!back.ok()) return InvalidArgumentError(what + ": " + back.status().message());
  return Status::Ok();
}

// ----------------------------------------------------------------- errors

// SQLSTATEs of a connection that is gone: class 08 (connection exception)
// and the server shutting down or restarting.
bool IsConnectionLoss(const std::string& sqlstate) {
  return sqlstate.rfind("08", 0) == 0 || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03";
}

// Deadlock and serialization failure: the transaction may simply be retried.
bool IsRetryable(const std::string& sqlstate) { return sqlstate == "40001" || sqlstate == "40P01"; }

// The URL with the password elided: from the userinfo of a URL
// (user:secret@host) and from any password=... setting.
std::string ElidePassword(const std::string& url) {
  std::string shown = url;
  const size_t scheme = shown.find("://");
  if (scheme != std::string::npos) {
    const size_t authority = scheme + 3;
    const size_t end = shown.find_first_of("/?", authority);
    const size_t at = shown.rfind('@', end == std::string::npos ? std::string::npos : end);
    if (at != std::string::npos && at >= authority) {
      const size_t colon = shown.find(':', authority);
      if (colon != std::string::npos && colon < at) shown.erase(colon, at - colon);
    }
  }
  static const std::regex kPassword("(password\\s*=\\s*)('[^']*'|[^&\\s]*)");
  return std::regex_replace(shown, kPassword, "$1***");
}

// `url` with libpq's connect_timeout, in whichever form `url` is written.
std::string WithConnectTimeout(const std::string& url, std::chrono::seconds timeout) {
  const std::string setting = "connect_timeout=" + std::to_string(timeout.count());
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    return url + (url.find('?') == std::string::npos ? "?" : "&") + setting;
  }
  return url.empty() ? setting : url + " " + setting;
}

std::string RandomToken() {
  std::random_device device;
  std::mt19937_64 generator((static_cast<uint64_t>(device()) << 32) ^ device());
  char buffer[17];
  std::snprintf(buffer, sizeof(buffer), "%016llx", static_cast<unsigned long long>(generator()));  // NOLINT
  return buffer;
}

// The two statements of every claim and every finish, prepared once per
// pooled connection (Impl::Borrow): parsing and planning them was ~5% of the
// server's time per job. Their comments are in ClaimJobs and Impl::Finish.
constexpr const char* kClaimStatement = "evolve_claim";
constexpr const char* kFinishStatement = "evolve_finish";
const std::string& ClaimSql() {
  static const std::string sql = std::string(
      "UPDATE job_queue SET status = 'RUNNING', worker_id = $1, attempts = attempts + 1, "
      "lease_until = now() + $2::bigint * interval '1 microsecond', updated_at = now() "
      "WHERE ctid = ANY(ARRAY(SELECT ctid FROM job_queue WHERE status <> 'RUNNING' "
      "ORDER BY priority DESC, created_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)) AND status <> 'RUNNING' "
      "RETURNING id, batch_id, run_id, model_id, generation, priority, status, params, result, error, "
      "worker_id, attempts, max_attempts, ") +
      FloatMicros("lease_until") + ", " + FloatMicros("created_at") + ", " + FloatMicros("updated_at");
  return sql;
}
const std::string& FinishSql() {
  static const std::string sql = std::string(
      "WITH input AS (SELECT * FROM unnest($2::text[], string_to_array($3, E'\\x1e', 'null'), "
      "  $4::text[], $5::boolean[]) "
      "  AS i (job_id, result, error, retryable)), "
      "retried AS (UPDATE job_queue AS j SET status = 'PENDING', error = i.error, worker_id = '', "
      "  lease_until = NULL, updated_at = now() "
      "  FROM input AS i WHERE j.id = i.job_id AND j.worker_id = $1 AND j.status = 'RUNNING' "
      "  AND i.result IS NULL AND i.retryable AND j.attempts < j.max_attempts "
      "  RETURNING j.id, j.status, j.run_id, j.batch_id), "
      "ended AS (DELETE FROM job_queue AS j USING input AS i "
      "  WHERE j.id = i.job_id AND j.worker_id = $1 AND j.status = 'RUNNING' "
      "  AND NOT (i.result IS NULL AND i.retryable AND j.attempts < j.max_attempts) "
      "  RETURNING j.*, i.result AS new_result, i.error AS new_error), "
      "finished AS (INSERT INTO priority_jobs (") +
      kJobTableColumns +
      ") SELECT id, batch_id, run_id, model_id, generation, priority, "
      "  CASE WHEN new_result IS NOT NULL THEN 'COMPLETED' ELSE 'FAILED' END, params, "
      "  COALESCE(new_result, result), CASE WHEN new_result IS NOT NULL THEN '' ELSE new_error END, "
      "  worker_id, attempts, max_attempts, NULL, created_at, now() FROM ended "
      "  RETURNING id, status, run_id, batch_id), "
      "done AS (SELECT * FROM finished UNION ALL SELECT * FROM retried), "
      "counted AS (UPDATE workers SET "
      "  jobs_completed = jobs_completed + (SELECT count(*) FROM finished WHERE status = "
      "'COMPLETED'), "
      "  jobs_failed = jobs_failed + (SELECT count(*) FROM finished WHERE status = 'FAILED') "
      "  WHERE id = $1 AND EXISTS (SELECT 1 FROM finished)) "
      "SELECT id, status, run_id, batch_id FROM done";
  return sql;
}

const char* KindName(QueueEvent::Kind kind) {
  return kind == QueueEvent::Kind::kJobsAvailable ? "available" : "finished";
}

}  // namespace

struct PostgresStore::Impl {
  std::string conninfo;  // the caller's URL plus connect_timeout
  std::string url;       // as messages show it: no password
  PostgresOptions options;
  int schema_version = 0;
  // Names this store in its NOTIFY payloads, so that its listener thread can
  // drop what the store already told its listeners directly.
  std::string origin = RandomToken();

  std::mutex pool_mu;
  std::vector<std::unique_ptr<pqxx::connection>> idle;  // guarded by pool_mu

  QueueListeners listeners;

  // The LISTEN thread, started by the first Subscribe.
  std::mutex listen_mu;
  std::condition_variable listen_cv;
  bool listen_started = false;  // guarded by listen_mu
  bool listen_tried = false;    // the first connection attempt is over; guarded by listen_mu
  bool stopping = false;        // guarded by listen_mu
  std::thread listen_thread;
  // Written to when the store closes, so the listener thread, which waits
  // in poll() on its connection and this pipe, wakes at once.
  int wake_pipe[2] = {-1, -1};

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(listen_mu);
      stopping = true;
    }
    listen_cv.notify_all();
    if (wake_pipe[1] >= 0) {
      const char byte = 1;
      (void)!::write(wake_pipe[1], &byte, 1);
    }
    if (listen_thread.joinable()) listen_thread.join();
    for (int fd : wake_pipe) {
      if (fd >= 0) ::close(fd);
    }
  }

  Status Unavailable(const std::string& what) const {
    return UnavailableError("postgres " + url + ": connection lost: " + what);
  }

  Result<std::unique_ptr<pqxx::connection>> Connect() const {
    try {
      return std::make_unique<pqxx::connection>(conninfo);
    } catch (const std::exception& e) {
      return UnavailableError("postgres " + url + ": cannot connect: " + e.what());
    }
  }

  Result<std::unique_ptr<pqxx::connection>> Borrow() {
    {
      std::lock_guard<std::mutex> lock(pool_mu);
      if (!idle.empty()) {
        std::unique_ptr<pqxx::connection> conn = std::move(idle.back());
        idle.pop_back();
        return conn;
      }
    }
    EVOLVE_ASSIGN_OR_RETURN(std::unique_ptr<pqxx::connection> conn, Connect());
    // The pool's connections have the queue's statements prepared, once the
    // schema they name exists (Open drops the connection that migrated it).
    if (schema_version > 0) {
      try {
        conn->prepare(kClaimStatement, ClaimSql());
        conn->prepare(kFinishStatement, FinishSql());
      } catch (const pqxx::broken_connection& e) {
        return Unavailable(e.what());
      } catch (const std::exception& e) {
        return InternalError("postgres " + url + ": preparing the queue's statements: " + e.what());
      }
    }
    return conn;
  }

  void GiveBack(std::unique_ptr<pqxx::connection> conn) {
    std::lock_guard<std::mutex> lock(pool_mu);
    if (static_cast<int>(idle.size()) < options.pool_size) idle.push_back(std::move(conn));
  }

  // After one connection was lost the idle ones most likely were too (a
  // server restart cuts them all): drop them, so that the next call
  // connects afresh instead of failing on each in turn.
  void DropIdle() {
    std::vector<std::unique_ptr<pqxx::connection>> dropped;
    std::lock_guard<std::mutex> lock(pool_mu);
    dropped.swap(idle);
  }

  // Runs `body(tx)` in one transaction and commits when it returns OK;
  // otherwise everything it did is rolled back. Deadlocks are retried; a lost
  // connection is kUnavailable; any other database error kInternal.
  template <typename F>
  auto Transact(F&& body) -> decltype(body(std::declval<pqxx::work&>())) {
    using R = decltype(body(std::declval<pqxx::work&>()));
    for (int attempt = 0;; ++attempt) {
      EVOLVE_ASSIGN_OR_RETURN(std::unique_ptr<pqxx::connection> conn, Borrow());
      try {
        std::optional<R> result;
        {
          pqxx::work tx(*conn);
          result.emplace(body(tx));
          if (result->ok()) tx.commit();
        }  // a transaction not committed is rolled back here
        GiveBack(std::move(conn));
        return std::move(*result);
      } catch (const pqxx::sql_error& e) {
        if (IsConnectionLoss(e.sqlstate())) {
          DropIdle();
          return Unavailable(e.what());
        }
        if (IsRetryable(e.sqlstate())) {
          GiveBack(std::move(conn));
          if (attempt < kTransactionRetries) continue;
          return UnavailableError("postgres " + url + ": gave up after " + std::to_string(attempt + 1) +
                                  " attempts: " + e.what());
        }
        GiveBack(std::move(conn));
        return InternalError("postgres " + url + ": " + e.what());
      } catch (const pqxx::in_doubt_error& e) {
        DropIdle();
        return UnavailableError("postgres " + url +
                                ": connection lost during commit (outcome unknown): " + e.what());
      } catch (const pqxx::broken_connection& e) {
        DropIdle();
        return Unavailable(e.what());
      } catch (const std::exception& e) {
        // The connection's state is unknown: it is not reused.
        return InternalError("postgres " + url + ": " + e.what());
      }
    }
  }

  // Transact for writes that raise queue events: `body(tx, &events)`. The
  // events are sent with NOTIFY in the transaction (other processes hear
  // them on commit) and to this process's listeners after commit.
  template <typename F>
  auto Write(F&& body) -> decltype(body(std::declval<pqxx::work&>(), nullptr)) {
    using R = decltype(body(std::declval<pqxx::work&>(), nullptr));
    std::vector<QueueEvent> events;
    R result = Transact([&](pqxx::work& tx) -> R {
      events.clear();  // a retried transaction starts over
      R r = body(tx, &events);
      if (r.ok() && !events.empty()) SendNotifications(tx, events);
      return r;
    });
    if (result.ok()) listeners.Notify(events);
    return result;
  }

  void SendNotifications(pqxx::work& tx, const std::vector<QueueEvent>& events) const {
    std::vector<std::optional<std::string>> payloads;
    for (const QueueEvent& e : events) {
      payloads.push_back(ToJson(std::vector<std::string>{origin, KindName(e.kind), e.run_id, e.batch_id}));
    }
    tx.exec_params("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", kChannel, ArrayOf(payloads));
  }

  Status Migrate(bool migrate);
  void StartListener();
  void ListenLoop();
  void Deliver(const std::string& payload);

  Status Corrupt(const std::string& table, const std::string& key, const std::string& problem) const {
    return InternalError("postgres " + url + ": " + table + " " + key + ": " + problem);
  }
  template <typename T, typename Parse>
  Result<T> ReadDoc(std::string_view json, Parse parse, const std::string& table,
                    const std::string& key) const {
    Result<T> value = parse(json);
    if (!value.ok()) return Corrupt(table, key, "unreadable JSON: " + value.status().message());
    return value;
  }

  // Readers of one row of the column lists above.
  Result<Run> ReadRun(const pqxx::row& row) const;
  Result<Job> ReadJob(const pqxx::row& row) const;
  Result<FingerprintRecord> ReadFingerprint(const pqxx::row& row) const;
  Result<Promotion> ReadPromotion(const pqxx::row& row) const;
  Result<WorkerInfo> ReadWorker(const pqxx::row& row) const;
  Result<LineageEdge> ReadEdge(const std::string& id, const std::string& doc, TimePoint created_at) const;
  // A row of (doc, updated_at micros).
  Result<Generation> ReadGeneration(const std::string& key, const pqxx::row& row) const;

  // Why a fenced UPDATE of `job_id` by `worker_id` matched nothing:
  // kNotFound, or kAborted in CheckLeaseHolder's words.
  Status Refusal(pqxx::work& tx, const std::string& job_id, const std::string& worker_id) const;

  // CompleteJob / FailJob / FinishJobs: one transaction for all outcomes.
  Result<std::vector<Status>> Finish(const std::string& worker_id, const std::vector<JobOutcome>& outcomes);
};

// ---------------------------------------------------------------- open

int LatestSchemaVersion() { return Migrations().empty() ? 0 : Migrations().back().version; }

Status PostgresStore::Impl::Migrate(bool migrate) {
  return Transact([&](pqxx::work& tx) -> Status {
    // Processes opening one database together take turns here; the second
    // finds the schema up to date.
    tx.exec_params("SELECT pg_advisory_xact_lock($1, $2)", kLockSpace, kMigrationLock);
    tx.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
        "applied_at timestamptz NOT NULL)");
    const int current = tx.exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")[0][0].as<int>();
    const int latest = LatestSchemaVersion();
    if (current > latest) {
      return FailedPreconditionError("postgres " + url + ": schema version " + std::to_string(current) +
                                     " is newer than this build's " + std::to_string(latest) +
                                     "; use a newer libevolve");
    }
    if (current < latest && !migrate) {
      return FailedPreconditionError("postgres " + url + ": schema version " + std::to_string(current) +
                                     " is behind this build's " + std::to_string(latest) +
                                     "; run `evolve migrate` to upgrade it");
    }
    for (const Migration& migration : Migrations()) {
      if (migration.version <= current) continue;
      tx.exec(migration.sql);
      tx.exec_params("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())",
                     migration.version, std::string(migration.name));
    }
    schema_version = latest;
    return Status::Ok();
  });
}

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(const std::string& url,
                                                           const PostgresOptions& options) {
  const std::vector<Migration>& migrations = Migrations();
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return InternalError(std::string("sql/postgres: migration ") + migrations[i].name +
                           " should be number " + std::to_string(i + 1) +
                           ": versions must run 1, 2, ... without gaps");
    }
  }
  auto impl = std::make_unique<Impl>();
  impl->url = ElidePassword(url);
  if (options.pool_size < 1) {
    return InvalidArgumentError("postgres " + impl->url + ": pool_size must be >= 1, got " +
                                std::to_string(options.pool_size));
  }
  if (options.connect_timeout < std::chrono::seconds(1)) {
    return InvalidArgumentError("postgres " + impl->url + ": connect_timeout must be at least 1 s");
  }
  impl->options = options;
  impl->conninfo = WithConnectTimeout(url, options.connect_timeout);
  EVOLVE_RETURN_IF_ERROR(impl->Migrate(options.migrate));
  // That connection was made before the schema was known to exist, so
  // without the prepared statements: the pool starts afresh.
  impl->DropIdle();
  return std::unique_ptr<PostgresStore>(new PostgresStore(std::move(impl)));
}

PostgresStore::PostgresStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PostgresStore::~PostgresStore() = default;

const std::string& PostgresStore::url() const { return impl_->url; }

int PostgresStore::schema_version() const { return impl_->schema_version; }

Clock& PostgresStore::clock() { return *RealClock(); }

namespace {

// Holds its connection, and so the session's advisory lock, until destroyed.
class AdvisorySessionLock final : public PostgresStore::SessionLock {
 public:
  explicit AdvisorySessionLock(std::unique_ptr<pqxx::connection> conn) : conn_(std::move(conn)) {}

 private:
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace

Result<std::unique_ptr<PostgresStore::SessionLock>> PostgresStore::TryLock(const std::string& name) {
  EVOLVE_ASSIGN_OR_RETURN(std::unique_ptr<pqxx::connection> conn, impl_->Connect());
  try {
    pqxx::nontransaction tx(*conn);
    // hashtext: a 32-bit key from the name; the "evolve" class key keeps it
    // apart from other applications' advisory locks on the same server.
    const pqxx::row row =
        tx.exec_params1("SELECT pg_try_advisory_lock(hashtext('evolve'), hashtext($1))", name);
    if (!row[0].as<bool>()) return AbortedError("lock '" + name + "' is held by another session");
  } catch (const pqxx::broken_connection& e) {
    return impl_->Unavailable(e.what());
  } catch (const std::exception& e) {
    return InternalError("postgres " + impl_->url + ": taking lock '" + name + "': " + e.what());
  }
  return std::unique_ptr<SessionLock>(new AdvisorySessionLock(std::move(conn)));
}

// ---------------------------------------------------------------- readers

Result<Run> PostgresStore::Impl::ReadRun(const pqxx::row& row) const {
  Run run;
  run.id = Text(row, 0);
  if (!ParseRunStatus(Text(row, 1), &run.status)) {
    return Corrupt("evolution_runs", run.id, "unknown status '" + Text(row, 1) + "'");
  }
  EVOLVE_ASSIGN_OR_RETURN(run.config,
                          ReadDoc<EvolutionConfig>(
                              Text(row, 2), [](std::string_view j) { return EvolutionConfigFromJson(j); },
                              "evolution_runs", run.id));
  run.config.hyperparameters = Text(row, 3);
  run.config.data_options = Text(row, 4);
  run.current_generation = Int(row, 5);
  run.seed_model_id = Text(row, 6);
  run.best_sqn = OptionalDouble(row, 7);
  run.best_model_id = Text(row, 8);
  run.promoted = row[9].as<bool>();
  run.promotion_id = Text(row, 10);
  run.stop_reason = Text(row, 11);
  run.error = Text(row, 12);
  run.created_at = Time(row, 13);
  run.updated_at = Time(row, 14);
  return run;
}

Result<Job> PostgresStore::Impl::ReadJob(const pqxx::row& row) const {
  Job job;
  job.id = Text(row, 0);
  job.batch_id = Text(row, 1);
  job.run_id = Text(row, 2);
  job.model_id = Text(row, 3);
  job.generation = Int(row, 4);
  job.priority = Double(row, 5);
  const std::string status = Text(row, 6);
  if (!ParseJobStatus(status, &job.status)) {
    return Corrupt("priority_jobs", job.id, "unknown status '" + status + "'");
  }
  EVOLVE_ASSIGN_OR_RETURN(job.params,
                          ReadDoc<SimulationParams>(
                              View(row, 7), [](std::string_view j) { return SimulationParamsFromJson(j); },
                              "priority_jobs", job.id));
  if (!row[8].is_null()) {
    EVOLVE_ASSIGN_OR_RETURN(job.result,
                            ReadDoc<SimulationResult>(
                                View(row, 8), [](std::string_view j) { return SimulationResultFromJson(j); },
                                "priority_jobs", job.id));
  }
  job.error = Text(row, 9);
  job.worker_id = Text(row, 10);
  job.attempts = Int(row, 11);
  job.max_attempts = Int(row, 12);
  job.lease_until = OptionalTime(row, 13);
  job.created_at = Time(row, 14);
  job.updated_at = Time(row, 15);
  return job;
}

Result<FingerprintRecord> PostgresStore::Impl::ReadFingerprint(const pqxx::row& row) const {
  FingerprintRecord record;
  record.fingerprint = Text(row, 0);
  record.model_id = Text(row, 1);
  EVOLVE_ASSIGN_OR_RETURN(record.spec,
                          ReadDoc<ModelSpec>(
                              Text(row, 2), [](std::string_view j) { return ModelSpecFromJson(j); },
                              "model_fingerprints", record.fingerprint));
  record.spec.hyperparameters = Text(row, 3);
  record.spec.data_options = Text(row, 4);
  record.created_at = Time(row, 5);
  return record;
}

Result<Promotion> PostgresStore::Impl::ReadPromotion(const pqxx::row& row) const {
  EVOLVE_ASSIGN_OR_RETURN(Promotion promotion,
                          ReadDoc<Promotion>(
                              Text(row, 1), [](std::string_view j) { return PromotionFromJson(j); },
                              "promoted_models", Text(row, 0)));
  promotion.spec.hyperparameters = Text(row, 2);
  promotion.spec.data_options = Text(row, 3);
  promotion.created_at = Time(row, 4);
  return promotion;
}

Result<WorkerInfo> PostgresStore::Impl::ReadWorker(const pqxx::row& row) const {
  WorkerInfo worker;
  worker.id = Text(row, 0);
  worker.host = Text(row, 1);
  worker.pid = Int64(row, 2);
  worker.status = Text(row, 3);
  worker.started_at = Time(row, 4);
  worker.last_heartbeat = Time(row, 5);
  EVOLVE_ASSIGN_OR_RETURN(
      worker.current_jobs,
      ReadDoc<std::vector<std::string>>(
          Text(row, 6), [](std::string_view j) { return StringListFromJson(j); }, "workers", worker.id));
  worker.jobs_completed = Int64(row, 7);
  worker.jobs_failed = Int64(row, 8);
  return worker;
}

Result<LineageEdge> PostgresStore::Impl::ReadEdge(const std::string& id, const std::string& doc,
                                                  TimePoint created_at) const {
  EVOLVE_ASSIGN_OR_RETURN(
      LineageEdge edge,
      ReadDoc<LineageEdge>(
          doc, [](std::string_view j) { return LineageEdgeFromJson(j); }, "evolution_log", id));
  edge.created_at = created_at;
  return edge;
}

// ---------------------------------------------------------------- RunStore

Status PostgresStore::CreateRun(const Run& run) {
  if (run.id.empty()) return InvalidArgumentError("run id: must not be empty");
  const std::string config = ToJson(run.config);
  EVOLVE_RETURN_IF_ERROR(CheckReadable<EvolutionConfig>(
      config, [](std::string_view j) { return EvolutionConfigFromJson(j); }, "run " + run.id + ": config"));
  return impl_->Transact([&](pqxx::work& tx) -> Status {
    const pqxx::result inserted = tx.exec_params(
        "INSERT INTO evolution_runs (id, symbol, status, config, hyperparameters, data_options, "
        "current_generation, seed_model_id, best_sqn, best_model_id, promoted, promotion_id, stop_reason, "
        "error, created_at, updated_at) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, "
        "NULLIF($9, '')::double precision, $10, $11::boolean, $12, $13, $14, now(), now()) "
        "ON CONFLICT (id) DO NOTHING RETURNING 1",
        run.id, run.config.symbol, std::string(RunStatusName(run.status)), config, run.config.hyperparameters,
        run.config.data_options, run.current_generation, run.seed_model_id, OptionalFloat(run.best_sqn),
        run.best_model_id, std::string(run.promoted ? "true" : "false"), run.promotion_id, run.stop_reason,
        run.error);
    if (inserted.empty()) return AlreadyExistsError("run " + run.id + " exists");
    return Status::Ok();
  });
}

Result<Run> PostgresStore::GetRun(const std::string& run_id) {
  return impl_->Transact([&](pqxx::work& tx) -> Result<Run> {
    const pqxx::result rows =
        tx.exec_params("SELECT " + RunColumns() + " FROM evolution_runs WHERE id = $1", run_id);
    if (rows.empty()) return NotFoundError("run " + run_id + " not found");
    return impl_->ReadRun(rows[0]);
  });
}

Result<RunCounts> PostgresStore::CountRuns() {
  return impl_->Transact([&](pqxx::work& tx) -> Result<RunCounts> {
    const pqxx::result rows = tx.exec("SELECT status, count(*) FROM evolution_runs GROUP BY status");
    RunCounts counts;
    for (const pqxx::row& row : rows) {
      RunStatus status;
      const std::string name = row[0].as<std::string>();
      if (!ParseRunStatus(name, &status)) return InternalError("evolution_runs: unknown status '" + name + "'");
      counts.by_status[status] = row[1].as<int64_t>();
    }
    return counts;
  });
}

Result<std::vector<Run>> PostgresStore::ListRuns(const RunFilter& filter) {
  EVOLVE_RETURN_IF_ERROR(CheckPage(filter.limit, filter.offset));
  const std::string status = filter.status.has_value() ? RunStatusName(*filter.status) : "";
  return impl_->Transact([&](pqxx::work& tx) -> Result<std::vector<Run>> {
    // Newest first; the larger id first among equal times, so pages are
    // stable. LIMIT NULL is no limit. The page's ids are chosen first, so
    // the rows an OFFSET skips are not turned into text (config::text of
    // 500 skipped runs cost 10x the page itself).
    const pqxx::result rows =
        tx.exec_params("SELECT " + RunColumns() +
                           " FROM evolution_runs WHERE id IN (SELECT id FROM evolution_runs "
                           "WHERE ($1 = '' OR status = $1) ORDER BY created_at DESC, id DESC "
                           "LIMIT NULLIF($2, 0) OFFSET $3) ORDER BY created_at DESC, id DESC",
                       status, filter.limit, filter.offset);
    std::vector<Run> runs;
    for (const pqxx::row& row : rows) {
      EVOLVE_ASSIGN_OR_RETURN(Run run, impl_->ReadRun(row));
      runs.push_back(std::move(run));
    }
    return runs;
  });
}

Status PostgresStore::UpdateRun(const Run& run, RunStatus expected) {
  const std::string config = ToJson(run.config);
  EVOLVE_RETURN_IF_ERROR(CheckReadable<EvolutionConfig>(
      config, [](std::string_view j) { return EvolutionConfigFromJson(j); }, "run " + run.id + ": config"));
  return impl_->Transact([&](pqxx::work& tx) -> Status {
    // The compare-and-set is the WHERE clause: the row lock makes it atomic.
    const pqxx::result updated = tx.exec_params(
        "UPDATE evolution_runs SET status = $3, config = $4::jsonb, hyperparameters = $5, data_options = $6, "
        "current_generation = $7, seed_model_id = $8, best_sqn = NULLIF($9, '')::double precision, "
        "best_model_id = $10, promoted = $11::boolean, promotion_id = $12, stop_reason = $13, error = $14, "
        "symbol = $15, updated_at = now() WHERE id = $1 AND status = $2 RETURNING 1",
        run.id, std::string(RunStatusName(expected)), std::string(RunStatusName(run.status)), config,
        run.config.hyperparameters, run.config.data_options, run.current_generation, run.seed_model_id,
        OptionalFloat(run.best_sqn), run.best_model_id, std::string(run.promoted ? "true" : "false"),
        run.promotion_id, run.stop_reason, run.error, run.config.symbol);
    if (!updated.empty()) return Status::Ok();
    const pqxx::result current = tx.exec_params("SELECT status FROM evolution_runs WHERE id = $1", run.id);
    if (current.empty()) return NotFoundError("run " + run.id + " not found");
    return AbortedError("run " + run.id + " is " + Text(current[0], 0) + ", expected " +
                        RunStatusName(expected));
  });
}

Status PostgresStore::TransitionRun(const std::string& run_id, const std::vector<RunStatus>& from,
                                    RunStatus to, const std::string& stop_reason, const std::string& error) {
  return impl_->Write([&](pqxx::work& tx, std::vector<QueueEvent>* events) -> Status {
    const pqxx::result current =
        tx.exec_params("SELECT status FROM evolution_runs WHERE id = $1 FOR UPDATE", run_id);
    if (current.empty()) return NotFoundError("run " + run_id + " not found");
    const std::string status = Text(current[0], 0);
    const bool allowed =
        std::any_of(from.begin(), from.end(), [&status](RunStatus s) { return status == RunStatusName(s); });
    if (!allowed) {
      return FailedPreconditionError("run " + run_id + " is " + status + "; cannot move to " +
                                     RunStatusName(to) + " (allowed from " + JoinRunStatuses(from) + ")");
    }
    tx.exec_params(
        "UPDATE evolution_runs SET status = $2, stop_reason = $3, error = $4, updated_at = now() WHERE id = "
        "$1",
        run_id, std::string(RunStatusName(to)), stop_reason, error);
    if (to != RunStatus::kCancelled) return Status::Ok();
    // Whoever waits for a batch must learn that it can finish: one event per
    // batch, in the order the batches were enqueued.
    const pqxx::result batches = tx.exec_params(
        std::string("WITH cancelled AS (DELETE FROM job_queue WHERE run_id = $1 AND status = 'PENDING' "
                    "RETURNING *), "
                    "moved AS (INSERT INTO priority_jobs (") +
            kJobTableColumns +
            ") SELECT id, batch_id, run_id, model_id, generation, priority, 'CANCELLED', params, result, "
            "error, worker_id, attempts, max_attempts, lease_until, created_at, now() FROM cancelled) "
            "SELECT batch_id FROM cancelled GROUP BY batch_id ORDER BY MIN(created_at), batch_id",
        run_id);
    for (const pqxx::row& row : batches)
      AddEvent(events, QueueEvent::Kind::kJobFinished, run_id, Text(row, 0));
    return Status::Ok();
  });
}

Status PostgresStore::SaveGeneration(const Generation& generation) {
  const std::string doc = ToJson(generation);
  EVOLVE_RETURN_IF_ERROR(CheckReadable<Generation>(
      doc, [](std::string_view j) { return GenerationFromJson(j); },
      "run " + generation.run_id + " generation " + std::to_string(generation.generation)));
  return impl_->Transact([&](pqxx::work& tx) -> Status {
    // Checked first for the contract's kNotFound; the foreign key is the
    // schema's own guard.
    if (tx.exec_params("SELECT 1 FROM evolution_runs WHERE id = $1", generation.run_id).empty()) {
      return NotFoundError("run " + generation.run_id + " not found");
    }
    tx.exec_params(
        "INSERT INTO evolution_generations (run_id, generation, state, model_id, batch_id, best_sqn, doc, "
        "updated_at) VALUES ($1, $2, $3, $4, $5, NULLIF($6, '')::double precision, $7::jsonb, now()) "
        "ON CONFLICT (run_id, generation) DO UPDATE SET state = excluded.state, model_id = "
        "excluded.model_id, "
        "batch_id = excluded.batch_id, best_sqn = excluded.best_sqn, doc = excluded.doc, "
        "updated_at = excluded.updated_at",
        generation.run_id, generation.generation, std::string(GenerationStateName(generation.state)),
        generation.model_id, generation.batch_id, OptionalFloat(generation.best_sqn), doc);
    return Status::Ok();
  });
}

// The updated_at column is the authority; the doc's copy is the caller's.
Result<Generation> PostgresStore::Impl::ReadGeneration(const std::string& key, const pqxx::row& row) const {
  EVOLVE_ASSIGN_OR_RETURN(Generation generation,
                          ReadDoc<Generation>(
                              Text(row, 0), [](std::string_view j) { return GenerationFromJson(j); },
                              "evolution_generations", key));
  generation.updated_at = Time(row, 1);
  return generation;
}

Result<Generation> PostgresStore::GetGeneration(const std::string& run_id, int generation) {
  return impl_->Transact([&](pqxx::work& tx) -> Result<Generation> {
    const pqxx::result rows =
        tx.exec_params("SELECT doc::text, " + Micros("updated_at") +
                           " FROM evolution_generations WHERE run_id = $1 AND generation = $2",
                       run_id, generation);
    if (rows.empty())
      return NotFoundError("run " + run_id + " has no generation " + std::to_string(generation));
    return impl_->ReadGeneration(run_id + "/" + std::to_string(generation), rows[0]);
  });
}

Result<std::vector<Generation>> PostgresStore::ListGenerations(const std::string& run_id) {
  return impl_->Transact([&](pqxx::work& tx) -> Result<std::vector<Generation>> {
    const pqxx::result rows = tx.exec_params("SELECT doc::text, " + Micros("updated_at") +
                                                 ", generation FROM evolution_generations WHERE run_id = $1 "
                                                 "ORDER BY generation",
                                             run_id);
    std::vector<Generation> generations;
    for (const pqxx::row& row : rows) {
      EVOLVE_ASSIGN_OR_RETURN(Generation generation, impl_->ReadGeneration(run_id + "/" + Text(row, 2), row));
      generations.push_back(std::move(generation));
    }
    return generations;
  });
}

// ------------------------------------------------------------ ModelRegistry

Result<FingerprintRecord> PostgresStore::LookupFingerprint(const std::string& fingerprint) {
  return impl_->Transact([&](pqxx::work& tx) -> Result<FingerprintRecord> {
    const pqxx::result rows = tx.exec_params(
        "SELECT " + FingerprintColumns() + " FROM model_fingerprints WHERE fingerprint = $1", fingerprint);
    if (rows.empty()) return NotFoundError("fingerprint " + fingerprint + " not found");
    return impl_->ReadFingerprint(rows[0]);
  });
}

Result<FingerprintRecord> PostgresStore::RecordFingerprint(const FingerprintRecord& record) {
  if (record.fingerprint.empty()) return InvalidArgumentError("fingerprint: must not be empty");
  const std::string spec = ToJson(record.spec);
  EVOLVE_RETURN_IF_ERROR(CheckReadable<ModelSpec>(
      spec, [](std::string_view j) { return ModelSpecFromJson(j); },
      "fingerprint " + record.fingerprint + ": spec"));
  return impl_->Transact([&](pqxx::work& tx) -> Result<FingerprintRecord> {
    // First writer wins: a concurrent insert of the same fingerprint waits
    // for the first to commit and then does nothing; the SELECT (a new
    // snapshot under READ COMMITTED) sees the winner either way.
    tx.exec_params(
        "INSERT INTO model_fingerprints (fingerprint, model_id, symbol, spec, hyperparameters, data_options, "
        "created_at) VALUES ($1, $2, $3, $4::jsonb, $5, $6, now()) ON CONFLICT (fingerprint) DO NOTHING",
        record.fingerprint, record.model_id, record.spec.symbol, spec, record.spec.hyperparameters,
        record.spec.data_options);
    const pqxx::result rows =
        tx.exec_params("SELECT " + FingerprintColumns() + " FROM model_fingerprints WHERE fingerprint = $1",
                       record.fingerprint);
    if (rows.empty()) {
      return InternalError("postgres " + impl_->url + ": fingerprint " + record.fingerprint +
                           " vanished after insert");
    }
    return impl_->ReadFingerprint(rows[0]);
  });
}

Status PostgresStore::AddLineageEdge(const LineageEdge& edge) {
  if (edge.id.empty()) return InvalidArgumentError("lineage edge id: must not be empty");
  const std::string doc = ToJson(edge);
  EVOLVE_RETURN_IF_ERROR(CheckReadable<LineageEdge>(
      doc, [](std::string_view j) { return LineageEdgeFromJson(j); }, "lineage edge " + edge.id));
  return impl_->Transact([&](pqxx::work& tx) -> Status {
    tx.exec_params(
        "INSERT INTO evolution_log (id, run_id, parent_model_id, child_model_id, generation, parent_sqn, "
        "doc, "
        "created_at) VALUES ($1, $2, $3, $4, $5, NULLIF($6, '')::double precision, $7::jsonb, now()) "
        "ON CONFLICT (id) DO NOTHING",
        edge.id, edge.run_id, edge.parent_model_id, edge.child_model_id, edge.generation,
        OptionalFloat(edge.parent_sqn), doc);
    return Status::Ok();
  });
}

Result<std::vector<LineageEdge>> PostgresStore::ListLineage(const std::string& run_id) {
  return impl_->Transact([&](pqxx::work& tx) -> Result<std::vector<LineageEdge>> {
    const pqxx::result rows = tx.exec_params("SELECT id, doc::text, " + Micros("created_at") +
                                                 " FROM evolution_log WHERE run_id = $1 "
                                                 "ORDER BY generation, created_at, id",
                                             run_id);
    std::vector<LineageEdge> edges;
    for (const pqxx::row& row : rows) {
      EVOLVE_ASSIGN_OR_RETURN(LineageEdge edge, impl_->ReadEdge(Text(row, 0), Text(row, 1), Time(row, 2)));
      edges.push_back(std::move(edge));
    }
    return edges;
  });
}

Result<std::vector<LineageEdge>> PostgresStore::Ancestry(const std::string& model_id) {
  return impl_->Transact([&](pqxx::work& tx) -> Result<std::vector<LineageEdge>> {
    // From the model's oldest edge to its parent's oldest edge, and so on,
    // until an edge without a parent. The depth bound ends the walk on a
    // cycle, which the loop below then reports.
    const pqxx::result rows = tx.exec_params(
        "WITH RECURSIVE chain (depth, id, parent) AS ("
        " SELECT 0, e.id, e.parent_model_id FROM evolution_log AS e WHERE e.id ="
        "  (SELECT id FROM evolution_log WHERE child_model_id = $1 ORDER BY created_at, id LIMIT 1)"
        " UNION ALL"
        " SELECT c.depth + 1, e.id, e.parent_model_id FROM chain AS c JOIN evolution_log AS e ON e.id ="
        "  (SELECT id FROM evolution_log WHERE child_model_id = c.parent ORDER BY created_at, id LIMIT 1)"
        " WHERE c.parent <> '' AND c.depth < $2)"
        " SELECT e.id, e.child_model_id, e.doc::text, " +
            Micros("e.created_at") +
            " FROM chain AS c JOIN evolution_log AS e ON e.id = c.id ORDER BY c.depth",
        model_id, kMaxAncestryDepth);
    std::vector<LineageEdge> edges;
    std::set<std::string> seen;
    for (const pqxx::row& row : rows) {
      const std::string child = Text(row, 1);
      if (!seen.insert(child).second) {
        // Pruning only ever shrinks a feature set, so a cycle means corrupt
        // data; following it would never end.
        return InternalError("lineage of model " + model_id + " has a cycle through model " + child);
      }
      EVOLVE_ASSIGN_OR_RETURN(LineageEdge edge, impl_->ReadEdge(Text(row, 0), Text(row, 2), Time(row, 3)));
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

Result<int> PostgresStore::EnqueueBatch(const std::string& batch_id, const std::vector<Job>& jobs) {
  EVOLVE_RETURN_IF_ERROR(ValidateBatch(batch_id, jobs));
  if (jobs.empty()) return 0;
  const std::string ids = ArrayOf(jobs, [](const Job& j) { return j.id; });
  const std::string run_ids = ArrayOf(jobs, [](const Job& j) { return j.run_id; });
  const std::string model_ids = ArrayOf(jobs, [](const Job& j) { return j.model_id; });
  const std::string generations = ArrayOf(jobs, [](const Job& j) { return std::to_string(j.generation); });
  const std::string priorities = ArrayOf(jobs, [](const Job& j) { return Float(j.priority); });
  const std::string params = ArrayOf(jobs, [](const Job& j) { return ToJson(j.params); });
  const std::string max_attempts = ArrayOf(jobs, [](const Job& j) { return std::to_string(j.max_attempts); });
  return impl_->Write([&](pqxx::work& tx, std::vector<QueueEvent>* events) -> Result<int> {
    // Two processes enqueueing one batch (a resumed engine) take turns, so
    // the second sees the first's jobs and does nothing.
    tx.exec_params("SELECT pg_advisory_xact_lock($1, hashtext($2))", kLockSpace, batch_id);
    if (!tx.exec_params("SELECT 1 FROM job_queue WHERE batch_id = $1 UNION ALL "
                        "SELECT 1 FROM priority_jobs WHERE batch_id = $1 LIMIT 1",
                        batch_id)
             .empty())
      return 0;
    const pqxx::result inserted = tx.exec_params(
        "INSERT INTO job_queue (id, batch_id, run_id, model_id, generation, priority, status, params, "
        "result, error, worker_id, attempts, max_attempts, lease_until, created_at, updated_at) "
        "SELECT j.id, $1, j.run_id, j.model_id, j.generation, j.priority, 'PENDING', j.params, NULL, '', '', "
        "0, "
        "j.max_attempts, NULL, now(), now() FROM unnest($2::text[], $3::text[], $4::text[], $5::integer[], "
        "$6::double precision[], $7::text[], $8::integer[]) "
        "AS j (id, run_id, model_id, generation, priority, params, max_attempts) "
        "ON CONFLICT (id) DO NOTHING RETURNING id",
        batch_id, ids, run_ids, model_ids, generations, priorities, params, max_attempts);
    // Ids are unique across both tables: an id of a finished job is taken
    // too. Checked after the INSERT, by a statement of its own, so that it
    // sees a job that another transaction moved to priority_jobs while the
    // INSERT waited for it.
    std::set<std::string> finished_ids;
    for (const pqxx::row& row :
         tx.exec_params("SELECT id FROM priority_jobs WHERE id = ANY($1::text[])", ids))
      finished_ids.insert(Text(row, 0));
    if (inserted.size() != jobs.size() || !finished_ids.empty()) {
      // An id belongs to another batch: the whole batch is rolled back.
      std::set<std::string> new_ids;
      for (const pqxx::row& row : inserted) new_ids.insert(Text(row, 0));
      for (const Job& job : jobs) {
        if (new_ids.count(job.id) > 0 && finished_ids.count(job.id) == 0) continue;
        const pqxx::result owner = tx.exec_params(
            "SELECT batch_id FROM priority_jobs WHERE id = $1 UNION ALL "
            "SELECT batch_id FROM job_queue WHERE id = $1 AND batch_id <> $2 LIMIT 1",
            job.id, batch_id);
        return AlreadyExistsError("job " + job.id + " exists already (in batch " +
                                  (owner.empty() ? std::string("?") : Text(owner[0], 0)) + ")");
      }
    }
    for (const Job& job : jobs) AddEvent(events, QueueEvent::Kind::kJobsAvailable, job);
    return static_cast<int>(jobs.size());
  });
}

Result<std::vector<Job>> PostgresStore::ClaimJobs(const std::string& worker_id, int max_jobs,
                                                  Duration lease) {
  EVOLVE_RETURN_IF_ERROR(ValidateClaim(worker_id, max_jobs, lease));
  const int64_t lease_micros = std::chrono::duration_cast<std::chrono::microseconds>(lease).count();
  return impl_->Transact([&](pqxx::work& tx) -> Result<std::vector<Job>> {
    // The claim index walks live jobs in claim order, passing over the
    // RUNNING ones; SKIP LOCKED makes concurrent claimers pass over each
    // other's rows. Only unindexed columns change: a HOT update.
    // `status <> 'RUNNING'` is `status = 'PENDING'` in job_queue, but the
    // planner estimates it as most rows (without statistics, or with the
    // few RUNNING jobs a queue has), so it walks the index for LIMIT rows
    // instead of sorting the whole table as it would for a rare `=`.
    //
    // The UPDATE finds the locked rows by their ctid (a TID scan), not by id:
    // no second index search per job, and no plan that changes with the
    // claim's size (`id IN (...)` became a hash join over a scan of the whole
    // table at 5,000 jobs per claim). That is safe because the subquery holds
    // each row's lock until commit, so the row version at that ctid cannot be
    // updated, deleted or vacuumed away meanwhile. A row that another
    // transaction changed after this statement's snapshot was taken is locked
    // in its newest version, which the UPDATE does not see: it is left out of
    // this claim (still PENDING, unlocked at commit), never claimed twice.
    // The status is checked again all the same.
    //
    // Times are read with date_part (double precision, rounded back to whole
    // microseconds: exact for any date a job has) rather than the exact
    // numeric of extract(), which cost more than a tenth of the claim.
    const pqxx::result rows = tx.exec_prepared(kClaimStatement, worker_id, lease_micros, max_jobs);
    std::vector<Job> read;
    read.reserve(rows.size());
    for (const pqxx::row& row : rows) {
      EVOLVE_ASSIGN_OR_RETURN(Job job, impl_->ReadJob(row));
      read.push_back(std::move(job));
    }
    // RETURNING has no order: put the jobs back in claim order, sorting
    // their positions and moving each job once.
    std::vector<size_t> order(read.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&read](size_t x, size_t y) {
      const Job& a = read[x];
      const Job& b = read[y];
      if (a.priority != b.priority) return a.priority > b.priority;
      if (a.created_at != b.created_at) return a.created_at < b.created_at;
      return a.id < b.id;
    });
    std::vector<Job> claimed;
    claimed.reserve(read.size());
    for (size_t i : order) claimed.push_back(std::move(read[i]));
    return claimed;
  });
}

Status PostgresStore::Impl::Refusal(pqxx::work& tx, const std::string& job_id,
                                    const std::string& worker_id) const {
  const pqxx::result rows = tx.exec_params(
      "SELECT status, worker_id FROM job_queue WHERE id = $1 UNION ALL "
      "SELECT status, worker_id FROM priority_jobs WHERE id = $1",
      job_id);
  if (rows.empty()) return NotFoundError("job " + job_id + " not found");
  JobStatus status;
  if (!ParseJobStatus(Text(rows[0], 0), &status)) {
    return Corrupt("priority_jobs", job_id, "unknown status '" + Text(rows[0], 0) + "'");
  }
  Status refusal = CheckLeaseHolder(job_id, worker_id, status, Text(rows[0], 1));
  if (refusal.ok()) {
    // Held by this worker now, though the fenced write found it otherwise:
    // another call of the same worker changed it in between.
    return AbortedError("job " + job_id + " changed while worker " + worker_id +
                        " was writing it; try again");
  }
  return refusal;
}

Status PostgresStore::HeartbeatJob(const std::string& job_id, const std::string& worker_id, Duration lease) {
  if (lease <= Duration::zero()) return InvalidArgumentError("lease: must be positive");
  const int64_t lease_micros = std::chrono::duration_cast<std::chrono::microseconds>(lease).count();
  return impl_->Transact([&](pqxx::work& tx) -> Status {
    const pqxx::result updated = tx.exec_params(
        "UPDATE job_queue SET lease_until = now() + $3::bigint * interval '1 microsecond', "
        "updated_at = now() WHERE id = $1 AND worker_id = $2 AND status = 'RUNNING' RETURNING 1",
        job_id, worker_id, lease_micros);
    if (!updated.empty()) return Status::Ok();
    return impl_->Refusal(tx, job_id, worker_id);
  });
}

Result<std::vector<Status>> PostgresStore::Impl::Finish(const std::string& worker_id,
                                                        const std::vector<JobOutcome>& outcomes) {
  // Each job once: UPDATE ... FROM picks an arbitrary row among duplicates,
  // while CompleteJob called twice would let the first win and refuse the
  // second, which is what the repeats are told below.
  std::vector<const JobOutcome*> firsts;
  std::unordered_set<std::string_view> seen;  // into `outcomes`
  seen.reserve(outcomes.size());
  for (const JobOutcome& o : outcomes) {
    if (seen.insert(o.job_id).second) firsts.push_back(&o);
  }
  // The outcomes go in chunks of at most kFinishChunk jobs, one statement
  // each, all in one transaction. The planner reckons the held jobs among
  // the input as few (the statistics of job_queue show PENDING jobs nobody
  // holds); up to ~3,000 jobs it still looks each up by id, beyond that it
  // chose a nested loop comparing every held job with every input row
  // (5,000 jobs: 25 million comparisons, 3 s a statement).
  constexpr size_t kFinishChunk = 1000;
  constexpr char kResultSeparator = '\x1e';  // as in the statement below
  constexpr const char* kNoResult = "null";
  struct Chunk {
    std::string ids, results, errors, retryables;
  };
  std::vector<Chunk> chunks;
  for (size_t first = 0; first < firsts.size(); first += kFinishChunk) {
    const std::vector<const JobOutcome*> part(
        firsts.begin() + static_cast<std::ptrdiff_t>(first),
        firsts.begin() + static_cast<std::ptrdiff_t>(std::min(firsts.size(), first + kFinishChunk)));
    Chunk chunk;
    chunk.ids = ArrayOf(part, [](const JobOutcome* o) { return o->job_id; });
    // The results, the largest parameter, as one text split by the server
    // (string_to_array) rather than an array literal that it would scan twice
    // and unescape: a record separator between them, `null` for no result.
    // JSON text never holds a raw control character, and a result is an
    // object, never `null`.
    for (const JobOutcome* o : part) {
      if (!chunk.results.empty()) chunk.results += kResultSeparator;
      if (o->result.has_value()) {
        const std::string json = ToJson(*o->result);
        if (json.find(kResultSeparator) != std::string::npos) {
          return InternalError("job " + o->job_id + ": result JSON holds a raw control character");
        }
        chunk.results += json;
      } else {
        chunk.results += kNoResult;
      }
    }
    chunk.errors = ArrayOf(part, [](const JobOutcome* o) { return o->error; });
    chunk.retryables =
        ArrayOf(part, [](const JobOutcome* o) { return std::string(o->retryable ? "t" : "f"); });
    chunks.push_back(std::move(chunk));
  }
  std::vector<Status> statuses;
  Result<int> written = Write([&](pqxx::work& tx, std::vector<QueueEvent>* events) -> Result<int> {
    statuses.clear();
    // job id -> (status, run id, batch id) as written
    std::unordered_map<std::string, std::array<std::string, 3>> written_rows;
    written_rows.reserve(outcomes.size());
    for (const Chunk& chunk : chunks) {
      // One fenced statement for every outcome: a retryable failure with
      // attempts left goes back to PENDING in job_queue; every other outcome
      // moves the job from job_queue to priority_jobs, COMPLETED or FAILED;
      // and the worker's counters are updated in the same statement.
      const pqxx::result done =
          tx.exec_prepared(kFinishStatement, worker_id, chunk.ids, chunk.results, chunk.errors, chunk.retryables);
      for (const pqxx::row& row : done) {
        written_rows.emplace(Text(row, 0),
                             std::array<std::string, 3>{Text(row, 1), Text(row, 2), Text(row, 3)});
      }
    }
    std::unordered_set<std::string_view> reported;  // into `outcomes`
    reported.reserve(outcomes.size());
    int count = 0;
    for (const JobOutcome& o : outcomes) {
      auto it = written_rows.find(o.job_id);
      if (it != written_rows.end() && reported.insert(o.job_id).second) {
        const std::array<std::string, 3>& row = it->second;
        AddEvent(events,
                 row[0] == "PENDING" ? QueueEvent::Kind::kJobsAvailable : QueueEvent::Kind::kJobFinished,
                 row[1], row[2]);
        statuses.push_back(Status::Ok());
        ++count;
        continue;
      }
      // Refused alone (not held, or a repeat); the others are still written.
      statuses.push_back(Refusal(tx, o.job_id, worker_id));
      const StatusCode code = statuses.back().code();
      if (code != StatusCode::kAborted && code != StatusCode::kNotFound) return statuses.back();
    }
    return count;
  });
  if (!written.ok()) return written.status();
  return statuses;
}

Status PostgresStore::CompleteJob(const std::string& job_id, const std::string& worker_id,
                                  const SimulationResult& result) {
  JobOutcome outcome;
  outcome.job_id = job_id;
  outcome.result = result;
  EVOLVE_ASSIGN_OR_RETURN(std::vector<Status> statuses, impl_->Finish(worker_id, {outcome}));
  return statuses.front();
}

Status PostgresStore::FailJob(const std::string& job_id, const std::string& worker_id,
                              const std::string& error, bool retryable) {
  JobOutcome outcome;
  outcome.job_id = job_id;
  outcome.error = error;
  outcome.retryable = retryable;
  EVOLVE_ASSIGN_OR_RETURN(std::vector<Status> statuses, impl_->Finish(worker_id, {outcome}));
  return statuses.front();
}

Result<std::vector<Status>> PostgresStore::FinishJobs(const std::string& worker_id,
                                                      const std::vector<JobOutcome>& outcomes) {
  if (outcomes.empty()) return std::vector<Status>();
  return impl_->Finish(worker_id, outcomes);
}

Status PostgresStore::ReleaseJob(const std::string& job_id, const std::string& worker_id) {
  return impl_->Write([&](pqxx::work& tx, std::vector<QueueEvent>* events) -> Status {
    // The worker never ran it, so the claim must not eat into max_attempts.
    const pqxx::result released = tx.exec_params(
        "UPDATE job_queue SET status = 'PENDING', attempts = GREATEST(0, attempts - 1), worker_id = '', "
        "lease_until = NULL, updated_at = now() WHERE id = $1 AND worker_id = $2 AND status = 'RUNNING' "
        "RETURNING run_id, batch_id",
        job_id, worker_id);
    if (released.empty()) return impl_->Refusal(tx, job_id, worker_id);
    AddEvent(events, QueueEvent::Kind::kJobsAvailable, Text(released[0], 0), Text(released[0], 1));
    return Status::Ok();
  });
}

Result<int> PostgresStore::ReapExpiredJobs() {
  return impl_->Write([&](pqxx::work& tx, std::vector<QueueEvent>* events) -> Result<int> {
    // Only RUNNING jobs, by lease end: the partial lease index. A job whose
    // holder is finishing it right now is locked and skipped: the holder
    // wins, and a later reap sees what it wrote.
    const pqxx::result expired = tx.exec(
        "SELECT id, run_id, batch_id, worker_id, attempts, max_attempts FROM job_queue "
        "WHERE status = 'RUNNING' AND lease_until < now() ORDER BY lease_until, id FOR UPDATE SKIP LOCKED");
    if (expired.empty()) return 0;
    std::vector<std::optional<std::string>> ids;
    std::vector<std::optional<std::string>> statuses;
    std::vector<std::optional<std::string>> errors;
    for (const pqxx::row& row : expired) {
      const std::string worker = Text(row, 3);
      const int attempts = Int(row, 4);
      const bool retry = attempts < Int(row, 5);
      ids.push_back(Text(row, 0));
      statuses.push_back(std::string(retry ? "PENDING" : "FAILED"));
      errors.push_back(retry ? LeaseExpiredMessage(worker) : LeaseExhaustedMessage(attempts, worker));
      AddEvent(events, retry ? QueueEvent::Kind::kJobsAvailable : QueueEvent::Kind::kJobFinished,
               Text(row, 1), Text(row, 2));
    }
    // Retried jobs stay in job_queue, PENDING; exhausted ones move to
    // priority_jobs, FAILED.
    tx.exec_params(
        std::string(
            "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS u (id, status, error)), "
            "retried AS (UPDATE job_queue AS j SET status = 'PENDING', error = u.error, worker_id = '', "
            "  lease_until = NULL, updated_at = now() FROM u WHERE j.id = u.id AND u.status = 'PENDING'), "
            "ended AS (DELETE FROM job_queue AS j USING u WHERE j.id = u.id AND u.status = 'FAILED' "
            "  RETURNING j.*, u.error AS new_error) "
            "INSERT INTO priority_jobs (") +
            kJobTableColumns +
            ") SELECT id, batch_id, run_id, model_id, generation, priority, 'FAILED', params, result, "
            "new_error, worker_id, attempts, max_attempts, NULL, created_at, now() FROM ended",
        ArrayOf(ids), ArrayOf(statuses), ArrayOf(errors));
    return static_cast<int>(expired.size());
  });
}

Result<Job> PostgresStore::GetJob(const std::string& job_id) {
  return impl_->Transact([&](pqxx::work& tx) -> Result<Job> {
    const pqxx::result rows =
        tx.exec_params("SELECT " + JobColumns() + " FROM job_queue WHERE id = $1 UNION ALL SELECT " +
                           JobColumns() + " FROM priority_jobs WHERE id = $1",
                       job_id);
    if (rows.empty()) return NotFoundError("job " + job_id + " not found");
    return impl_->ReadJob(rows[0]);
  });
}

Result<std::vector<Job>> PostgresStore::ListJobs(const JobFilter& filter) {
  EVOLVE_RETURN_IF_ERROR(CheckPage(filter.limit, filter.offset));
  const std::string status = filter.status.has_value() ? JobStatusName(*filter.status) : "";
  return impl_->Transact([&](pqxx::work& tx) -> Result<std::vector<Job>> {
    // '' matches anything; an unnamed statement is planned for its actual
    // arguments, so the unused conditions fold away and the indexes serve.
    const pqxx::result rows = tx.exec_params(
        // Live and finished jobs together, in one order.
        "SELECT " + JobColumns() + " FROM (SELECT " + kJobTableColumns +
            " FROM job_queue WHERE ($1 = '' OR run_id = $1) AND ($2 = '' OR batch_id = $2) AND ($3 = '' OR "
            "status = $3) UNION ALL SELECT " +
            kJobTableColumns +
            " FROM priority_jobs WHERE ($1 = '' OR run_id = $1) AND ($2 = '' OR batch_id = $2) "
            "AND ($3 = '' OR status = $3)) AS j "
            "ORDER BY priority DESC, created_at, id LIMIT NULLIF($4, 0) OFFSET $5",
        filter.run_id, filter.batch_id, status, filter.limit, filter.offset);
    std::vector<Job> jobs;
    for (const pqxx::row& row : rows) {
      EVOLVE_ASSIGN_OR_RETURN(Job job, impl_->ReadJob(row));
      jobs.push_back(std::move(job));
    }
    return jobs;
  });
}

Result<JobCounts> PostgresStore::CountJobs(const JobFilter& filter) {
  return impl_->Transact([&](pqxx::work& tx) -> Result<JobCounts> {
    const pqxx::result rows = tx.exec_params(
        "SELECT status, count(*) FROM (SELECT status FROM job_queue WHERE ($1 = '' OR run_id = $1) "
        "AND ($2 = '' OR batch_id = $2) UNION ALL SELECT status FROM priority_jobs "
        "WHERE ($1 = '' OR run_id = $1) AND ($2 = '' OR batch_id = $2)) AS j GROUP BY status",
        filter.run_id, filter.batch_id);
    JobCounts counts;
    for (const pqxx::row& row : rows) {
      JobStatus status;
      if (!ParseJobStatus(Text(row, 0), &status)) {
        return impl_->Corrupt("priority_jobs", "(count)", "unknown status '" + Text(row, 0) + "'");
      }
      counts.Add(status, Int(row, 1));
    }
    return counts;
  });
}

// ---------------------------------------------------------- LISTEN / NOTIFY

namespace {

// Hands each NOTIFY on the channel to the store.
class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection& conn, std::function<void(const std::string&)> deliver)
      : pqxx::notification_receiver(conn, kChannel), deliver_(std::move(deliver)) {}

  void operator()(const std::string& payload, int /*backend_pid*/) override { deliver_(payload); }

 private:
  std::function<void(const std::string&)> deliver_;
};

}  // namespace

void PostgresStore::Impl::Deliver(const std::string& payload) {
  Result<std::vector<std::string>> fields = StringListFromJson(payload);
  // Not ours to read (another program on the channel): ignored.
  if (!fields.ok() || fields->size() != 4) return;
  // This store told its listeners already, right after its commit.
  if ((*fields)[0] == origin) return;
  const QueueEvent::Kind kind =
      (*fields)[1] == "available" ? QueueEvent::Kind::kJobsAvailable : QueueEvent::Kind::kJobFinished;
  listeners.Notify({QueueEvent{kind, (*fields)[2], (*fields)[3]}});
}

void PostgresStore::Impl::ListenLoop() {
  constexpr std::chrono::milliseconds kFirstBackoff(100);
  constexpr std::chrono::milliseconds kMaxBackoff(5000);
  std::chrono::milliseconds backoff = kFirstBackoff;
  bool listened_before = false;
  auto is_stopping = [this] {
    std::lock_guard<std::mutex> lock(listen_mu);
    return stopping;
  };
  while (!is_stopping()) {
    try {
      pqxx::connection conn(conninfo);
      Receiver receiver(conn, [this](const std::string& payload) { Deliver(payload); });
      {
        std::lock_guard<std::mutex> lock(listen_mu);
        listen_tried = true;
      }
      listen_cv.notify_all();
      if (listened_before) {
        // Whatever was sent while the connection was down is lost: every
        // listener looks for work once.
        listeners.Notify({QueueEvent{QueueEvent::Kind::kJobsAvailable, "", ""}});
      }
      listened_before = true;
      backoff = kFirstBackoff;
      while (!is_stopping()) {
        conn.get_notifs();  // delivers what has arrived; throws when the connection is lost
        pollfd fds[2] = {{conn.sock(), POLLIN, 0}, {wake_pipe[0], POLLIN, 0}};
        if (::poll(fds, 2, kListenPollMillis) < 0 && errno != EINTR) {
          throw std::runtime_error("poll on the LISTEN connection failed");
        }
        if ((fds[1].revents & POLLIN) != 0) return;  // the store is closing
      }
      return;
    } catch (const std::exception&) {
      // Lost or not reachable: try again after a pause. Listeners are hints;
      // workers also poll, so nothing waits on this forever.
    }
    std::unique_lock<std::mutex> lock(listen_mu);
    listen_tried = true;
    listen_cv.notify_all();
    listen_cv.wait_for(lock, backoff, [this] { return stopping; });
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

void PostgresStore::Impl::StartListener() {
  std::unique_lock<std::mutex> lock(listen_mu);
  if (!listen_started) {
    listen_started = true;
    if (::pipe2(wake_pipe, O_CLOEXEC) != 0) {
      // Without the pipe the thread still stops, at its next poll timeout.
      wake_pipe[0] = wake_pipe[1] = -1;
    }
    listen_thread = std::thread([this] { ListenLoop(); });
  }
  // Return once LISTEN is in place (or the first try failed), so that an
  // event of another process right after Subscribe is heard.
  listen_cv.wait_for(lock, options.connect_timeout + std::chrono::seconds(1),
                     [this] { return listen_tried; });
}

int64_t PostgresStore::Subscribe(std::function<void(const QueueEvent&)> listener) {
  const int64_t handle = impl_->listeners.Subscribe(std::move(listener));
  impl_->StartListener();
  return handle;
}

void PostgresStore::Unsubscribe(int64_t handle) { impl_->listeners.Unsubscribe(handle); }

// ----------------------------------------------------------- PromotionStore

Status PostgresStore::SavePromotion(const Promotion& promotion) {
  if (promotion.id.empty()) return InvalidArgumentError("promotion id: must not be empty");
  const std::string doc = ToJson(promotion);
  EVOLVE_RETURN_IF_ERROR(CheckReadable<Promotion>(
      doc, [](std::string_view j) { return PromotionFromJson(j); }, "promotion " + promotion.id));
  return impl_->Transact([&](pqxx::work& tx) -> Status {
    tx.exec_params(
        "INSERT INTO promoted_models (id, model_id, run_id, generation, sqn, doc, hyperparameters, "
        "data_options, "
        "created_at) VALUES ($1, $2, $3, $4, $5::double precision, $6::jsonb, $7, $8, now()) "
        "ON CONFLICT (id) DO NOTHING",
        promotion.id, promotion.model_id, promotion.run_id, promotion.generation, Float(promotion.sqn), doc,
        promotion.spec.hyperparameters, promotion.spec.data_options);
    return Status::Ok();
  });
}

Result<Promotion> PostgresStore::GetPromotion(const std::string& promotion_id) {
  return impl_->Transact([&](pqxx::work& tx) -> Result<Promotion> {
    const pqxx::result rows =
        tx.exec_params("SELECT " + PromotionColumns() + " FROM promoted_models WHERE id = $1", promotion_id);
    if (rows.empty()) return NotFoundError("promotion " + promotion_id + " not found");
    return impl_->ReadPromotion(rows[0]);
  });
}

Result<std::vector<Promotion>> PostgresStore::ListPromotions(int limit, int offset) {
  EVOLVE_RETURN_IF_ERROR(CheckPage(limit, offset));
  return impl_->Transact([&](pqxx::work& tx) -> Result<std::vector<Promotion>> {
    // Highest SQN first; among equal SQNs the earliest win comes first.
    const pqxx::result rows = tx.exec_params("SELECT " + PromotionColumns() +
                                                 " FROM promoted_models ORDER BY sqn DESC, created_at, id "
                                                 "LIMIT NULLIF($1, 0) OFFSET $2",
                                             limit, offset);
    std::vector<Promotion> promotions;
    for (const pqxx::row& row : rows) {
      EVOLVE_ASSIGN_OR_RETURN(Promotion promotion, impl_->ReadPromotion(row));
      promotions.push_back(std::move(promotion));
    }
    return promotions;
  });
}

// ----------------------------------------------------------- WorkerRegistry

Status PostgresStore::RegisterWorker(const WorkerInfo& worker) {
  if (worker.id.empty()) return InvalidArgumentError("worker id: must not be empty");
  return impl_->Transact([&](pqxx::work& tx) -> Status {
    // The counters are the store's to keep: a restarted worker continues
    // them, and a new one starts from zero whatever it claims.
    tx.exec_params(
        "INSERT INTO workers (id, host, pid, status, started_at, last_heartbeat, current_jobs, "
        "jobs_completed, "
        "jobs_failed) VALUES ($1, $2, $3, 'ACTIVE', now(), now(), $4::jsonb, 0, 0) "
        "ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, status = 'ACTIVE', "
        "started_at = excluded.started_at, last_heartbeat = excluded.last_heartbeat, "
        "current_jobs = excluded.current_jobs",
        worker.id, worker.host, static_cast<long long>(worker.pid), ToJson(worker.current_jobs));  // NOLINT
    return Status::Ok();
  });
}

Status PostgresStore::WorkerHeartbeat(const std::string& worker_id,
                                      const std::vector<std::string>& current_jobs) {
  return impl_->Transact([&](pqxx::work& tx) -> Status {
    const pqxx::result updated = tx.exec_params(
        "UPDATE workers SET last_heartbeat = now(), current_jobs = $2::jsonb WHERE id = $1 RETURNING 1",
        worker_id, ToJson(current_jobs));
    if (updated.empty()) return NotFoundError("worker " + worker_id + " not registered");
    return Status::Ok();
  });
}

Status PostgresStore::DeregisterWorker(const std::string& worker_id) {
  return impl_->Transact([&](pqxx::work& tx) -> Status {
    const pqxx::result updated = tx.exec_params(
        "UPDATE workers SET status = 'STOPPED', current_jobs = '[]' WHERE id = $1 RETURNING 1", worker_id);
    if (updated.empty()) return NotFoundError("worker " + worker_id + " not registered");
    return Status::Ok();
  });
}

Result<std::vector<WorkerInfo>> PostgresStore::ListWorkers() {
  return impl_->Transact([&](pqxx::work& tx) -> Result<std::vector<WorkerInfo>> {
    const pqxx::result rows =
        tx.exec("SELECT " + WorkerColumns() + " FROM workers ORDER BY last_heartbeat DESC, id");
    std::vector<WorkerInfo> workers;
    for (const pqxx::row& row : rows) {
      EVOLVE_ASSIGN_OR_RETURN(WorkerInfo worker, impl_->ReadWorker(row));
      workers.push_back(std::move(worker));
    }
    return workers;
  });
}

// ----------------------------------------------------------- ArtifactStore

// Bytes travel as hex text (decode()/encode() in SQL): text parameters end at
// a NUL byte, and libpqxx's binary parameter API differs between 6 and 7.
Status PostgresStore::PutArtifact(const std::string& key, const std::string& bytes) {
  if (key.empty()) return InvalidArgumentError("artifact key: must not be empty");
  const std::string hex = Hex(bytes);
  return impl_->Transact([&](pqxx::work& tx) -> Status {
    // Keys name immutable content: the first write stays.
    tx.exec_params(
        "INSERT INTO artifacts (key, bytes, created_at) VALUES ($1, decode($2, 'hex'), now()) "
        "ON CONFLICT (key) DO NOTHING",
        key, hex);
    return Status::Ok();
  });
}

Result<std::string> PostgresStore::GetArtifact(const std::string& key) {
  return impl_->Transact([&](pqxx::work& tx) -> Result<std::string> {
    const pqxx::result rows =
        tx.exec_params("SELECT encode(bytes, 'hex') FROM artifacts WHERE key = $1", key);
    if (rows.empty()) return NotFoundError("artifact " + key + " not found");
    Result<std::string> bytes = Unhex(Text(rows[0], 0));
    if (!bytes.ok()) return impl_->Corrupt("artifacts", key, bytes.status().message());
    return bytes;
  });
}

}  // namespace evolve::postgres
