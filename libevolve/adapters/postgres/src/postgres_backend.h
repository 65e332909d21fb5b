// PostgresStore, the Store that OpenPostgresStore returns: its parts and
// the helpers its methods share. The methods are defined by interface:
// postgres_store.cc (opening, clock, run locks, listeners),
// postgres_runs.cc (RunStore, ModelRegistry), postgres_queue.cc (JobQueue),
// postgres_records.cc (PromotionStore, WorkerRegistry), postgres_artifacts.cc
// (ArtifactStore). Private to evolve::postgres.
//
// Every call is one READ COMMITTED transaction on a pooled connection
// (ConnectionPool::Transact), so calls of many threads (and processes, and
// hosts) run side by side and PostgreSQL's row locks order them; artifacts
// the same way on libpq's own connections (LibpqPool). Times are
// the server's now(), read back as integer microseconds. No libpqxx
// exception leaves a method: Transact maps them to Status.
//
// Thread-safety: safe for concurrent use.
#ifndef EVOLVE_POSTGRES_POSTGRES_BACKEND_H_
#define EVOLVE_POSTGRES_POSTGRES_BACKEND_H_

#include <pqxx/pqxx>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "evolve/postgres/postgres_store.h"
#include "evolve/store.h"
#include "evolve/store_backend.h"
#include "evolve/store_support.h"
#include "postgres_codec.h"
#include "postgres_connection.h"
#include "postgres_libpq.h"
#include "postgres_listener.h"
#include "postgres_run_locks.h"

namespace evolve::postgres {

// The statements every pooled connection prepares once the schema exists:
// the claim and the finish, ~5% of the server's time per job when parsed and
// planned each time (postgres_queue.cc).
std::vector<PreparedStatement> QueueStatements();

class PostgresStore final : public Store {
 public:
  // `endpoint` of a database whose schema is up to date.
  PostgresStore(Endpoint endpoint, const PostgresOptions& options);
  ~PostgresStore() override;

  EVOLVE_STORE_OVERRIDES

 private:
  // Transact for writes that raise queue events: `body(tx, &events)`. The
  // events are sent with NOTIFY in the transaction (other processes hear
  // them on commit) and to this process's listeners after commit.
  template <typename F>
  auto Write(F&& body) -> decltype(body(std::declval<pqxx::work&>(), nullptr)) {
    using R = decltype(body(std::declval<pqxx::work&>(), nullptr));
    std::vector<QueueEvent> events;
    R result = pool_.Transact([&](pqxx::work& tx) -> R {
      events.clear();  // a retried transaction starts over
      R r = body(tx, &events);
      if (r.ok() && !events.empty()) notifier_.Send(tx, events);
      return r;
    });
    if (result.ok()) listeners_.Notify(events);
    return result;
  }

  // The first row that `sql` selects with `key` as $1, read by `read` (a
  // RowReader method, or a callable of a row); kNotFound saying `missing`
  // when there is none.
  template <typename Read>
  auto GetOne(const std::string& sql, const std::string& key, const std::string& missing, Read read)
      -> decltype(read(std::declval<const pqxx::row&>())) {
    using R = decltype(read(std::declval<const pqxx::row&>()));
    return pool_.Transact([&](pqxx::work& tx) -> R {
      const pqxx::result rows = tx.exec_params(sql, key);
      if (rows.empty()) return NotFoundError(missing);
      return read(rows[0]);
    });
  }
  template <typename T>
  Result<T> GetOne(const std::string& sql, const std::string& key, const std::string& missing,
                   Result<T> (RowReader::*read)(const pqxx::row&) const) {
    return GetOne(sql, key, missing, [this, read](const pqxx::row& row) { return (rows_.*read)(row); });
  }

  // Every row that `sql` selects with `key` as $1, in order, read by `read`.
  template <typename T, typename Read>
  Result<std::vector<T>> ListBy(const std::string& sql, const std::string& key, Read read) {
    return pool_.Transact([&](pqxx::work& tx) -> Result<std::vector<T>> {
      return rows_.ReadAll<T>(tx.exec_params(sql, key), read);
    });
  }

  // The write of an immutable record (a lineage edge, a promotion): `sql`,
  // an INSERT ... ON CONFLICT (id) DO NOTHING, with the record's JSON as $1
  // and `params` as $2, $3, ...; a repeated id is a no-op. A record whose
  // JSON would not read back (`parse`) is refused: kInvalidArgument naming
  // `what`.
  template <typename T, typename... Params>
  Status InsertRecord(const T& record, JsonParser<T> parse, const std::string& what, const char* sql,
                      const Params&... params) {
    EVOLVE_ASSIGN_OR_RETURN(const std::string doc, ReadableJson(record, parse, what));
    return pool_.Transact([&](pqxx::work& tx) -> Status {
      tx.exec_params(sql, doc, params...);
      return Status::Ok();
    });
  }

  // Why a fenced UPDATE of `job_id` by `worker_id` matched nothing:
  // kNotFound, or kAborted in CheckLeaseHolder's words.
  Status Refusal(pqxx::work& tx, const std::string& job_id, const ClaimHolder& holder) const;

  // CompleteJob / FailJob / FinishJobs: one transaction for all outcomes.
  Result<std::vector<Status>> Finish(const std::string& worker_id, const std::vector<JobOutcome>& outcomes);

  ConnectionPool pool_;
  LibpqPool artifacts_;  // binary bytea both ways
  const uint64_t artifact_chunk_bytes_;
  RowReader rows_;
  QueueListeners listeners_;
  QueueNotifier notifier_;  // after listeners_, which it delivers to
  std::shared_ptr<RunLockSession> run_locks_;
};

}  // namespace evolve::postgres

#endif  // EVOLVE_POSTGRES_POSTGRES_BACKEND_H_
