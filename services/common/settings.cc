#include "evolve/service/settings.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "evolve/sqlite/sqlite_store.h"
#ifdef EVOLVE_HAVE_POSTGRES
#include "evolve/postgres/postgres_store.h"
#endif

#ifndef EVOLVE_SOURCE_DATA_DIR
#error "EVOLVE_SOURCE_DATA_DIR must be defined by the build"
#endif
#ifndef EVOLVE_INSTALLED_DATA_DIR_FROM_BIN
#error "EVOLVE_INSTALLED_DATA_DIR_FROM_BIN must be defined by the build"
#endif

namespace evolve::service {
namespace {

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// The directory of the running binary, from /proc/self/exe.
std::string ExecutableDir() {
  std::string buf(4096, '\0');
  const ssize_t n = ::readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n <= 0) return "";
  buf.resize(static_cast<size_t>(n));
  const size_t slash = buf.rfind('/');
  return slash == std::string::npos ? "" : buf.substr(0, slash);
}

bool StartsWith(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }


}  // namespace

std::string ElidePassword(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
  const size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

std::vector<OptionSpec> StoreOptions() {
  return {
      {"db", "PATH", "SQLite database file (default $EVOLVE_DB or ./evolve.db)"},
      {"store", "URL", "store URL: sqlite:PATH, or postgresql://... (default $POSTGRES_URL)"},
  };
}

OptionSpec DataDirOption() {
  return {"data-dir", "DIR", "bars for the built-in engines, one SYMBOL.csv each (default $EVOLVE_DATA_DIR or the bundled data)"};
}

Result<StoreSettings> ResolveStore(const Args& args) {
  const std::optional<std::string> db = args.Get("db");
  std::optional<std::string> url = args.Get("store");
  if (db.has_value() && url.has_value()) {
    return InvalidArgumentError("--db and --store both given; use one");
  }
  if (db.has_value() && db->empty()) return InvalidArgumentError("--db: must not be empty");
  StoreSettings settings;
  if (!db.has_value() && !url.has_value() && !Env("POSTGRES_URL").empty()) url = Env("POSTGRES_URL");
  if (url.has_value()) {
    const std::string& u = *url;
    const char* origin = args.Has("store") ? "--store" : "POSTGRES_URL";
    if (StartsWith(u, "sqlite://")) {
      settings.sqlite_path = u.substr(9);
    } else if (StartsWith(u, "sqlite:")) {
      settings.sqlite_path = u.substr(7);
    } else if (StartsWith(u, "postgresql://") || StartsWith(u, "postgres://")) {
#ifdef EVOLVE_HAVE_POSTGRES
      settings.url = u;
      settings.flag_text = "--store " + ElidePassword(u);
      return settings;
#else
      return InvalidArgumentError(std::string(origin) +
                                  ": this build has no PostgreSQL store (configured with "
                                  "EVOLVE_WITH_POSTGRES=OFF); use --db PATH for the embedded SQLite store");
#endif
    } else {
      return InvalidArgumentError(std::string(origin) + ": '" + u +
                                  "' is not a store URL (sqlite:PATH or postgresql://...)");
    }
    if (settings.sqlite_path.empty()) return InvalidArgumentError(std::string(origin) + ": no path in '" + u + "'");
  } else if (db.has_value()) {
    settings.sqlite_path = *db;
  } else {
    settings.sqlite_path = Env("EVOLVE_DB").empty() ? "./evolve.db" : Env("EVOLVE_DB");
  }
  settings.flag_text = "--db " + settings.sqlite_path;
  return settings;
}

Result<std::unique_ptr<Store>> OpenStore(const StoreSettings& settings, bool must_exist, int* schema_version) {
#ifdef EVOLVE_HAVE_POSTGRES
  if (!settings.url.empty()) {
    EVOLVE_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, postgres::OpenPostgresStore(settings.url));
    if (schema_version != nullptr) *schema_version = postgres::LatestSchemaVersion();  // where opening leaves it
    return store;
  }
#endif
  if (must_exist && !Exists(settings.sqlite_path)) {
    return NotFoundError("no database at " + settings.sqlite_path +
                         " (run 'evolve run' first, or name one with --db PATH)");
  }
  EVOLVE_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, sqlite::OpenSqliteStore(settings.sqlite_path));
  if (schema_version != nullptr) *schema_version = sqlite::LatestSchemaVersion();  // where opening leaves it
  return store;
}

Result<std::string> ResolveDataDir(const Args& args) {
  if (std::optional<std::string> dir = args.Get("data-dir")) {
    if (!IsDirectory(*dir)) return NotFoundError("--data-dir: no directory " + *dir);
    return *dir;
  }
  if (!Env("EVOLVE_DATA_DIR").empty()) {
    const std::string dir = Env("EVOLVE_DATA_DIR");
    if (!IsDirectory(dir)) return NotFoundError("EVOLVE_DATA_DIR: no directory " + dir);
    return dir;
  }
  std::vector<std::string> tried;
  const std::string exe_dir = ExecutableDir();
  if (!exe_dir.empty()) {
    tried.push_back(std::filesystem::path(exe_dir + "/" + EVOLVE_INSTALLED_DATA_DIR_FROM_BIN).lexically_normal());
    if (IsDirectory(tried.back())) return tried.back();
  }
  tried.push_back(EVOLVE_SOURCE_DATA_DIR);
  if (IsDirectory(tried.back())) return tried.back();
  std::string where;
  for (const std::string& t : tried) where += (where.empty() ? "" : ", ") + t;
  return NotFoundError("no bundled data found (looked in " + where + "); give --data-dir or set EVOLVE_DATA_DIR");
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

Status SetLogLevelFromEnvironment(LogLevel fallback) {
  SetLogLevel(fallback);
  const std::string text = Env("LOG_LEVEL");
  LogLevel level = fallback;
  if (text.empty()) return Status::Ok();
  if (!ParseLogLevel(text, &level)) {
    return InvalidArgumentError("LOG_LEVEL: unknown level '" + text + "' (DEBUG, INFO, WARNING, ERROR)");
  }
  SetLogLevel(level);
  return Status::Ok();
}

Result<std::string> ResolveApiToken(const Args& args) {
  std::optional<std::string> path = args.Get("token-file");
  if (!path.has_value()) return Env("EVOLVE_API_TOKEN");
  std::ifstream in(*path);
  if (!in) return InvalidArgumentError("--token-file: cannot read " + *path);
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ' || token.back() == '\t')) token.pop_back();
  if (token.empty()) return InvalidArgumentError("--token-file: " + *path + " holds no token on its first line");
  return token;
}

}  // namespace evolve::service
