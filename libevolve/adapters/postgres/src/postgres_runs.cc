// PostgresStore: runs and their generations (RunStore), fingerprints and
// lineage (ModelRegistry).
#include "postgres_backend.h"

#include <algorithm>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "evolve/json.h"

namespace evolve::postgres {
namespace {

constexpr char kInsertRun[] =
    "INSERT INTO evolution_runs (id, symbol, status, config, hyperparameters, data_options, "
    "current_generation, seed_model_id, best_sqn, best_model_id, promoted, promotion_id, stop_reason, "
    "error, created_at, updated_at) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, "
    "NULLIF($9, '')::double precision, $10, $11::boolean, $12, $13, $14, now(), now()) "
    "ON CONFLICT (id) DO NOTHING RETURNING 1";
constexpr char kInsertEdge[] =
    "INSERT INTO evolution_log (id, run_id, parent_model_id, child_model_id, generation, parent_sqn, doc, "
    "created_at) VALUES ($2, $3, $4, $5, $6, NULLIF($7, '')::double precision, $1::jsonb, now()) "
    "ON CONFLICT (id) DO NOTHING";

// Deeper than any real lineage (one edge per generation); reaching it means
// corrupt data, and stops the recursive query.
constexpr int kMaxAncestryDepth = 10000;

}  // namespace

// ---------------------------------------------------------------- RunStore

Status PostgresStore::CreateRun(const Run& run) {
  if (run.id.empty()) return InvalidArgumentError("run id: must not be empty");
  EVOLVE_ASSIGN_OR_RETURN(const std::string config,
                          ReadableJson(run.config, &StoredConfigFromJson, "run " + run.id + ": config"));
  return pool_.Transact([&](pqxx::work& tx) -> Status {
    const pqxx::result inserted = tx.exec_params(
        kInsertRun, run.id, run.config.symbol, std::string(RunStatusName(run.status)), config,
        run.config.hyperparameters, run.config.data_options, run.current_generation, run.seed_model_id,
        OptionalFloat(run.best_sqn), run.best_model_id, std::string(run.promoted ? "true" : "false"),
        run.promotion_id, run.stop_reason, run.error);
    if (inserted.empty()) return AlreadyExistsError("run " + run.id + " exists");
    return Status::Ok();
  });
}

Result<Run> PostgresStore::GetRun(const std::string& run_id) {
  return GetOne("SELECT " + RunColumns() + " FROM evolution_runs WHERE id = $1", run_id,
                "run " + run_id + " not found", &RowReader::ReadRun);
}

Result<RunCounts> PostgresStore::CountRuns() {
  return pool_.Transact([&](pqxx::work& tx) -> Result<RunCounts> {
    const pqxx::result rows = tx.exec("SELECT status, count(*) FROM evolution_runs GROUP BY status");
    RunCounts counts;
    for (const pqxx::row& row : rows) {
      RunStatus status;
      const std::string name = row[0].as<std::string>();
      if (!ParseRunStatus(name, &status))
        return InternalError("evolution_runs: unknown status '" + name + "'");
      counts.by_status[status] = row[1].as<int64_t>();
    }
    return counts;
  });
}

Result<std::vector<Run>> PostgresStore::ListRuns(const RunFilter& filter) {
  EVOLVE_RETURN_IF_ERROR(CheckPage(filter.limit, filter.offset));
  const std::string status = filter.status.has_value() ? RunStatusName(*filter.status) : "";
  return pool_.Transact([&](pqxx::work& tx) -> Result<std::vector<Run>> {
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
    return rows_.ReadAll(rows, &RowReader::ReadRun);
  });
}

Status PostgresStore::UpdateRun(const Run& run, RunStatus expected) {
  EVOLVE_ASSIGN_OR_RETURN(const std::string config,
                          ReadableJson(run.config, &StoredConfigFromJson, "run " + run.id + ": config"));
  return pool_.Transact([&](pqxx::work& tx) -> Status {
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
  return Write([&](pqxx::work& tx, std::vector<QueueEvent>* events) -> Status {
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
            "error, worker_id, attempts, max_attempts, lease_until, created_at, now(), claim_token, deaths, "
            "kind, task, output FROM cancelled) "
            "SELECT batch_id FROM cancelled GROUP BY batch_id ORDER BY MIN(created_at), batch_id",
        run_id);
    for (const pqxx::row& row : batches)
      AddEvent(events, QueueEvent::Kind::kJobFinished, run_id, Text(row, 0));
    return Status::Ok();
  });
}

Status PostgresStore::SaveGeneration(const Generation& generation) {
  EVOLVE_ASSIGN_OR_RETURN(const std::string doc, ReadableJson(generation, &GenerationFromJson,
                                                              "run " + generation.run_id + " generation " +
                                                                  std::to_string(generation.generation)));
  return pool_.Transact([&](pqxx::work& tx) -> Status {
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

Result<Generation> PostgresStore::GetGeneration(const std::string& run_id, int generation) {
  return pool_.Transact([&](pqxx::work& tx) -> Result<Generation> {
    const pqxx::result rows =
        tx.exec_params("SELECT doc::text, " + Micros("updated_at") +
                           " FROM evolution_generations WHERE run_id = $1 AND generation = $2",
                       run_id, generation);
    if (rows.empty())
      return NotFoundError("run " + run_id + " has no generation " + std::to_string(generation));
    return rows_.ReadGeneration(run_id + "/" + std::to_string(generation), rows[0]);
  });
}

Result<std::vector<Generation>> PostgresStore::ListGenerations(const std::string& run_id) {
  return ListBy<Generation>(
      "SELECT doc::text, " + Micros("updated_at") +
          ", generation FROM evolution_generations WHERE run_id = $1 ORDER BY generation",
      run_id, [&](const pqxx::row& row) { return rows_.ReadGeneration(run_id + "/" + Text(row, 2), row); });
}

// ------------------------------------------------------------ ModelRegistry

Result<FingerprintRecord> PostgresStore::LookupFingerprint(const std::string& fingerprint) {
  return GetOne("SELECT " + FingerprintColumns() + " FROM model_fingerprints WHERE fingerprint = $1",
                fingerprint, "fingerprint " + fingerprint + " not found", &RowReader::ReadFingerprint);
}

Result<FingerprintRecord> PostgresStore::RecordFingerprint(const FingerprintRecord& record) {
  if (record.fingerprint.empty()) return InvalidArgumentError("fingerprint: must not be empty");
  EVOLVE_ASSIGN_OR_RETURN(
      const std::string spec,
      ReadableJson(record.spec, &ModelSpecFromJson, "fingerprint " + record.fingerprint + ": spec"));
  return pool_.Transact([&](pqxx::work& tx) -> Result<FingerprintRecord> {
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
      return InternalError("postgres " + pool_.endpoint().url + ": fingerprint " + record.fingerprint +
                           " vanished after insert");
    }
    return rows_.ReadFingerprint(rows[0]);
  });
}

Status PostgresStore::AddLineageEdge(const LineageEdge& edge) {
  if (edge.id.empty()) return InvalidArgumentError("lineage edge id: must not be empty");
  return InsertRecord(edge, &LineageEdgeFromJson, "lineage edge " + edge.id, kInsertEdge, edge.id,
                      edge.run_id, edge.parent_model_id, edge.child_model_id, edge.generation,
                      OptionalFloat(edge.parent_sqn));
}

Result<std::vector<LineageEdge>> PostgresStore::ListLineage(const std::string& run_id) {
  return ListBy<LineageEdge>("SELECT id, doc::text, " + Micros("created_at") +
                                 " FROM evolution_log WHERE run_id = $1 ORDER BY generation, created_at, id",
                             run_id, [this](const pqxx::row& row) { return rows_.ReadEdge(row, 0); });
}

Result<std::vector<LineageEdge>> PostgresStore::Ancestry(const std::string& model_id) {
  return pool_.Transact([&](pqxx::work& tx) -> Result<std::vector<LineageEdge>> {
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
        " SELECT e.child_model_id, e.id, e.doc::text, " +
            Micros("e.created_at") +
            " FROM chain AS c JOIN evolution_log AS e ON e.id = c.id ORDER BY c.depth",
        model_id, kMaxAncestryDepth);
    std::vector<LineageEdge> edges;
    std::set<std::string> seen;
    for (const pqxx::row& row : rows) {
      const std::string child = Text(row, 0);
      if (!seen.insert(child).second) {
        // Pruning only ever shrinks a feature set, so a cycle means corrupt
        // data; following it would never end.
        return InternalError("lineage of model " + model_id + " has a cycle through model " + child);
      }
      EVOLVE_ASSIGN_OR_RETURN(LineageEdge edge, rows_.ReadEdge(row, 1));
      edges.push_back(std::move(edge));
    }
    if (edges.size() > static_cast<size_t>(kMaxAncestryDepth)) {
      return InternalError("lineage of model " + model_id + " is deeper than " +
                           std::to_string(kMaxAncestryDepth) + " edges");
    }
    return edges;
  });
}

}  // namespace evolve::postgres
