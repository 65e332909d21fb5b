// Benchmark (issue 19, "Artifacts without size walls"): the time, the
// PostgreSQL server's CPU and this process's peak memory to put and get one
// artifact of each size, through the public ArtifactStore API.
//
//   bench_artifacts (--db PATH | --store URL) [--sizes 100M,1G] [--chunk-bytes N]
//
// PATH is a SQLite file (created when missing); URL a PostgreSQL database
// (its schema is created or upgraded). Sizes take K, M, G (powers of 1000)
// or Ki, Mi, Gi (of 1024). --chunk-bytes sets the store's chunk size
// (default: the store's own). Each artifact is new (its key names this
// process and the size): generated pseudo-random bytes (every byte value),
// put, dropped from memory, read back and compared byte for byte with the
// generator, so the process holds one copy at a time.
//
// Prints, per size, key=value lines: bytes, put_seconds, get_seconds,
// put_mb_per_second, get_mb_per_second, put_server_cpu_seconds and
// get_server_cpu_seconds (PostgreSQL on this host only: the server's
// processes, including backends that exited meanwhile; 0 otherwise),
// put_peak_rss_mb and get_peak_rss_mb (this process's peak resident memory
// during the call; the artifact itself is size MB of it) and verified=yes/no.
// Exits 1 when a call fails or a read differs.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "evolve/sqlite/sqlite_store.h"
#include "evolve/store.h"
#ifdef EVOLVE_BENCH_HAVE_POSTGRES
#include <libpq-fe.h>

#include "evolve/postgres/postgres_store.h"
#endif

namespace {

using SteadyClock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "bench_artifacts: %s\n", message.c_str());
  std::exit(2);
}

// "100M" -> 100,000,000; "3Gi" -> 3 << 30.
uint64_t ParseSize(const std::string& text) {
  char* end = nullptr;
  const unsigned long long number = std::strtoull(text.c_str(), &end, 10);
  const std::string unit = end;
  static const std::vector<std::pair<std::string, uint64_t>> kUnits = {
      {"", 1},           {"K", 1000},        {"M", 1000000},
      {"G", 1000000000}, {"Ki", 1ULL << 10}, {"Mi", 1ULL << 20},
      {"Gi", 1ULL << 30}};
  for (const auto& [name, factor] : kUnits) {
    if (unit == name && end != text.c_str()) return number * factor;
  }
  Die("bad size '" + text + "' (e.g. 100M, 1G, 3Gi)");
}

// The artifact's bytes, word by word from a seed: xorshift64*.
class Bytes {
 public:
  explicit Bytes(uint64_t seed) : state_(seed | 1) {}
  uint64_t Next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1DULL;
  }

 private:
  uint64_t state_;
};

std::string Generate(uint64_t size, uint64_t seed) {
  std::string bytes(size, '\0');
  Bytes gen(seed);
  for (uint64_t i = 0; i < size; i += 8) {
    const uint64_t word = gen.Next();
    std::memcpy(&bytes[i], &word, std::min<uint64_t>(8, size - i));
  }
  return bytes;
}

bool Matches(const std::string& bytes, uint64_t size, uint64_t seed) {
  if (bytes.size() != size) return false;
  Bytes gen(seed);
  for (uint64_t i = 0; i < size; i += 8) {
    const uint64_t word = gen.Next();
    if (std::memcmp(&bytes[i], &word, std::min<uint64_t>(8, size - i)) != 0) return false;
  }
  return true;
}

// A field of /proc/self/status, in kB (VmHWM: the peak resident set).
long StatusKb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(field);
  while (std::getline(in, line)) {
    if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':') {
      return std::strtol(line.c_str() + n + 1, nullptr, 10);
    }
  }
  return 0;
}

// Starts a new peak: VmHWM is the current resident set again.
void ResetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }

// utime + stime of a /proc/<pid>/stat, with the children it reaped when
// `reaped`; and its parent.
bool ProcessCpuTicks(const std::string& pid, bool reaped, long* parent, double* ticks) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::stringstream text;
  text << in.rdbuf();
  const std::string stat = text.str();
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return false;
  std::istringstream fields(stat.substr(paren + 2));
  std::vector<double> f;  // from field 3 (state, read as 0) on
  std::string field;
  while (fields >> field && f.size() < 15) f.push_back(std::strtod(field.c_str(), nullptr));
  if (f.size() < 15) return false;
  *parent = static_cast<long>(f[1]);
  *ticks = f[11] + f[12] + (reaped ? f[13] + f[14] : 0);
  return true;
}

// CPU seconds of the server whose postmaster is `postmaster` so far: its
// own and its children's, live or reaped. 0 for an unknown postmaster.
double ServerCpuSeconds(long postmaster) {
  if (postmaster <= 0) return 0;
  long parent = 0;
  double total = 0;
  if (!ProcessCpuTicks(std::to_string(postmaster), true, &parent, &total)) return 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    double ticks = 0;
    if (ProcessCpuTicks(pid, false, &parent, &ticks) && parent == postmaster) total += ticks;
  }
  return total / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The postmaster of the server at `url`, when it runs on this host (the
// parent of a backend); 0 otherwise.
long PostmasterPid(const std::string& url) {
#ifdef EVOLVE_BENCH_HAVE_POSTGRES
  PGconn* conn = PQconnectdb(url.c_str());
  long postmaster = 0;
  if (PQstatus(conn) == CONNECTION_OK) {
    long parent = 0;
    double ticks = 0;
    if (ProcessCpuTicks(std::to_string(PQbackendPID(conn)), false, &parent, &ticks)) postmaster = parent;
  }
  PQfinish(conn);
  return postmaster;
#else
  (void)url;
  return 0;
#endif
}

double Seconds(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string db;
  std::string url;
  std::string sizes = "100M,1G";
  uint64_t chunk_bytes = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc)
      Die("usage: bench_artifacts (--db PATH | --store URL) [--sizes 100M,1G] [--chunk-bytes N]");
    const std::string value = argv[++i];
    if (arg == "--db") {
      db = value;
    } else if (arg == "--store") {
      url = value;
    } else if (arg == "--sizes") {
      sizes = value;
    } else if (arg == "--chunk-bytes") {
      chunk_bytes = ParseSize(value);
    } else {
      Die("unknown option " + arg);
    }
  }
  if (db.empty() == url.empty()) Die("give one of --db PATH and --store URL");

  evolve::Result<std::unique_ptr<evolve::Store>> opened = evolve::InternalError("no store");
  long postmaster = 0;
  if (!db.empty()) {
    evolve::sqlite::SqliteOptions options;
    if (chunk_bytes > 0) options.artifact_chunk_bytes = chunk_bytes;
    opened = evolve::sqlite::OpenSqliteStore(db, options);
  } else {
#ifdef EVOLVE_BENCH_HAVE_POSTGRES
    evolve::postgres::PostgresOptions options;
    if (chunk_bytes > 0) options.artifact_chunk_bytes = chunk_bytes;
    opened = evolve::postgres::OpenPostgresStore(url, options);
    postmaster = PostmasterPid(url);
#else
    Die("built without the PostgreSQL store");
#endif
  }
  if (!opened.ok()) Die(opened.status().ToString());
  evolve::Store& store = **opened;

  bool all_verified = true;
  std::stringstream list(sizes);
  std::string item;
  while (std::getline(list, item, ',')) {
    const uint64_t size = ParseSize(item);
    const uint64_t seed = size ^ static_cast<uint64_t>(getpid()) ^
                          static_cast<uint64_t>(SteadyClock::now().time_since_epoch().count());
    const std::string key = "bench/" + std::to_string(getpid()) + "/" + std::to_string(seed) + "/" + item;

    std::string bytes = Generate(size, seed);
    ResetPeakRss();
    double cpu = ServerCpuSeconds(postmaster);
    auto start = SteadyClock::now();
    const evolve::Status put = store.PutArtifact(key, bytes);
    const double put_seconds = Seconds(start);
    const double put_cpu = ServerCpuSeconds(postmaster) - cpu;
    const long put_peak_kb = StatusKb("VmHWM");
    if (!put.ok()) Die("put of " + item + ": " + put.ToString());
    std::string().swap(bytes);  // only the store's copy from here

    ResetPeakRss();
    cpu = ServerCpuSeconds(postmaster);
    start = SteadyClock::now();
    evolve::Result<std::string> got = store.GetArtifact(key);
    const double get_seconds = Seconds(start);
    const double get_cpu = ServerCpuSeconds(postmaster) - cpu;
    const long get_peak_kb = StatusKb("VmHWM");
    if (!got.ok()) Die("get of " + item + ": " + got.status().ToString());
    const bool verified = Matches(*got, size, seed);
    all_verified = all_verified && verified;

    const double mb = static_cast<double>(size) / 1e6;
    std::printf("size=%s\nbytes=%llu\n", item.c_str(), static_cast<unsigned long long>(size));
    std::printf("put_seconds=%.3f\nget_seconds=%.3f\n", put_seconds, get_seconds);
    std::printf("put_mb_per_second=%.0f\nget_mb_per_second=%.0f\n", mb / put_seconds, mb / get_seconds);
    std::printf("put_server_cpu_seconds=%.2f\nget_server_cpu_seconds=%.2f\n", put_cpu, get_cpu);
    std::printf("put_peak_rss_mb=%.0f\nget_peak_rss_mb=%.0f\n", static_cast<double>(put_peak_kb) * 1.024e-3,
                static_cast<double>(get_peak_kb) * 1.024e-3);
    std::printf("verified=%s\n", verified ? "yes" : "no");
    std::fflush(stdout);
  }
  return all_verified ? 0 : 1;
}
