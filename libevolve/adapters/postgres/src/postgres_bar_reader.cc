#include "evolve/postgres/postgres_bar_reader.h"

#include <cctype>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "evolve/engines/bar_table.h"

namespace evolve::postgres {
namespace {

class PostgresBarReader : public engines::BarReader {
 public:
  PostgresBarReader(std::unique_ptr<BarsTable> table, engines::BarFormat format)
      : table_(std::move(table)), format_(std::move(format)) {}

  std::string Describe() const override { return table_->Describe(); }

  // Upper case, as BarReader's symbols are; the table's own spelling is
  // remembered for reading.
  Result<std::vector<std::string>> Symbols() override {
    EVOLVE_ASSIGN_OR_RETURN(std::vector<std::string> stored, table_->Symbols());
    std::map<std::string, std::string> names;
    for (const std::string& s : stored) {
      auto [it, inserted] = names.emplace(Upper(s), s);
      if (!inserted) {
        return InvalidArgumentError(table_->Describe() + ": symbols '" + it->second + "' and '" + s +
                                    "' differ only in case");
      }
    }
    std::vector<std::string> out;
    for (const auto& [upper, s] : names) out.push_back(upper);
    std::lock_guard<std::mutex> lock(mu_);
    names_ = std::move(names);
    return out;
  }

  Result<std::string> Version(const std::string& symbol) override {
    EVOLVE_ASSIGN_OR_RETURN(std::string stored, Stored(symbol));
    return table_->Version(stored);
  }

  Result<engines::Bars> Read(const std::string& symbol, engines::BarReport* report) override {
    EVOLVE_ASSIGN_OR_RETURN(std::string stored, Stored(symbol));
    EVOLVE_ASSIGN_OR_RETURN(engines::BarTable rows, table_->Read(stored));
    const std::string source = table_->Describe() + " (" + symbol + ")";
    EVOLVE_ASSIGN_OR_RETURN(std::vector<engines::Bars> bars,
                            engines::BarsFromTable(rows, symbol, source, format_, report));
    return std::move(bars.front());  // no symbol column: the one symbol's
  }

 private:
  static std::string Upper(std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
  }

  // The table's spelling of `symbol` (any case), listing the symbols again
  // when it is not known yet.
  Result<std::string> Stored(const std::string& symbol) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = names_.find(Upper(symbol));
      if (it != names_.end()) return it->second;
    }
    EVOLVE_RETURN_IF_ERROR(Symbols().status());
    std::lock_guard<std::mutex> lock(mu_);
    auto it = names_.find(Upper(symbol));
    if (it == names_.end())
      return NotFoundError("no bars for symbol " + symbol + " in " + table_->Describe());
    return it->second;
  }

  const std::unique_ptr<BarsTable> table_;
  std::mutex mu_;
  std::map<std::string, std::string> names_;  // upper case -> as stored; guarded by mu_
  const engines::BarFormat format_;           // without column names: the table's columns come named by role
};

}  // namespace

Result<std::unique_ptr<engines::BarReader>> OpenPostgresBarReader(const std::string& url,
                                                                  BarsTableOptions options,
                                                                  engines::BarFormat format) {
  EVOLVE_RETURN_IF_ERROR(engines::CheckBarFormat(format));
  for (const auto& [role, name] : format.columns) {
    std::string* column = role == "time" || role == "date" ? &options.ts
                          : role == "symbol"               ? &options.symbol
                          : role == "open"                 ? &options.open
                          : role == "high"                 ? &options.high
                          : role == "low"                  ? &options.low
                          : role == "close"                ? &options.close
                          : role == "volume"               ? &options.volume
                          : role == "vwap"                 ? &options.vwap
                          : role == "trade_count"          ? &options.trade_count
                                                           : nullptr;
    if (column == nullptr) {
      return InvalidArgumentError(
          "--bars-columns: role '" + role +
          "' is for files; a table names its columns by time, symbol, open, high, low, "
          "close, volume, vwap and trade_count");
    }
    *column = name;
    if (role == "time" || role == "date") options.ts_role_name = role;
  }
  if (options.ts_role_name == "ts") options.ts_role_name = "time";  // the role's name on our command line
  if (format.adjusted) {
    return InvalidArgumentError(
        "--adjusted: a table's adjusted prices are its own columns; name them with "
        "--bars-columns close=COLUMN,...");
  }
  format.columns.clear();
  EVOLVE_ASSIGN_OR_RETURN(std::unique_ptr<BarsTable> table, BarsTable::Open(url, options));
  return std::unique_ptr<engines::BarReader>(new PostgresBarReader(std::move(table), std::move(format)));
}

}  // namespace evolve::postgres
