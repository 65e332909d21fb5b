// Values to and from PostgreSQL: parameters as text (doubles that read back
// exactly, array literals for unnest()), the column lists of
// each record, and RowReader, which turns a row of such a list back into a
// record. Private to evolve::postgres.
//
// Values go in as parameters only ($1, $2, ...), never spliced into SQL;
// batches go in as one array parameter each.
//
// Thread-safety: everything here is pure or immutable.
#ifndef EVOLVE_POSTGRES_POSTGRES_CODEC_H_
#define EVOLVE_POSTGRES_POSTGRES_CODEC_H_

#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "evolve/clock.h"
#include "evolve/json.h"
#include "evolve/status.h"
#include "evolve/types.h"

namespace evolve::postgres {

// ------------------------------------------------------------- parameters

// A double as text that reads back as the same double ("%.17g"); callers
// never pass NaN or infinities (ValidateBatch, optional metrics).
std::string Float(double value);

// An optional double for `NULLIF($n, '')::double precision`.
std::string OptionalFloat(const std::optional<double>& value);

// Builds a PostgreSQL array literal ({"a","b",NULL}): a whole batch in one
// parameter, for unnest().
class ArrayLiteral {
 public:
  void Add(std::string_view item);
  void AddNull();
  void Add(const std::optional<std::string>& item);
  std::string Take();

 private:
  void Separate();
  std::string out_ = "{";
  bool empty_ = true;
};

// The array literal of `items`, unset ones NULL.
std::string ArrayOf(const std::vector<std::optional<std::string>>& items);

// The array literal of `to_text(item)` for each of `items`.
template <typename T, typename F>
std::string ArrayOf(const std::vector<T>& items, F to_text) {
  ArrayLiteral array;
  for (const T& item : items) array.Add(std::string_view(to_text(item)));
  return array.Take();
}

// A parser of evolve/json.h: &EvolutionConfigFromJson, &ModelSpecFromJson, ...
template <typename T>
using JsonParser = Result<T> (*)(std::string_view, std::vector<FieldError>*);

// EvolutionConfigFromJson as a JsonParser: a stored config has every
// field, so its default for a missing max_generations does not apply.
Result<EvolutionConfig> StoredConfigFromJson(std::string_view json, std::vector<FieldError>* errors);

// `value` as JSON, checked by `parse` to read back, so that a record is
// never stored in a form that every later read would reject. Errors:
// kInvalidArgument naming `what`.
template <typename T>
Result<std::string> ReadableJson(const T& value, JsonParser<T> parse, const std::string& what) {
  std::string json = ToJson(value);
  Result<T> back = parse(json, nullptr);
  if (!back.ok()) return InvalidArgumentError(what + ": " + back.status().message());
  return json;
}

// ---------------------------------------------------------------- columns

// `column` (timestamptz) as integer microseconds since the Unix epoch: exact,
// unlike the text form, which depends on the session's settings.
std::string Micros(const std::string& column);
// The same through double precision, cheaper where it runs for every row
// of a claim: a double holds any such time to well under a microsecond, so
// rounding gives back the exact value (checked against Micros for 2 million
// random times of 1970-2096).
std::string FloatMicros(const std::string& column);

// Column lists, in the order RowReader expects them.
const std::string& RunColumns();
const std::string& JobColumns();
const std::string& FingerprintColumns();
const std::string& PromotionColumns();
const std::string& WorkerColumns();
// Every column of job_queue and priority_jobs, in table order (the two
// tables have the same columns: a job moves from one to the other whole).
inline constexpr const char* kJobTableColumns =
    "id, batch_id, run_id, model_id, generation, priority, status, params, result, error, worker_id, "
    "attempts, max_attempts, lease_until, created_at, updated_at, claim_token, deaths, kind, task, output";

// ------------------------------------------------------------------- rows

// The text of a column; empty for NULL.
std::string Text(const pqxx::row& row, int column);
// The text of a column, valid while its result lives; empty for NULL.
std::string_view View(const pqxx::row& row, int column);
int Int(const pqxx::row& row, int column);
int64_t Int64(const pqxx::row& row, int column);
TimePoint Time(const pqxx::row& row, int column);

// Reads the columns `first`, `first + 1`, ... of `row` into `fields`, each
// as its type says: std::string (NULL: empty), int, int64_t, double, bool,
// TimePoint (integer microseconds), or an optional of double or TimePoint
// (NULL: unset). The scalar part of every reader below.
void ReadField(const pqxx::row& row, int column, std::string* out);
void ReadField(const pqxx::row& row, int column, int* out);
void ReadField(const pqxx::row& row, int column, int64_t* out);
void ReadField(const pqxx::row& row, int column, double* out);
void ReadField(const pqxx::row& row, int column, bool* out);
void ReadField(const pqxx::row& row, int column, TimePoint* out);
void ReadField(const pqxx::row& row, int column, std::optional<double>* out);
void ReadField(const pqxx::row& row, int column, std::optional<TimePoint>* out);
template <typename... T>
void ReadColumns(const pqxx::row& row, int first, T&... fields) {
  int column = first;
  (ReadField(row, column++, &fields), ...);
}

// Reads rows of the column lists above into records; a stored value this
// build cannot read is kInternal naming the URL, the table and the key.
class RowReader {
 public:
  explicit RowReader(std::string url) : url_(std::move(url)) {}

  Status Corrupt(const std::string& table, const std::string& key, const std::string& problem) const;

  // The status in `column` of `row`, a record of `table` named `key`, read
  // by `parse` (ParseRunStatus, ParseJobStatus); or another name of an enum
  // (ParseJobKind), which `what` names in the error.
  template <typename T>
  Result<T> ReadStatus(const pqxx::row& row, int column, bool (*parse)(const std::string&, T*),
                       const std::string& table, const std::string& key, const char* what = "status") const {
    const std::string name = Text(row, column);
    T status{};
    if (!parse(name, &status)) return Corrupt(table, key, std::string("unknown ") + what + " '" + name + "'");
    return status;
  }

  Result<Run> ReadRun(const pqxx::row& row) const;
  Result<Job> ReadJob(const pqxx::row& row) const;
  Result<FingerprintRecord> ReadFingerprint(const pqxx::row& row) const;
  Result<Promotion> ReadPromotion(const pqxx::row& row) const;
  Result<WorkerInfo> ReadWorker(const pqxx::row& row) const;
  // A row of (id, doc, created_at micros) from column `first` on.
  Result<LineageEdge> ReadEdge(const pqxx::row& row, int first) const;
  // A row of (doc, updated_at micros); `key` names it in errors.
  Result<Generation> ReadGeneration(const std::string& key, const pqxx::row& row) const;

  // Every row of `rows` through `read` (a reader above), in order.
  template <typename T, typename Read>
  Result<std::vector<T>> ReadAll(const pqxx::result& rows, Read read) const {
    std::vector<T> records;
    records.reserve(rows.size());
    for (const pqxx::row& row : rows) {
      EVOLVE_ASSIGN_OR_RETURN(T record, read(row));
      records.push_back(std::move(record));
    }
    return records;
  }
  template <typename T>
  Result<std::vector<T>> ReadAll(const pqxx::result& rows,
                                 Result<T> (RowReader::*read)(const pqxx::row&) const) const {
    return ReadAll<T>(rows, [this, read](const pqxx::row& row) { return (this->*read)(row); });
  }

 private:
  template <typename T>
  Result<T> ReadDoc(std::string_view json, JsonParser<T> parse, const std::string& table,
                    const std::string& key) const;

  std::string url_;
};

}  // namespace evolve::postgres

#endif  // EVOLVE_POSTGRES_POSTGRES_CODEC_H_
