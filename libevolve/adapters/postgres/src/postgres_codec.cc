// Values to and from PostgreSQL: parameter encoding, column lists and the
// row readers of every record.
#include "postgres_codec.h"

#include <charconv>
#include <cstdio>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "evolve/json.h"

namespace evolve::postgres {

// ------------------------------------------------------------- parameters

std::string Float(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  return buffer;
}

std::string OptionalFloat(const std::optional<double>& value) { return value ? Float(*value) : ""; }

void ArrayLiteral::Add(std::string_view item) {
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

void ArrayLiteral::AddNull() {
  Separate();
  out_ += "NULL";
}

void ArrayLiteral::Add(const std::optional<std::string>& item) {
  if (item.has_value()) {
    Add(std::string_view(*item));
  } else {
    AddNull();
  }
}

std::string ArrayLiteral::Take() {
  out_ += '}';
  return std::move(out_);
}

void ArrayLiteral::Separate() {
  if (!empty_) out_ += ',';
  empty_ = false;
}

std::string ArrayOf(const std::vector<std::optional<std::string>>& items) {
  ArrayLiteral array;
  for (const auto& item : items) array.Add(item);
  return array.Take();
}

Result<EvolutionConfig> StoredConfigFromJson(std::string_view json, std::vector<FieldError>* errors) {
  return EvolutionConfigFromJson(json, errors);
}

// ---------------------------------------------------------------- columns

std::string Micros(const std::string& column) {
  return "(extract(epoch FROM " + column + ") * 1000000)::bigint";
}

std::string FloatMicros(const std::string& column) {
  return "round(date_part('epoch', " + column + ") * 1000000)::bigint";
}

const std::string& RunColumns() {
  static const std::string columns =
      "id, status, config::text, hyperparameters, data_options, current_generation, seed_model_id, "
      "best_sqn, best_model_id, promoted, promotion_id, stop_reason, error, " +
      Micros("created_at") + ", " + Micros("updated_at");
  return columns;
}

const std::string& JobColumns() {
  static const std::string columns =
      "id, batch_id, run_id, model_id, generation, priority, status, params::text, result::text, error, "
      "worker_id, attempts, max_attempts, " +
      Micros("lease_until") + ", " + Micros("created_at") + ", " + Micros("updated_at") +
      ", deaths, claim_token, kind, task, output";
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

// ------------------------------------------------------------------- rows

std::string Text(const pqxx::row& row, int column) {
  const pqxx::field field = row[column];
  return field.is_null() ? std::string() : std::string(field.c_str(), field.size());
}

std::string_view View(const pqxx::row& row, int column) {
  const pqxx::field field = row[column];
  return std::string_view(field.c_str(), field.size());
}

int Int(const pqxx::row& row, int column) { return row[column].as<int>(); }

int64_t Int64(const pqxx::row& row, int column) { return row[column].as<long long>(); }  // NOLINT

TimePoint Time(const pqxx::row& row, int column) { return FromUnixMicros(Int64(row, column)); }

void ReadField(const pqxx::row& row, int column, std::string* out) { *out = Text(row, column); }
void ReadField(const pqxx::row& row, int column, int* out) { *out = Int(row, column); }
void ReadField(const pqxx::row& row, int column, int64_t* out) { *out = Int64(row, column); }
void ReadField(const pqxx::row& row, int column, bool* out) { *out = row[column].as<bool>(); }
void ReadField(const pqxx::row& row, int column, TimePoint* out) { *out = Time(row, column); }

// float8 text is shortest-exact: from_chars reads it back bit for bit, and
// without the stream and locale that pqxx's conversion sets up per value.
void ReadField(const pqxx::row& row, int column, double* out) {
  const std::string_view text = View(row, column);
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *out);
  if (error == std::errc() && end == text.data() + text.size()) return;
  *out = row[column].as<double>();  // NaN, Infinity: pqxx's spelling rules
}

void ReadField(const pqxx::row& row, int column, std::optional<double>* out) {
  out->reset();
  if (row[column].is_null()) return;
  ReadField(row, column, &out->emplace());
}

void ReadField(const pqxx::row& row, int column, std::optional<TimePoint>* out) {
  out->reset();
  if (!row[column].is_null()) *out = Time(row, column);
}

Status RowReader::Corrupt(const std::string& table, const std::string& key,
                          const std::string& problem) const {
  return InternalError("postgres " + url_ + ": " + table + " " + key + ": " + problem);
}

template <typename T>
Result<T> RowReader::ReadDoc(std::string_view json, JsonParser<T> parse, const std::string& table,
                             const std::string& key) const {
  Result<T> value = parse(json, nullptr);
  if (!value.ok()) return Corrupt(table, key, "unreadable JSON: " + value.status().message());
  return value;
}

Result<Run> RowReader::ReadRun(const pqxx::row& row) const {
  Run run;
  run.id = Text(row, 0);
  EVOLVE_ASSIGN_OR_RETURN(run.status, ReadStatus(row, 1, &ParseRunStatus, "evolution_runs", run.id));
  EVOLVE_ASSIGN_OR_RETURN(run.config, ReadDoc(View(row, 2), &StoredConfigFromJson, "evolution_runs", run.id));
  ReadColumns(row, 3, run.config.hyperparameters, run.config.data_options, run.current_generation,
              run.seed_model_id, run.best_sqn, run.best_model_id, run.promoted, run.promotion_id,
              run.stop_reason, run.error, run.created_at, run.updated_at);
  return run;
}

Result<Job> RowReader::ReadJob(const pqxx::row& row) const {
  Job job;
  ReadColumns(row, 0, job.id, job.batch_id, job.run_id, job.model_id, job.generation, job.priority);
  EVOLVE_ASSIGN_OR_RETURN(job.status, ReadStatus(row, 6, &ParseJobStatus, "priority_jobs", job.id));
  EVOLVE_ASSIGN_OR_RETURN(job.params,
                          ReadDoc(View(row, 7), &SimulationParamsFromJson, "priority_jobs", job.id));
  if (!row[8].is_null()) {
    EVOLVE_ASSIGN_OR_RETURN(job.result,
                            ReadDoc(View(row, 8), &SimulationResultFromJson, "priority_jobs", job.id));
  }
  ReadColumns(row, 9, job.error, job.worker_id, job.attempts, job.max_attempts, job.lease_until,
              job.created_at, job.updated_at, job.deaths, job.claim_token);
  EVOLVE_ASSIGN_OR_RETURN(job.kind, ReadStatus(row, 18, &ParseJobKind, "priority_jobs", job.id, "kind"));
  ReadColumns(row, 19, job.task, job.output);
  return job;
}

Result<FingerprintRecord> RowReader::ReadFingerprint(const pqxx::row& row) const {
  FingerprintRecord record;
  ReadColumns(row, 0, record.fingerprint, record.model_id);
  EVOLVE_ASSIGN_OR_RETURN(
      record.spec, ReadDoc(View(row, 2), &ModelSpecFromJson, "model_fingerprints", record.fingerprint));
  ReadColumns(row, 3, record.spec.hyperparameters, record.spec.data_options, record.created_at);
  return record;
}

Result<Promotion> RowReader::ReadPromotion(const pqxx::row& row) const {
  EVOLVE_ASSIGN_OR_RETURN(Promotion promotion,
                          ReadDoc(View(row, 1), &PromotionFromJson, "promoted_models", Text(row, 0)));
  ReadColumns(row, 2, promotion.spec.hyperparameters, promotion.spec.data_options, promotion.created_at);
  return promotion;
}

Result<WorkerInfo> RowReader::ReadWorker(const pqxx::row& row) const {
  WorkerInfo worker;
  ReadColumns(row, 0, worker.id, worker.host, worker.pid, worker.status, worker.started_at,
              worker.last_heartbeat);
  EVOLVE_ASSIGN_OR_RETURN(worker.current_jobs,
                          ReadDoc(View(row, 6), &StringListFromJson, "workers", worker.id));
  ReadColumns(row, 7, worker.jobs_completed, worker.jobs_failed);
  return worker;
}

Result<LineageEdge> RowReader::ReadEdge(const pqxx::row& row, int first) const {
  EVOLVE_ASSIGN_OR_RETURN(LineageEdge edge, ReadDoc(View(row, first + 1), &LineageEdgeFromJson,
                                                    "evolution_log", Text(row, first)));
  ReadColumns(row, first + 2, edge.created_at);
  return edge;
}

// The updated_at column is the authority; the doc's copy is the caller's.
Result<Generation> RowReader::ReadGeneration(const std::string& key, const pqxx::row& row) const {
  EVOLVE_ASSIGN_OR_RETURN(Generation generation,
                          ReadDoc(View(row, 0), &GenerationFromJson, "evolution_generations", key));
  ReadColumns(row, 1, generation.updated_at);
  return generation;
}

}  // namespace evolve::postgres
