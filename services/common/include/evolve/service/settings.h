// Where the binaries keep and find things: the store (SQLite file or
// PostgreSQL URL), the data directory of the built-in engines, the API
// token, and the other settings of ARCHITECTURE.md section 5. Flags
// override environment variables, which override the defaults.
#ifndef EVOLVE_SERVICE_SETTINGS_H_
#define EVOLVE_SERVICE_SETTINGS_H_

#include <memory>
#include <string>
#include <vector>

#include "evolve/log.h"
#include "evolve/service/args.h"
#include "evolve/status.h"
#include "evolve/store.h"

namespace evolve::service {

// The environment variable `name`, or "" when unset.
std::string Env(const char* name);

// Sets the log level from LOG_LEVEL, else `fallback`.
// Errors: kInvalidArgument "LOG_LEVEL: unknown level 'X' (DEBUG, INFO,
// WARNING, ERROR)" (the level is then `fallback`).
Status SetLogLevelFromEnvironment(LogLevel fallback);

// "postgresql://user:secret@host/db" -> "postgresql://user:***@host/db", for
// messages and hints.
std::string ElidePassword(const std::string& url);

// The options every store-reading command takes.
std::vector<OptionSpec> StoreOptions();
// --data-dir.
OptionSpec DataDirOption();

struct StoreSettings {
  std::string sqlite_path;  // set for the embedded store
  std::string url;          // set for a postgresql:// store
  // "--db ./evolve.db" or "--store postgresql://host/db" (password elided):
  // how to name this store again in a hint. With a password in the URL the
  // hint cannot be pasted as is: the user supplies it (or PGPASSWORD).
  std::string flag_text;
};

// From --db / --store, else POSTGRES_URL, else EVOLVE_DB, else ./evolve.db.
// Errors: kInvalidArgument for both flags at once or an unsupported URL.
Result<StoreSettings> ResolveStore(const Args& args);

// Opens the store and brings its schema up to date (creating a SQLite
// file). When `must_exist`, a SQLite file that does not exist is kNotFound
// instead of being created: reading commands never create a database.
// `schema_version`, if given, receives the schema version of the store.
Result<std::unique_ptr<Store>> OpenStore(const StoreSettings& settings, bool must_exist,
                                         int* schema_version = nullptr);

// From --data-dir, else EVOLVE_DATA_DIR, else the bundled data: next to the
// installed binary (<prefix>/share/evolve/data) or, for a binary in the
// build tree, the source tree's examples/data.
// Errors: kNotFound naming the directory (and where it looked).
Result<std::string> ResolveDataDir(const Args& args);

// The API token of `evolve serve` and `evolve-worker --orchestrator`: the
// first line of --token-file (trailing blanks dropped), else
// EVOLVE_API_TOKEN, else "" (no token).
// Errors: kInvalidArgument for an unreadable or empty token file.
Result<std::string> ResolveApiToken(const Args& args);

}  // namespace evolve::service

#endif  // EVOLVE_SERVICE_SETTINGS_H_
