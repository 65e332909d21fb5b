#include "evolve/service/bar_settings.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "evolve/service/settings.h"
#ifdef EVOLVE_HAVE_POSTGRES
#include "evolve/postgres/postgres_bar_reader.h"
#endif

namespace evolve::service {
namespace {

bool IsPostgresUrl(const std::string& s) {
  return s.rfind("postgresql://", 0) == 0 || s.rfind("postgres://", 0) == 0;
}

}  // namespace

std::vector<OptionSpec> BarsOptions(bool with_drop) {
  std::vector<OptionSpec> specs = {
      {"bars", "SOURCE",
       "where the bars are: a directory of bar files (SYMBOL.csv, .csv.gz, .csv.zst, .parquet, symbol=X/), "
       "or a "
       "postgresql:// URL of a database with a bars table (default $EVOLVE_BARS, else --data-dir)"},
      {"data-dir", "DIR",
       "a directory of bar files, as --bars DIR (default $EVOLVE_DATA_DIR or the bundled data)"},
      {"bars-table", "NAME", "the table or view of a postgresql:// --bars (default bars)"},
      {"bars-columns", "ROLE=NAME,...",
       "column names the rules do not know, by role: time, date, time_of_day, open, high, low, close, "
       "volume, "
       "vwap, trade_count, adj_close, symbol"},
      {"date-order", "mdy|dmy",
       "read dates written with the year last (01/02/2015) month first or day first"},
      {"epoch-unit", "s|ms|us|ns", "the unit of integer Unix times (default: by their magnitude)"},
      {"adjusted", "", "take prices from the adjusted close (Adj Close), scaling open, high and low alike"},
  };
  if (with_drop) {
    specs.push_back({"drop-bad-rows", "",
                     "skip the rows the bar rules refuse instead of refusing the data; the count is reported "
                     "and stored with the run"});
  }
  return specs;
}

Result<BarsSettings> ResolveBars(const Args& args) {
  BarsSettings s;
  std::optional<std::string> bars = args.Get("bars");
  if (bars.has_value() && args.Has("data-dir")) {
    return InvalidArgumentError("--bars and --data-dir both given; use one");
  }
  if (!bars.has_value() && !args.Has("data-dir") && !Env("EVOLVE_BARS").empty()) bars = Env("EVOLVE_BARS");
  const char* origin = args.Has("bars") ? "--bars" : "EVOLVE_BARS";
  if (bars.has_value() && IsPostgresUrl(*bars)) {
#ifdef EVOLVE_HAVE_POSTGRES
    s.url = *bars;
    s.flag_text = "--bars " + ElidePassword(*bars);
#else
    return InvalidArgumentError(
        std::string(origin) +
        ": this build has no PostgreSQL support (configured with EVOLVE_WITH_POSTGRES=OFF)");
#endif
  } else if (bars.has_value()) {
    if (bars->empty()) return InvalidArgumentError(std::string(origin) + ": must not be empty");
    std::error_code ec;
    if (!std::filesystem::is_directory(*bars, ec)) {
      return NotFoundError(std::string(origin) + ": no directory " + *bars +
                           " (a directory of bar files, or a postgresql:// URL)");
    }
    s.directory = *bars;
    s.flag_text = "--bars " + *bars;
  } else {
    EVOLVE_ASSIGN_OR_RETURN(s.directory, ResolveDataDir(args));
    s.flag_text = "--data-dir " + s.directory;
  }
  if (std::optional<std::string> table = args.Get("bars-table")) {
    if (s.url.empty()) return InvalidArgumentError("--bars-table: only for a postgresql:// --bars");
    if (table->empty()) return InvalidArgumentError("--bars-table: must not be empty");
    s.table = *table;
  }
  if (std::optional<std::string> columns = args.Get("bars-columns")) {
    EVOLVE_ASSIGN_OR_RETURN(std::vector<std::string> pairs, ParseList("--bars-columns", *columns));
    for (const std::string& pair : pairs) {
      const size_t eq = pair.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == pair.size()) {
        return InvalidArgumentError("--bars-columns: '" + pair + "' is not ROLE=NAME");
      }
      const std::string role = pair.substr(0, eq);
      if (!s.format.columns.emplace(role, pair.substr(eq + 1)).second) {
        return InvalidArgumentError("--bars-columns: role '" + role + "' given twice");
      }
    }
  }
  s.format.date_order = args.Get("date-order").value_or("");
  s.format.epoch_unit = args.Get("epoch-unit").value_or("");
  if (args.Has("date-order") && s.format.date_order.empty())
    return InvalidArgumentError("--date-order: empty");
  if (args.Has("epoch-unit") && s.format.epoch_unit.empty())
    return InvalidArgumentError("--epoch-unit: empty");
  s.format.adjusted = args.Has("adjusted");
  s.format.drop_bad_rows = args.Has("drop-bad-rows");
  EVOLVE_RETURN_IF_ERROR(engines::CheckBarFormat(s.format));
  return s;
}

Result<std::unique_ptr<engines::BarReader>> OpenBarReader(const BarsSettings& settings) {
#ifdef EVOLVE_HAVE_POSTGRES
  if (!settings.url.empty()) {
    postgres::BarsTableOptions options;
    options.table = settings.table;
    return postgres::OpenPostgresBarReader(settings.url, options, settings.format);
  }
#endif
  return engines::NewDirectoryBarReader(settings.directory, settings.format);
}

Result<std::shared_ptr<engines::BarSource>> OpenBarSource(const BarsSettings& settings, size_t cache_bytes) {
  EVOLVE_ASSIGN_OR_RETURN(std::unique_ptr<engines::BarReader> reader, OpenBarReader(settings));
  return std::make_shared<engines::BarSource>(std::move(reader), cache_bytes);
}

}  // namespace evolve::service
