// BarsTable: finding the table and its columns in the catalog (Open), the
// SQL of its reads, and running them on its one libpq connection. The
// decoding of what COPY sends is postgres_bars_copy.cc's.
//
// The SQL, for a table t whose roles are columns sym, ts, ...:
//
//   Read     BEGIN READ ONLY;
//            SELECT set_config('evolve.bars_symbol', $1, true);
//            COPY (SELECT ts, open, ... FROM t
//                  WHERE sym = current_setting('evolve.bars_symbol')::text ORDER BY ts)
//              TO STDOUT (FORMAT binary);
//            COMMIT
//            COPY takes no parameters, so the symbol travels as one to
//            set_config, local to the transaction, and the query reads it
//            back; current_setting is stable, so an index on (sym, ts) still
//            serves both the condition and the order. The columns go in
//            their own types, converted by the decoder: a numeric::float8
//            on the server doubled its time per row.
//   Version  SELECT count(*), min(ts)::text, max(ts)::text FROM t WHERE sym = $1
//   Symbols  a loose index scan when the server's plan for "the first
//            symbol" is an index scan without a sort:
//              WITH RECURSIVE s(v) AS (
//                (SELECT sym FROM t WHERE sym IS NOT NULL ORDER BY sym LIMIT 1)
//                UNION ALL
//                SELECT (SELECT sym FROM t WHERE sym > s.v ORDER BY sym LIMIT 1)
//                FROM s WHERE s.v IS NOT NULL)
//              SELECT v FROM s WHERE v IS NOT NULL
//            else SELECT DISTINCT sym FROM t (one scan, where the recursion
//            would scan the table once per symbol).
//
// Identifiers are quoted by PQescapeIdentifier; the resolved table is named
// by its schema and name, so later calls do not depend on the search path.
// Every session runs with TimeZone UTC and DateStyle ISO, so that Version's
// text does not depend on the server's settings.
#include "evolve/postgres/postgres_bars.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "postgres_bars_copy.h"
#include "postgres_connection.h"
#include "postgres_libpq.h"

namespace evolve::postgres {
namespace {

struct ClearResult {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, ClearResult>;

// The custom setting through which Read passes the symbol to its COPY.
constexpr char kSymbolSetting[] = "evolve.bars_symbol";

// Symbols whose row counts a BarsTable remembers (then it forgets them all).
constexpr size_t kRowsSeenLimit = 100000;
// The most rows a Read makes room for before it sees them (an estimate
// can be wrong; room beyond it is grown as rows come).
constexpr size_t kMaxExpectedRows = size_t{1} << 24;

// The type OIDs of pg_type that the roles take (fixed in every PostgreSQL).
enum TypeOid : unsigned {
  kNameOid = 19,
  kInt8Oid = 20,
  kInt2Oid = 21,
  kInt4Oid = 23,
  kTextOid = 25,
  kFloat4Oid = 700,
  kFloat8Oid = 701,
  kBpcharOid = 1042,
  kVarcharOid = 1043,
  kDateOid = 1082,
  kTimestampOid = 1114,
  kTimestampTzOid = 1184,
  kNumericOid = 1700,
};

// libpq's messages end with a newline.
std::string Trimmed(const char* text) {
  std::string message = text != nullptr ? text : "";
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message;
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string Join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string joined;
  for (size_t i = 0; i < parts.size(); ++i) joined += (i == 0 ? "" : separator) + parts[i];
  return joined;
}

// What a role is for, which decides the types it takes.
enum class Use { kSymbol, kTs, kValue };

struct Role {
  const char* name;
  std::string BarsTableOptions::*column;
  bool required;
  Use use;
};

constexpr Role kRoles[] = {
    {"symbol", &BarsTableOptions::symbol, true, Use::kSymbol},
    {"ts", &BarsTableOptions::ts, true, Use::kTs},
    {"open", &BarsTableOptions::open, true, Use::kValue},
    {"high", &BarsTableOptions::high, true, Use::kValue},
    {"low", &BarsTableOptions::low, true, Use::kValue},
    {"close", &BarsTableOptions::close, true, Use::kValue},
    {"volume", &BarsTableOptions::volume, true, Use::kValue},
    {"vwap", &BarsTableOptions::vwap, false, Use::kValue},
    {"trade_count", &BarsTableOptions::trade_count, false, Use::kValue},
};

// The role as messages name it (their hints are --bars-columns ROLE=COLUMN).
std::string Label(const Role& role, const BarsTableOptions& options) {
  return role.use == Use::kTs ? options.ts_role_name : role.name;
}

const char* Accepted(Use use) {
  switch (use) {
    case Use::kSymbol:
      return "text, character varying, character or name";
    case Use::kTs:
      return "timestamp with time zone, timestamp without time zone, date, bigint, integer or smallint";
    case Use::kValue:
      return "double precision, real, numeric, bigint, integer or smallint";
  }
  return "";
}

// How COPY sends a column of base type `oid` for `use`; nullopt when the
// role does not take that type. Every column is read in its own type: the
// server converts nothing (its numeric::float8 costs as much as the rest of
// the read), the decoder does.
std::optional<CopyField> FieldOf(Use use, unsigned oid) {
  if (use == Use::kSymbol) return std::nullopt;
  switch (oid) {
    case kInt2Oid:
      return CopyField::kInt2;
    case kInt4Oid:
      return CopyField::kInt4;
    case kInt8Oid:
      return CopyField::kInt8;
    case kTimestampTzOid:
      return use == Use::kTs ? std::optional<CopyField>(CopyField::kTimestampTz) : std::nullopt;
    case kTimestampOid:
      return use == Use::kTs ? std::optional<CopyField>(CopyField::kTimestamp) : std::nullopt;
    case kDateOid:
      return use == Use::kTs ? std::optional<CopyField>(CopyField::kDate) : std::nullopt;
    case kFloat4Oid:
      return use == Use::kValue ? std::optional<CopyField>(CopyField::kFloat4) : std::nullopt;
    case kFloat8Oid:
      return use == Use::kValue ? std::optional<CopyField>(CopyField::kFloat8) : std::nullopt;
    case kNumericOid:
      return use == Use::kValue ? std::optional<CopyField>(CopyField::kNumeric) : std::nullopt;
    default:
      return std::nullopt;
  }
}

// The type a symbol is compared as (its base type, without a length, so
// that a char(n) column's index serves and no value is cut).
std::optional<std::string> SymbolType(unsigned oid) {
  switch (oid) {
    case kTextOid:
      return "pg_catalog.text";
    case kVarcharOid:
      return "pg_catalog.varchar";
    case kBpcharOid:
      return "pg_catalog.bpchar";
    case kNameOid:
      return "pg_catalog.name";
    default:
      return std::nullopt;
  }
}

// One part of a table's name: as written between double quotes (quoted),
// or as written without them.
struct NamePart {
  std::string text;
  bool quoted = false;
};

// "bars", "market.bars", "\"Market\".\"a.b\"": one or two parts.
Result<std::vector<NamePart>> ParseTableName(const std::string& name) {
  std::vector<NamePart> parts;
  size_t at = 0;
  while (true) {
    NamePart part;
    if (at < name.size() && name[at] == '"') {
      part.quoted = true;
      ++at;
      while (true) {
        if (at >= name.size()) return InvalidArgumentError("table name " + name + ": unterminated quote");
        if (name[at] == '"') {
          if (at + 1 < name.size() && name[at + 1] == '"') {
            part.text += '"';
            at += 2;
            continue;
          }
          ++at;
          break;
        }
        part.text += name[at++];
      }
      if (at < name.size() && name[at] != '.') {
        return InvalidArgumentError("table name " + name + ": a quoted part must end at a '.' or the end");
      }
    } else {
      const size_t end = std::min(name.find('.', at), name.size());
      part.text = name.substr(at, end - at);
      at = end;
    }
    if (part.text.empty()) return InvalidArgumentError("table name '" + name + "' has an empty part");
    parts.push_back(std::move(part));
    if (at >= name.size()) break;
    ++at;  // the '.'
    if (at >= name.size()) return InvalidArgumentError("table name '" + name + "' has an empty part");
  }
  if (parts.size() > 2) {
    return InvalidArgumentError("table name '" + name + "' has " + std::to_string(parts.size()) +
                                " parts; name a table as TABLE or SCHEMA.TABLE");
  }
  return parts;
}

// A column as the catalog has it.
struct CatalogColumn {
  std::string name;
  std::string type;   // format_type: "timestamp with time zone", "numeric(12,4)", ...
  unsigned base = 0;  // the type's OID, or a domain's base type's
};

}  // namespace

struct BarsTable::Impl {
  Endpoint endpoint;
  std::string display;  // the table as the options name it

  std::vector<std::string> roles;  // the result's columns
  std::vector<CopyColumn> copy_columns;
  std::string read_sql;
  std::string version_sql;
  std::string symbols_explain_sql;
  std::string symbols_loose_sql;
  std::string symbols_scan_sql;

  std::string estimate_sql;  // EXPLAIN of the symbol's rows: the planner's row count

  std::mutex mu;
  std::unique_ptr<LibpqConnection> conn;  // guarded by mu; null when closed
  // The row counts last seen per symbol (by Version and Read), to size a
  // Read's columns at once. Guarded by mu.
  std::unordered_map<std::string, size_t> rows_seen;

  // Notes that `symbol` has `rows` rows.
  void Saw(const std::string& symbol, size_t rows) {
    if (rows_seen.size() >= kRowsSeenLimit) rows_seen.clear();
    rows_seen[symbol] = rows;
  }
  // How many rows a Read of `symbol` should make room for: the count last
  // seen, else the planner's estimate (0 when it has none). REQUIRES: mu held.
  size_t ExpectedRows(const std::string& symbol);

  // "postgres <url>: ".
  std::string Prefix() const { return "postgres " + endpoint.url + ": "; }

  // Connects when there is no usable connection. REQUIRES: mu held.
  Status Connect();
  // Closes the connection; the next call reconnects.
  void Close() { conn.reset(); }
  // Leaves the connection idle after a call: rolls back an open
  // transaction; closes one still busy (a COPY left unread).
  void Settle();
  // The Status of a failed statement (`result` may be null), `context`
  // saying what it did.
  Status Fail(const PGresult* result, const std::string& context);
  // Runs `sql` with text parameters and results; the result on success.
  Result<ResultPtr> Exec(const std::string& sql, const std::vector<std::string>& params,
                         const std::string& context);
  // `name` quoted as an identifier.
  Result<std::string> Quote(const std::string& name);

  // Open's steps. REQUIRES: mu held.
  Status Resolve(const BarsTableOptions& options);
  Result<std::optional<std::pair<std::string, std::string>>> FindRelation(const std::vector<NamePart>& parts,
                                                                          bool folded);
  Status NoSuchTable(const std::vector<NamePart>& parts);
  Result<unsigned> BaseType(unsigned oid, const std::string& column);
};

Status BarsTable::Impl::Connect() {
  if (conn != nullptr && PQstatus(conn->get()) == CONNECTION_OK) return Status::Ok();
  conn = std::make_unique<LibpqConnection>(PQconnectdb(endpoint.conninfo.c_str()));
  if (PQstatus(conn->get()) != CONNECTION_OK) {  // a null connection's status is CONNECTION_BAD
    const std::string message =
        conn->get() != nullptr ? Trimmed(PQerrorMessage(conn->get())) : "out of memory";
    Close();
    return UnavailableError(Prefix() + "cannot connect: " + message);
  }
  const char* datetimes = PQparameterStatus(conn->get(), "integer_datetimes");
  if (datetimes == nullptr || std::string(datetimes) != "on") {
    Close();
    return FailedPreconditionError(Prefix() +
                                   "the server does not have integer_datetimes, which binary COPY "
                                   "of timestamps needs");
  }
  const ResultPtr result(PQexec(conn->get(), "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'"));
  if (result == nullptr || PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    return Fail(result.get(), "setting the session's time zone");
  }
  return Status::Ok();
}

void BarsTable::Impl::Settle() {
  if (conn == nullptr) return;
  switch (PQtransactionStatus(conn->get())) {
    case PQTRANS_IDLE:
      return;
    case PQTRANS_INTRANS:
    case PQTRANS_INERROR: {
      const ResultPtr result(PQexec(conn->get(), "ROLLBACK"));
      if (result == nullptr || PQresultStatus(result.get()) != PGRES_COMMAND_OK) Close();
      return;
    }
    default:  // busy (a COPY not read to its end), or broken
      Close();
  }
}

Status BarsTable::Impl::Fail(const PGresult* result, const std::string& context) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state != nullptr ? state : "";
  const char* primary = result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string message = primary != nullptr  ? primary
                        : result != nullptr ? Trimmed(PQresultErrorMessage(result))
                        : conn != nullptr   ? Trimmed(PQerrorMessage(conn->get()))
                                            : "no connection";
  if (conn == nullptr || PQstatus(conn->get()) != CONNECTION_OK || IsConnectionLoss(sqlstate)) {
    Close();
    return endpoint.Lost(context + ": " + message);
  }
  const std::string text = Prefix() + context + ": " + message;
  if (sqlstate == "42501") return FailedPreconditionError(text);               // insufficient privilege
  if (sqlstate == "42P01" || sqlstate == "3F000") return NotFoundError(text);  // no such table, schema
  if (sqlstate == "42703" || sqlstate == "42804") {
    return FailedPreconditionError(text);  // no such column, another type: the table changed since Open
  }
  if (sqlstate.rfind("22", 0) == 0) return InvalidArgumentError(text);  // data exception
  if (sqlstate == "57014") return DeadlineExceededError(text);          // statement timeout, cancelled
  if (IsRetryable(sqlstate)) return UnavailableError(text);
  return InternalError(text);
}

Result<ResultPtr> BarsTable::Impl::Exec(const std::string& sql, const std::vector<std::string>& params,
                                        const std::string& context) {
  std::vector<const char*> values;
  for (const std::string& param : params) values.push_back(param.c_str());
  ResultPtr result(PQexecParams(conn->get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                                values.data(), nullptr, nullptr, /*resultFormat=text*/ 0));
  const ExecStatusType status = result != nullptr ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return Fail(result.get(), context);
  return result;
}

size_t BarsTable::Impl::ExpectedRows(const std::string& symbol) {
  const auto seen = rows_seen.find(symbol);
  // A little more than the count seen (rows may have been added since), a
  // quarter more than the planner's estimate (often a few percent short):
  // one growth of a large column costs more than room never touched.
  if (seen != rows_seen.end()) return std::min(seen->second + seen->second / 64 + 16, kMaxExpectedRows);
  // The top line of the plan: "Index Scan using ... (cost=0.43..76693.36 rows=1000000 width=64)".
  // Planning only, about a millisecond; a failure here is the COPY's to report.
  const char* const values[] = {symbol.c_str()};
  const ResultPtr plan(
      PQexecParams(conn->get(), estimate_sql.c_str(), 1, nullptr, values, nullptr, nullptr, 0));
  if (plan == nullptr || PQresultStatus(plan.get()) != PGRES_TUPLES_OK || PQntuples(plan.get()) == 0) {
    return 0;
  }
  const std::string line = PQgetvalue(plan.get(), 0, 0);
  const size_t at = line.find(" rows=");
  if (at == std::string::npos) return 0;
  const size_t estimate = static_cast<size_t>(std::strtoull(line.c_str() + at + 6, nullptr, 10));
  return std::min(estimate + estimate / 4, kMaxExpectedRows);
}

Result<std::string> BarsTable::Impl::Quote(const std::string& name) {
  char* quoted = PQescapeIdentifier(conn->get(), name.data(), name.size());
  if (quoted == nullptr) {
    return InvalidArgumentError(Prefix() + "cannot quote the name '" + name +
                                "': " + Trimmed(PQerrorMessage(conn->get())));
  }
  std::string text(quoted);
  PQfreemem(quoted);
  return text;
}

// The relation `parts` name, as (schema, name), or nullopt. `folded`: the
// unquoted parts in lower case.
Result<std::optional<std::pair<std::string, std::string>>> BarsTable::Impl::FindRelation(
    const std::vector<NamePart>& parts, bool folded) {
  std::string qualified;
  for (const NamePart& part : parts) {
    EVOLVE_ASSIGN_OR_RETURN(std::string quoted, Quote(folded && !part.quoted ? Lower(part.text) : part.text));
    qualified += (qualified.empty() ? "" : ".") + quoted;
  }
  EVOLVE_ASSIGN_OR_RETURN(ResultPtr found,
                          Exec("SELECT n.nspname, c.relname, c.relkind FROM pg_catalog.pg_class c "
                               "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                               "WHERE c.oid = pg_catalog.to_regclass($1)",
                               {qualified}, "looking up table " + display));
  if (PQntuples(found.get()) == 0) return std::optional<std::pair<std::string, std::string>>();
  const std::string kind = PQgetvalue(found.get(), 0, 2);
  // Tables, views, materialized views, foreign and partitioned tables.
  if (kind != "r" && kind != "v" && kind != "m" && kind != "f" && kind != "p") {
    static const std::pair<const char*, const char*> kKinds[] = {{"i", "an index"},
                                                                 {"I", "a partitioned index"},
                                                                 {"S", "a sequence"},
                                                                 {"c", "a composite type"},
                                                                 {"t", "a TOAST table"}};
    std::string what = "relation of kind '" + kind + "'";
    for (const auto& [code, name] : kKinds) {
      if (kind == code) what = name;
    }
    return InvalidArgumentError(Prefix() + display + " is " + what +
                                ", not a table or view; name one with --bars-table NAME");
  }
  return std::optional<std::pair<std::string, std::string>>(
      std::make_pair(std::string(PQgetvalue(found.get(), 0, 0)), std::string(PQgetvalue(found.get(), 0, 1))));
}

Status BarsTable::Impl::NoSuchTable(const std::vector<NamePart>& parts) {
  // The schemas searched (that exist), and the tables and views they have.
  std::vector<std::string> params;
  std::string schemas = "SELECT pg_catalog.unnest(pg_catalog.current_schemas(false))::text";
  if (parts.size() == 2) {
    params = {parts[0].text, parts[0].quoted ? parts[0].text : Lower(parts[0].text)};
    schemas = "SELECT pg_catalog.unnest(ARRAY[$1::text, $2::text])";
  }
  schemas = "SELECT DISTINCT n.nspname::text FROM pg_catalog.pg_namespace n WHERE n.nspname::text IN (" +
            schemas + ")";
  const std::string context = "looking up table " + display;
  EVOLVE_ASSIGN_OR_RETURN(ResultPtr found, Exec(schemas + " ORDER BY 1", params, context));
  std::vector<std::string> searched;
  for (int row = 0; row < PQntuples(found.get()); ++row) {
    searched.emplace_back(PQgetvalue(found.get(), row, 0));
  }
  std::string where;
  if (searched.empty()) {
    where = parts.size() == 2 ? "there is no schema " + parts[0].text : "the search path has no schema";
  } else {
    constexpr int kListed = 20;
    EVOLVE_ASSIGN_OR_RETURN(
        ResultPtr tables,
        Exec("SELECT CASE WHEN n.nspname = 'public' OR pg_catalog.current_schema() = n.nspname THEN '' "
             "ELSE n.nspname || '.' END || c.relname FROM pg_catalog.pg_class c "
             "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
             "WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p') AND n.nspname::text IN (" +
                 schemas + ") ORDER BY 1 LIMIT " + std::to_string(kListed + 1),
             params, context));
    std::vector<std::string> names;
    for (int row = 0; row < PQntuples(tables.get()) && row < kListed; ++row) {
      names.emplace_back(PQgetvalue(tables.get(), row, 0));
    }
    if (PQntuples(tables.get()) > kListed) names.emplace_back("...");
    where = std::string(searched.size() == 1 ? "schema " : "schemas ") + Join(searched, ", ") +
            (names.empty() ? std::string(searched.size() == 1 ? " has" : " have") + " no tables or views"
                           : std::string(searched.size() == 1 ? " has: " : " have: ") + Join(names, ", "));
  }
  return NotFoundError(Prefix() + "no table or view " + display + " (" + where +
                       "); name it with --bars-table NAME");
}

Result<unsigned> BarsTable::Impl::BaseType(unsigned oid, const std::string& column) {
  // A domain over a domain over ...: a few steps at most.
  for (int depth = 0; depth < 32; ++depth) {
    EVOLVE_ASSIGN_OR_RETURN(ResultPtr type,
                            Exec("SELECT typtype, typbasetype FROM pg_catalog.pg_type WHERE oid = $1::oid",
                                 {std::to_string(oid)}, "looking up the type of column " + column));
    if (PQntuples(type.get()) == 0 || std::string(PQgetvalue(type.get(), 0, 0)) != "d") return oid;
    oid = static_cast<unsigned>(std::strtoul(PQgetvalue(type.get(), 0, 1), nullptr, 10));
  }
  return oid;
}

Status BarsTable::Impl::Resolve(const BarsTableOptions& options) {
  EVOLVE_ASSIGN_OR_RETURN(std::vector<NamePart> parts, ParseTableName(options.table));
  EVOLVE_ASSIGN_OR_RETURN(auto relation, FindRelation(parts, /*folded=*/false));
  const bool foldable = std::any_of(parts.begin(), parts.end(), [](const NamePart& part) {
    return !part.quoted && Lower(part.text) != part.text;
  });
  if (!relation.has_value() && foldable) {
    EVOLVE_ASSIGN_OR_RETURN(relation, FindRelation(parts, /*folded=*/true));
  }
  if (!relation.has_value()) return NoSuchTable(parts);
  EVOLVE_ASSIGN_OR_RETURN(std::string schema, Quote(relation->first));
  EVOLVE_ASSIGN_OR_RETURN(std::string name, Quote(relation->second));
  const std::string table = schema + "." + name;

  EVOLVE_ASSIGN_OR_RETURN(
      ResultPtr attributes,
      Exec("SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.atttypid, t.typtype "
           "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
           "WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped "
           "ORDER BY a.attnum",
           {table}, "reading the columns of " + display));
  std::vector<CatalogColumn> columns;
  std::vector<std::string> domains;  // typtype per column
  for (int row = 0; row < PQntuples(attributes.get()); ++row) {
    CatalogColumn column;
    column.name = PQgetvalue(attributes.get(), row, 0);
    column.type = PQgetvalue(attributes.get(), row, 1);
    column.base = static_cast<unsigned>(std::strtoul(PQgetvalue(attributes.get(), row, 2), nullptr, 10));
    domains.emplace_back(PQgetvalue(attributes.get(), row, 3));
    columns.push_back(std::move(column));
  }
  std::vector<std::string> names;
  for (const CatalogColumn& column : columns) names.push_back(column.name);

  // Each role's column: the one of its name, else the one (only) that
  // matches ignoring case.
  const auto find = [&](const std::string& wanted) -> int {
    for (size_t i = 0; i < columns.size(); ++i) {
      if (columns[i].name == wanted) return static_cast<int>(i);
    }
    int found = -1;
    for (size_t i = 0; i < columns.size(); ++i) {
      if (Lower(columns[i].name) == Lower(wanted)) {
        if (found >= 0) return -1;
        found = static_cast<int>(i);
      }
    }
    return found;
  };
  std::vector<int> chosen;
  std::vector<std::string> missing, hints, wrong;
  for (const Role& role : kRoles) {
    const std::string& wanted = options.*role.column;
    const std::string label = Label(role, options);
    const int index = find(wanted);
    chosen.push_back(index);
    if (index < 0) {
      if (role.required) {
        missing.push_back("'" + wanted + "'" + (wanted == label ? "" : " for " + label));
        hints.push_back(label + "=COLUMN");
      }
      continue;
    }
    CatalogColumn& column = columns[static_cast<size_t>(index)];
    if (domains[static_cast<size_t>(index)] == "d") {
      EVOLVE_ASSIGN_OR_RETURN(column.base, BaseType(column.base, column.name));
    }
    const bool usable = role.use == Use::kSymbol ? SymbolType(column.base).has_value()
                                                 : FieldOf(role.use, column.base).has_value();
    if (!usable) {
      wrong.push_back("column '" + column.name + "' (" + label + ") has type " + column.type + "; " + label +
                      " must be " + Accepted(role.use));
    }
  }
  if (!missing.empty()) {
    return InvalidArgumentError(
        Prefix() + "table " + display + " has no column" + (missing.size() > 1 ? "s " : " ") +
        Join(missing, ", ") + " (its columns: " + Join(names, ", ") + "); name " +
        (missing.size() > 1 ? "them" : "it") + " with --bars-columns " + Join(hints, ","));
  }
  if (!wrong.empty()) return InvalidArgumentError(Prefix() + "table " + display + ": " + Join(wrong, "; "));

  // The SQL of the calls.
  std::string symbol, symbol_type, ts, select;
  copy_columns.clear();
  roles.clear();
  for (size_t r = 0; r < std::size(kRoles); ++r) {
    const Role& role = kRoles[r];
    if (chosen[r] < 0) continue;
    const CatalogColumn& column = columns[static_cast<size_t>(chosen[r])];
    EVOLVE_ASSIGN_OR_RETURN(std::string quoted, Quote(column.name));
    if (role.use == Use::kSymbol) {
      symbol = quoted;
      symbol_type = *SymbolType(column.base);
      continue;
    }
    if (role.use == Use::kTs) ts = quoted;
    select += (select.empty() ? "" : ", ") + quoted;
    copy_columns.push_back(CopyColumn{role.name, *FieldOf(role.use, column.base)});
    roles.emplace_back(role.name);
  }
  read_sql = "COPY (SELECT " + select + " FROM " + table + " WHERE " + symbol +
             " = pg_catalog.current_setting('" + kSymbolSetting + "')::" + symbol_type + " ORDER BY " + ts +
             ") TO STDOUT (FORMAT binary)";
  version_sql = "SELECT pg_catalog.count(*), pg_catalog.min(" + ts + ")::text, pg_catalog.max(" + ts +
                ")::text FROM " + table + " WHERE " + symbol + " = $1::" + symbol_type;
  estimate_sql = "EXPLAIN SELECT 1 FROM " + table + " WHERE " + symbol + " = $1::" + symbol_type;
  const std::string first = "SELECT " + symbol + " FROM " + table + " WHERE " + symbol +
                            " IS NOT NULL ORDER BY " + symbol + " LIMIT 1";
  symbols_explain_sql = "EXPLAIN " + first;
  symbols_loose_sql = "WITH RECURSIVE s(v) AS ((" + first + ") UNION ALL SELECT (SELECT " + symbol +
                      " FROM " + table + " WHERE " + symbol + " > s.v ORDER BY " + symbol +
                      " LIMIT 1) FROM s WHERE s.v IS NOT NULL) " +
                      "SELECT v::text FROM s WHERE v IS NOT NULL";
  symbols_scan_sql =
      "SELECT DISTINCT " + symbol + "::text FROM " + table + " WHERE " + symbol + " IS NOT NULL";

  // A read of no rows: the server checks that this user may read them.
  EVOLVE_ASSIGN_OR_RETURN(ResultPtr probe, Exec("SELECT " + select + " FROM " + table + " WHERE false", {},
                                                "reading " + display));
  return Status::Ok();
}

BarsTable::BarsTable(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BarsTable::~BarsTable() = default;

Result<std::unique_ptr<BarsTable>> BarsTable::Open(const std::string& url, const BarsTableOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->endpoint = Endpoint::Of(url, options.connect_timeout);
  impl->display = options.table;
  if (options.connect_timeout < std::chrono::seconds(1)) {
    return InvalidArgumentError(impl->Prefix() + "connect_timeout must be at least 1 s");
  }
  if (options.table.empty()) return InvalidArgumentError(impl->Prefix() + "the bars table's name is empty");
  if (options.table.find('\0') != std::string::npos) {
    return InvalidArgumentError(impl->Prefix() + "the bars table's name has a NUL byte");
  }
  for (const Role& role : kRoles) {
    const std::string& column = options.*role.column;
    if (column.empty() || column.find('\0') != std::string::npos) {
      return InvalidArgumentError(impl->Prefix() + "the " + Label(role, options) + " column's name is " +
                                  (column.empty() ? "empty" : "not text (a NUL byte)") +
                                  "; name it with --bars-columns " + Label(role, options) + "=COLUMN");
    }
  }
  std::lock_guard<std::mutex> lock(impl->mu);
  EVOLVE_RETURN_IF_ERROR(impl->Connect());
  const Status resolved = impl->Resolve(options);
  impl->Settle();
  if (!resolved.ok()) return resolved;
  return std::unique_ptr<BarsTable>(new BarsTable(std::move(impl)));
}

std::string BarsTable::Describe() const { return impl_->endpoint.url + ", table " + impl_->display; }

std::vector<std::string> BarsTable::Roles() const { return impl_->roles; }

Result<std::vector<std::string>> BarsTable::Symbols() {
  Impl& impl = *impl_;
  std::lock_guard<std::mutex> lock(impl.mu);
  EVOLVE_RETURN_IF_ERROR(impl.Connect());
  const std::string context = "listing the symbols of " + impl.display;
  auto run = [&]() -> Result<std::vector<std::string>> {
    // The loose scan only where each of its steps is an index descent.
    EVOLVE_ASSIGN_OR_RETURN(ResultPtr plan, impl.Exec(impl.symbols_explain_sql, {}, context));
    std::string text;
    for (int row = 0; row < PQntuples(plan.get()); ++row)
      text += std::string(PQgetvalue(plan.get(), row, 0)) + "\n";
    const bool indexed = text.find("Index") != std::string::npos && text.find("Sort") == std::string::npos &&
                         text.find("Seq Scan") == std::string::npos &&
                         text.find("Bitmap") == std::string::npos;
    EVOLVE_ASSIGN_OR_RETURN(ResultPtr rows,
                            impl.Exec(indexed ? impl.symbols_loose_sql : impl.symbols_scan_sql, {}, context));
    std::vector<std::string> symbols;
    symbols.reserve(static_cast<size_t>(PQntuples(rows.get())));
    for (int row = 0; row < PQntuples(rows.get()); ++row) {
      symbols.emplace_back(PQgetvalue(rows.get(), row, 0),
                           static_cast<size_t>(PQgetlength(rows.get(), row, 0)));
    }
    // By bytes, whatever the column's collation; a char(n) column's values
    // differ only in trailing blanks, which ::text drops, so unique again.
    std::sort(symbols.begin(), symbols.end());
    symbols.erase(std::unique(symbols.begin(), symbols.end()), symbols.end());
    return symbols;
  };
  Result<std::vector<std::string>> symbols = run();
  impl.Settle();
  return symbols;
}

Result<std::string> BarsTable::Version(const std::string& symbol) {
  Impl& impl = *impl_;
  if (symbol.find('\0') != std::string::npos) {
    return InvalidArgumentError(impl.Prefix() + "table " + impl.display + ": a symbol has no NUL byte");
  }
  std::lock_guard<std::mutex> lock(impl.mu);
  EVOLVE_RETURN_IF_ERROR(impl.Connect());
  auto run = [&]() -> Result<std::string> {
    EVOLVE_ASSIGN_OR_RETURN(ResultPtr row, impl.Exec(impl.version_sql, {symbol},
                                                     "the version of '" + symbol + "' in " + impl.display));
    const std::string count = PQgetvalue(row.get(), 0, 0);
    impl.Saw(symbol, static_cast<size_t>(std::strtoull(count.c_str(), nullptr, 10)));
    if (count == "0") {
      return NotFoundError(impl.Prefix() + "table " + impl.display + " has no rows for symbol '" + symbol +
                           "'");
    }
    return count + " rows, ts " + PQgetvalue(row.get(), 0, 1) + " to " + PQgetvalue(row.get(), 0, 2);
  };
  Result<std::string> version = run();
  impl.Settle();
  return version;
}

Result<engines::BarTable> BarsTable::Read(const std::string& symbol) {
  Impl& impl = *impl_;
  if (symbol.find('\0') != std::string::npos) {
    return InvalidArgumentError(impl.Prefix() + "table " + impl.display + ": a symbol has no NUL byte");
  }
  std::lock_guard<std::mutex> lock(impl.mu);
  EVOLVE_RETURN_IF_ERROR(impl.Connect());
  const std::string context = "reading '" + symbol + "' from " + impl.display;
  auto run = [&]() -> Result<engines::BarTable> {
    const size_t expected = impl.ExpectedRows(symbol);  // outside the transaction: it may fail
    EVOLVE_ASSIGN_OR_RETURN(ResultPtr begin, impl.Exec("BEGIN READ ONLY", {}, context));
    EVOLVE_ASSIGN_OR_RETURN(ResultPtr set, impl.Exec(std::string("SELECT pg_catalog.set_config('") +
                                                         kSymbolSetting + "', $1, true)",
                                                     {symbol}, context));
    PGconn* conn = impl.conn->get();
    const ResultPtr copy(PQexec(conn, impl.read_sql.c_str()));
    if (copy == nullptr || PQresultStatus(copy.get()) != PGRES_COPY_OUT) {
      return impl.Fail(copy.get(), context);
    }
    CopyDecoder decoder(impl.copy_columns);
    decoder.Reserve(expected);
    while (true) {
      char* buffer = nullptr;
      const int bytes = PQgetCopyData(conn, &buffer, /*async=*/0);
      if (bytes == -1) break;  // the end: the COPY's result follows
      if (bytes < 0) return impl.Fail(nullptr, context);
      const Status fed = decoder.Feed(buffer, static_cast<size_t>(bytes));
      PQfreemem(buffer);
      if (!fed.ok()) {
        // The rest is left unread: Settle closes the connection.
        return Status(fed.code(), impl.Prefix() + context + ": " + fed.message());
      }
    }
    while (PGresult* next = PQgetResult(conn)) {
      const ResultPtr result(next);
      if (PQresultStatus(next) != PGRES_COMMAND_OK) return impl.Fail(next, context);
    }
    EVOLVE_ASSIGN_OR_RETURN(ResultPtr commit, impl.Exec("COMMIT", {}, context));
    Result<engines::BarTable> table = decoder.Finish();
    if (!table.ok()) {
      return Status(table.status().code(), impl.Prefix() + context + ": " + table.status().message());
    }
    impl.Saw(symbol, table->rows);
    if (table->rows == 0) {
      return NotFoundError(impl.Prefix() + "table " + impl.display + " has no rows for symbol '" + symbol +
                           "'");
    }
    return table;
  };
  Result<engines::BarTable> table = run();
  impl.Settle();
  return table;
}

}  // namespace evolve::postgres
