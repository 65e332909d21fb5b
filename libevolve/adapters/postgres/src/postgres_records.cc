// PostgresStore: promotions (PromotionStore) and workers (WorkerRegistry).
#include "postgres_backend.h"

#include <string>
#include <vector>

#include "evolve/json.h"

namespace evolve::postgres {
namespace {

constexpr char kInsertPromotion[] =
    "INSERT INTO promoted_models (id, model_id, run_id, generation, sqn, doc, hyperparameters, data_options, "
    "created_at) VALUES ($2, $3, $4, $5, $6::double precision, $1::jsonb, $7, $8, now()) "
    "ON CONFLICT (id) DO NOTHING";

}  // namespace

// ----------------------------------------------------------- PromotionStore

Status PostgresStore::SavePromotion(const Promotion& promotion) {
  if (promotion.id.empty()) return InvalidArgumentError("promotion id: must not be empty");
  return InsertRecord(promotion, &PromotionFromJson, "promotion " + promotion.id, kInsertPromotion,
                      promotion.id, promotion.model_id, promotion.run_id, promotion.generation,
                      Float(promotion.sqn), promotion.spec.hyperparameters, promotion.spec.data_options);
}

Result<Promotion> PostgresStore::GetPromotion(const std::string& promotion_id) {
  return GetOne("SELECT " + PromotionColumns() + " FROM promoted_models WHERE id = $1", promotion_id,
                "promotion " + promotion_id + " not found", &RowReader::ReadPromotion);
}

Result<std::vector<Promotion>> PostgresStore::ListPromotions(int limit, int offset) {
  EVOLVE_RETURN_IF_ERROR(CheckPage(limit, offset));
  return pool_.Transact([&](pqxx::work& tx) -> Result<std::vector<Promotion>> {
    // Highest SQN first; among equal SQNs the earliest win comes first.
    const pqxx::result rows = tx.exec_params("SELECT " + PromotionColumns() +
                                                 " FROM promoted_models ORDER BY sqn DESC, created_at, id "
                                                 "LIMIT NULLIF($1, 0) OFFSET $2",
                                             limit, offset);
    return rows_.ReadAll(rows, &RowReader::ReadPromotion);
  });
}

// ----------------------------------------------------------- WorkerRegistry

Status PostgresStore::RegisterWorker(const WorkerInfo& worker) {
  if (worker.id.empty()) return InvalidArgumentError("worker id: must not be empty");
  return pool_.Transact([&](pqxx::work& tx) -> Status {
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
  return pool_.Transact([&](pqxx::work& tx) -> Status {
    const pqxx::result updated = tx.exec_params(
        "UPDATE workers SET last_heartbeat = now(), current_jobs = $2::jsonb WHERE id = $1 RETURNING 1",
        worker_id, ToJson(current_jobs));
    if (updated.empty()) return NotFoundError("worker " + worker_id + " not registered");
    return Status::Ok();
  });
}

Status PostgresStore::DeregisterWorker(const std::string& worker_id) {
  return pool_.Transact([&](pqxx::work& tx) -> Status {
    const pqxx::result updated = tx.exec_params(
        "UPDATE workers SET status = 'STOPPED', current_jobs = '[]' WHERE id = $1 RETURNING 1", worker_id);
    if (updated.empty()) return NotFoundError("worker " + worker_id + " not registered");
    return Status::Ok();
  });
}

Result<std::vector<WorkerInfo>> PostgresStore::ListWorkers() {
  return pool_.Transact([&](pqxx::work& tx) -> Result<std::vector<WorkerInfo>> {
    const pqxx::result rows =
        tx.exec("SELECT " + WorkerColumns() + " FROM workers ORDER BY last_heartbeat DESC, id");
    return rows_.ReadAll(rows, &RowReader::ReadWorker);
  });
}

}  // namespace evolve::postgres
