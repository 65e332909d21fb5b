// Where the bars of the built-in engines come from, as every command that
// reads them is told: --bars (a directory, or a postgresql:// URL of a
// database with a bars table), --data-dir (a directory), and how to read
// them (--date-order, --epoch-unit, --adjusted, --bars-columns,
// --bars-table, --drop-bad-rows). docs/data.md documents them.
#ifndef EVOLVE_SERVICE_BAR_SETTINGS_H_
#define EVOLVE_SERVICE_BAR_SETTINGS_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "evolve/engines/bar_source.h"
#include "evolve/engines/bars.h"
#include "evolve/service/args.h"
#include "evolve/status.h"

namespace evolve::service {

// The options, for a command's specs. `with_drop` adds --drop-bad-rows
// (commands that run on the bars; `evolve validate` lists the rows instead).
std::vector<OptionSpec> BarsOptions(bool with_drop = true);

struct BarsSettings {
  std::string directory;  // set for files
  std::string url;        // set for a postgresql:// source
  std::string table = "bars";
  engines::BarFormat format;
  // "--bars DIR" or "--bars postgresql://host/db" (password elided): how
  // to name the source again in a hint.
  std::string flag_text;
};

// From --bars, else --data-dir, else EVOLVE_BARS, else EVOLVE_DATA_DIR,
// else the bundled data (ResolveDataDir); the format from the other
// options. Errors: kInvalidArgument naming the option (both --bars and
// --data-dir, a bad --date-order, --epoch-unit or --bars-columns,
// --bars-table without a database); kNotFound for a directory that is
// not there.
Result<BarsSettings> ResolveBars(const Args& args);

// How to read the bars: the format options of `args` (--bars-columns,
// --date-order, --epoch-unit, --adjusted, --drop-bad-rows).
// Errors: kInvalidArgument naming the option.
Result<engines::BarFormat> ResolveBarFormat(const Args& args);

// As ResolveBars, with the bars at `location` (a directory or a
// postgresql:// URL, named in messages as itself) rather than from --bars:
// `evolve validate`'s PATHs.
Result<BarsSettings> ResolveBarsAt(const std::string& location, const Args& args);

// The reader of `settings`: the directory's files, or the database's
// table (connecting, and checking the table and its columns).
// Errors: kUnavailable when the database cannot be reached;
// kInvalidArgument naming what the table lacks.
Result<std::unique_ptr<engines::BarReader>> OpenBarReader(const BarsSettings& settings);

// OpenBarReader under a cache of `cache_bytes`.
Result<std::shared_ptr<engines::BarSource>> OpenBarSource(
    const BarsSettings& settings, size_t cache_bytes = engines::BarSource::kDefaultCacheBytes);

}  // namespace evolve::service

#endif  // EVOLVE_SERVICE_BAR_SETTINGS_H_
