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

namespace {

// Where the bars are: `location`, a postgresql:// URL or a directory, named
// `origin` in messages.
Status SetLocation(const std::string& location, const std::string& origin, BarsSettings* s) {
  if (IsPostgresUrl(location)) {
#ifdef EVOLVE_HAVE_POSTGRES
    s->url = location;
    s->flag_text = "--bars " + ElidePassword(location);
    return Status::Ok();
#else
    return InvalidArgumentError(
        origin + ": this build has no PostgreSQL support (configured with EVOLVE_WITH_POSTGRES=OFF)");
#endif
  }
  if (location.empty()) return InvalidArgumentError(origin + ": must not be empty");
  std::error_code ec;
  if (!std::filesystem::is_directory(location, ec)) {
    return NotFoundError(origin + ": no directory " + location +
                         " (a directory of bar files, or a postgresql:// URL)");
  }
  s->directory = location;
  s->flag_text = "--bars " + location;
  return Status::Ok();
}

// The table of a postgresql:// source, from --bars-table.
Status SetTable(const Args& args, BarsSettings* s) {
  if (std::optional<std::string> table = args.Get("bars-table")) {
    if (s->url.empty()) return InvalidArgumentError("--bars-table: only for a postgresql:// --bars");
    if (table->empty()) return InvalidArgumentError("--bars-table: must not be empty");
    s->table = *table;
  }
  return Status::Ok();
}

}  // namespace

Result<engines::BarFormat> ResolveBarFormat(const Args& args) {
  engines::BarFormat format;
  if (std::optional<std::string> columns = args.Get("bars-columns")) {
    EVOLVE_ASSIGN_OR_RETURN(std::vector<std::string> pairs, ParseList("--bars-columns", *columns));
    for (const std::string& pair : pairs) {
      const size_t eq = pair.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == pair.size()) {
        return InvalidArgumentError("--bars-columns: '" + pair + "' is not ROLE=NAME");
      }
      const std::string role = pair.substr(0, eq);
      if (!format.columns.emplace(role, pair.substr(eq + 1)).second) {
        return InvalidArgumentError("--bars-columns: role '" + role + "' given twice");
      }
    }
  }
  format.date_order = args.Get("date-order").value_or("");
  format.epoch_unit = args.Get("epoch-unit").value_or("");
  if (args.Has("date-order") && format.date_order.empty()) return InvalidArgumentError("--date-order: empty");
  if (args.Has("epoch-unit") && format.epoch_unit.empty()) return InvalidArgumentError("--epoch-unit: empty");
  format.adjusted = args.Has("adjusted");
  format.drop_bad_rows = args.Has("drop-bad-rows");
  EVOLVE_RETURN_IF_ERROR(engines::CheckBarFormat(format));
  return format;
}

Result<BarsSettings> ResolveBars(const Args& args) {
  BarsSettings s;
  std::optional<std::string> bars = args.Get("bars");
  if (bars.has_value() && args.Has("data-dir")) {
    return InvalidArgumentError("--bars and --data-dir both given; use one");
  }
  if (!bars.has_value() && !args.Has("data-dir") && !Env("EVOLVE_BARS").empty()) bars = Env("EVOLVE_BARS");
  if (bars.has_value()) {
    EVOLVE_RETURN_IF_ERROR(SetLocation(*bars, args.Has("bars") ? "--bars" : "EVOLVE_BARS", &s));
  } else {
    EVOLVE_ASSIGN_OR_RETURN(s.directory, ResolveDataDir(args));
    s.flag_text = "--data-dir " + s.directory;
  }
  EVOLVE_RETURN_IF_ERROR(SetTable(args, &s));
  EVOLVE_ASSIGN_OR_RETURN(s.format, ResolveBarFormat(args));
  return s;
}

Result<BarsSettings> ResolveBarsAt(const std::string& location, const Args& args) {
  BarsSettings s;
  EVOLVE_RETURN_IF_ERROR(SetLocation(location, location, &s));
  EVOLVE_RETURN_IF_ERROR(SetTable(args, &s));
  EVOLVE_ASSIGN_OR_RETURN(s.format, ResolveBarFormat(args));
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
