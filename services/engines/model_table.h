// The models of evolve-engines' training service: every POST /train gets a
// record here, from "pending" through "training" to "completed" or
// "failed".
//
// Durability: a record is written to the ArtifactStore (the --db SQLite
// file) when it reaches a final state, as an append-only log of immutable
// artifacts "engines/models/0", "engines/models/1", ..., each holding one
// finished record. Open() reads the log back, so a restarted service still
// knows every completed model (its id, spec, metrics and the built-in
// trainer's model artifact it points to) and every failure. Pending and
// training records live only in memory: a training that had not finished
// when the service stopped is forgotten, and GET /models/{id} answers 404
// for it (the caller trains again).
//
// De-duplication: a record is found by the fingerprint of its spec
// (evolve/fingerprint.h: the feature list included). Pending, training and
// completed records are duplicates of a new identical request; failed ones
// are not (the request trains again).
//
// Thread-safety: every method may be called from any thread.
#ifndef EVOLVE_SERVICES_ENGINES_MODEL_TABLE_H_
#define EVOLVE_SERVICES_ENGINES_MODEL_TABLE_H_

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "evolve/clock.h"
#include "evolve/status.h"
#include "evolve/store.h"
#include "evolve/trainer.h"
#include "evolve/types.h"

namespace evolve::engines_service {

enum class ModelState { kPending, kTraining, kCompleted, kFailed };
const char* ModelStateName(ModelState state);  // "pending", "training", "completed", "failed"

struct ModelRecord {
  std::string id;               // the service's id ("model_..."), what POST /train answers
  std::string engine_model_id;  // the built-in trainer's model ("mdl_..."), once completed
  ModelState state = ModelState::kPending;
  std::string error_message;  // set when failed
  ModelSpec spec;             // canonical algorithm name, upper-case symbol, resolved features
  double p_value_threshold = 0.05;
  std::string fingerprint;
  std::map<std::string, double> metrics;  // the trainer's (oos_r2, oos_mse, refits, ...)
  TimePoint created_at{};
  std::optional<TimePoint> started_at;
  std::optional<TimePoint> completed_at;
};

// The record as the log stores it (and as Open() reads it back).
std::string RecordToLogJson(const ModelRecord& record);
Result<ModelRecord> RecordFromLogJson(const std::string& json);

class ModelTable {
 public:
  // Reads the finished records of the log in `artifacts`, which must outlive
  // the table. Errors: what the store answers (kUnavailable, ...); kInternal
  // for a log entry that cannot be read.
  static Result<std::unique_ptr<ModelTable>> Open(ArtifactStore& artifacts, Clock& clock);

  ModelTable(const ModelTable&) = delete;
  ModelTable& operator=(const ModelTable&) = delete;

  struct Admission {
    bool duplicate = false;
    ModelRecord record;  // the new pending record, or the existing one
  };
  // A new pending record for `spec` (whose fingerprint is `fingerprint`),
  // or, when a pending, training or completed record has that fingerprint,
  // that record with duplicate = true.
  Admission Admit(const ModelSpec& spec, const std::string& fingerprint, double p_value_threshold);

  // Forgets a pending record that will never be trained (the queue refused it).
  void Withdraw(const std::string& id);

  // pending -> training. False when the record is gone.
  bool MarkTraining(const std::string& id);
  // training -> completed, written to the log first. When the log cannot be
  // written the record fails instead (a model nobody can find again after a
  // restart is not a completed model); the error is returned.
  Status Complete(const std::string& id, const TrainedModel& model);
  // -> failed with `error`, written to the log (best effort: a failure that
  // is forgotten on restart is only retrained).
  void Fail(const std::string& id, const std::string& error);

  // By service id, or by the built-in trainer's model id of a completed record.
  std::optional<ModelRecord> Find(const std::string& id) const;
  // Every record, oldest first.
  std::vector<ModelRecord> List() const;

  struct Counts {
    int pending = 0, training = 0, completed = 0, failed = 0;
  };
  Counts CountByState() const;

 private:
  ModelTable(ArtifactStore& artifacts, Clock& clock) : artifacts_(artifacts), clock_(clock) {}

  // Appends `record` to the log: the next free "engines/models/<n>". Keys are
  // write-once, so two processes racing for one slot are told apart by
  // reading the slot back; the loser takes the next one.
  Status Append(const ModelRecord& record);
  // Inserts a record into the maps. REQUIRES: mu_ held.
  void IndexLocked(const ModelRecord& record);

  ArtifactStore& artifacts_;
  Clock& clock_;

  std::mutex log_mu_;    // serialises Append
  int64_t next_slot_ = 0;  // guarded by log_mu_

  mutable std::mutex mu_;
  std::map<std::string, ModelRecord> records_;               // by id; guarded by mu_
  std::map<std::string, std::string> by_fingerprint_;        // -> id of a live record; guarded by mu_
  std::map<std::string, std::string> by_engine_model_id_;    // -> id; guarded by mu_
  std::vector<std::string> order_;                           // ids, oldest first; guarded by mu_
};

}  // namespace evolve::engines_service

#endif  // EVOLVE_SERVICES_ENGINES_MODEL_TABLE_H_
