// Benchmark: loading one million one-minute bars from Parquet and from CSV.
//
//   bench_bar_files --write-csv BARS.csv [--bars N]
//       generates N (default 1,000,000) one-minute synthetic bars (fixed
//       seed) and writes them with WriteBarsCsv.
//   bench_bar_files --csv BARS.csv --parquet BARS.parquet [--repeats R]
//       times, R times each (default 7), CSV and Parquet interleaved, first
//       each load in a fresh (forked) process, then all in this process, and
//       prints the medians:
//         csv:     LoadBarsCsv (read the file + parse it into Bars)
//         parquet: ReadBarsFile, the directory reader's whole path (read the
//                  file, ReadParquet into a BarTable, BarsFromTable under the
//                  bar rules into Bars)
//         decode:  ReadParquet alone, on the file's bytes in memory
//       and checks that the Parquet file holds exactly the CSV's bars.
//
// tests/bench/run.sh (--only barfiles) makes the Parquet file from the CSV
// with DuckDB (tests/bench/barfiles/write_parquet.mjs: snappy, DuckDB's
// default encodings), so the file is what a user who exports bars has; this
// program does not write Parquet itself. Both files are read from the page
// cache after the first repetition, as a service reading them again would.
//
// Prints a Markdown table (wall and CPU seconds), then key=value lines:
// csv_seconds, parquet_seconds, decode_seconds, speedup (fresh processes),
// the same as *_cpu_seconds, warm_*_seconds (this process), values_equal.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "evolve/engines/bar_source.h"
#include "evolve/engines/bar_table.h"
#include "evolve/engines/bars.h"
#include "evolve/engines/synthetic.h"
#include "parquet_reader.h"

namespace {

using evolve::Status;
using evolve::engines::Bars;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// This process's CPU time (user + system), in seconds: steadier than wall
// time when other jobs share the machine.
double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Wall and CPU time from construction to Stop().
class Timer {
 public:
  void Stop(std::vector<double>* wall, std::vector<double>* cpu) const {
    wall->push_back(Seconds(Clock::now() - wall_));
    cpu->push_back(CpuSeconds() - cpu_);
  }

 private:
  Clock::time_point wall_ = Clock::now();
  double cpu_ = CpuSeconds();
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0);
  out->resize(static_cast<size_t>(size));
  return static_cast<bool>(in.read(out->data(), size));
}

// N one-minute synthetic bars (fixed seed) written to `path`.
int WriteCsv(const std::string& path, size_t n) {
  evolve::engines::SyntheticOptions options;
  options.symbols = {"BENCH"};
  options.bars = n;
  options.intraday = true;
  options.seed = 20;
  const auto generated = evolve::engines::GenerateSyntheticBars(options);
  const Bars& bars = generated.at("BENCH");
  if (Status s = evolve::engines::WriteBarsCsv(bars, path); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("bars=%zu\ncsv=%s\n", bars.size(), path.c_str());
  return 0;
}

// "2.6x faster" (or slower): the CSV's time over ours.
std::string Ratio(double csv, double ours) {
  char buf[32];
  std::snprintf(buf, sizeof buf, csv >= ours ? "%.1fx faster" : "%.1fx slower",
                csv >= ours ? csv / ours : ours / csv);
  return buf;
}

// "56.7 MB".
std::string FileSize(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(in.tellg()) / 1e6);
  return buf;
}

// Wall and CPU seconds of repetitions.
struct Samples {
  std::vector<double> wall, cpu;
};

// LoadBarsCsv, timed into `t`; the bars into `*out` when given.
bool LoadCsv(const std::string& path, Bars* out, Samples* t, Samples*) {
  Timer timer;
  auto loaded = evolve::engines::LoadBarsCsv(path, "BENCH");
  timer.Stop(&t->wall, &t->cpu);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
    return false;
  }
  if (out != nullptr) *out = std::move(loaded).value();
  return true;
}

// ReadBarsFile on the Parquet file, the directory reader's whole path
// (read the file, ReadParquet, BarsFromTable with the bar rules), timed
// into `t`; the first of them, ReadParquet alone on the bytes, into
// `decode`; the bars into `*out` when given.
bool LoadParquet(const std::string& path, Bars* out, Samples* t, Samples* decode) {
  Timer timer;
  evolve::engines::BarReport report;
  auto bars = evolve::engines::ReadBarsFile(path, evolve::engines::BarFormat{}, &report);
  timer.Stop(&t->wall, &t->cpu);
  if (!bars.ok() || bars->size() != 1) {
    std::fprintf(stderr, "%s\n", bars.ok() ? "not one symbol" : bars.status().ToString().c_str());
    return false;
  }
  std::string bytes;
  if (!ReadFile(path, &bytes)) return false;
  timer = Timer();
  auto table = evolve::engines::ReadParquet(bytes, path);
  timer.Stop(&decode->wall, &decode->cpu);
  if (!table.ok()) return false;
  if (out != nullptr) *out = std::move(bars->front());
  return true;
}

// Runs `load(a, b)` in a forked child and appends the child's samples to
// `a` and `b` (if given): a fresh heap for every measurement.
template <typename Load>
bool InChild(Load load, Samples* a, Samples* b) {
  int fds[2];
  if (pipe(fds) != 0) return false;
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    close(fds[0]);
    Samples x, y;
    double out[4] = {-1, -1, -1, -1};
    if (load(&x, &y)) {
      out[0] = x.wall.at(0);
      out[1] = x.cpu.at(0);
      if (!y.wall.empty()) {
        out[2] = y.wall[0];
        out[3] = y.cpu[0];
      }
    }
    const bool written = write(fds[1], out, sizeof out) == static_cast<ssize_t>(sizeof out);
    _exit(written && out[0] >= 0 ? 0 : 1);
  }
  close(fds[1]);
  double in[4];
  const bool got = read(fds[0], in, sizeof in) == static_cast<ssize_t>(sizeof in);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!got || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return false;
  a->wall.push_back(in[0]);
  a->cpu.push_back(in[1]);
  if (b != nullptr) {
    b->wall.push_back(in[2]);
    b->cpu.push_back(in[3]);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string write_csv, csv, parquet;
  size_t n_bars = 1'000'000;
  int repeats = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char* flag = argv[i];
    const char* v = argv[i + 1];
    if (std::strcmp(flag, "--write-csv") == 0) {
      write_csv = v;
    } else if (std::strcmp(flag, "--bars") == 0) {
      n_bars = std::strtoull(v, nullptr, 10);
    } else if (std::strcmp(flag, "--csv") == 0) {
      csv = v;
    } else if (std::strcmp(flag, "--parquet") == 0) {
      parquet = v;
    } else if (std::strcmp(flag, "--repeats") == 0) {
      repeats = std::max(1, std::atoi(v));
    }
  }
  if (!write_csv.empty()) return WriteCsv(write_csv, n_bars);
  if (csv.empty() || parquet.empty()) {
    std::fprintf(stderr,
                 "usage: %s --write-csv BARS.csv [--bars N]\n"
                 "       %s --csv BARS.csv --parquet BARS.parquet [--repeats R]\n",
                 argv[0], argv[0]);
    return 2;
  }

  // Each load R times in a fresh child process (a cold heap: every page of
  // the output is faulted in, as for a process that loads a file once),
  // then R times in this process (a warm heap: freed memory is reused, as
  // in a long-running service); CSV and Parquet interleaved in both.
  Samples fresh_csv, fresh_parquet, fresh_convert, warm_csv, warm_parquet, warm_convert;
  for (int r = 0; r < repeats; ++r) {
    if (!InChild([&](Samples* a, Samples* b) { return LoadCsv(csv, nullptr, a, b); }, &fresh_csv, nullptr) ||
        !InChild([&](Samples* a, Samples* b) { return LoadParquet(parquet, nullptr, a, b); }, &fresh_parquet,
                 &fresh_convert)) {
      return 1;
    }
  }
  Bars from_csv, from_parquet;
  for (int r = 0; r < repeats; ++r) {
    if (!LoadCsv(csv, &from_csv, &warm_csv, nullptr) ||
        !LoadParquet(parquet, &from_parquet, &warm_parquet, &warm_convert)) {
      return 1;
    }
  }
  const bool equal = from_csv.time == from_parquet.time && from_csv.open == from_parquet.open &&
                     from_csv.high == from_parquet.high && from_csv.low == from_parquet.low &&
                     from_csv.close == from_parquet.close && from_csv.volume == from_parquet.volume;
  std::printf("| %zu one-minute bars (medians of %d) | wall s | CPU s | vs CSV (wall) |\n|---|---|---|---|\n",
              from_csv.size(), repeats);
  auto rows = [&](const char* heap, const Samples& c, const Samples& p, const Samples& v) {
    std::printf("| %s: CSV %s, LoadBarsCsv (read + parse) | %.3f | %.3f | 1.0x |\n", heap,
                FileSize(csv).c_str(), Median(c.wall), Median(c.cpu));
    std::printf(
        "| %s: Parquet %s, ReadBarsFile (read + ReadParquet + BarsFromTable, the bar rules) | %.3f | "
        "%.3f | %s |\n",
        heap, FileSize(parquet).c_str(), Median(p.wall), Median(p.cpu),
        Ratio(Median(c.wall), Median(p.wall)).c_str());
    std::printf("| %s: of which ReadParquet alone, on the bytes in memory | %.3f | %.3f | |\n", heap,
                Median(v.wall), Median(v.cpu));
  };
  rows("fresh process", fresh_csv, fresh_parquet, fresh_convert);
  rows("same process", warm_csv, warm_parquet, warm_convert);
  // The headline: fresh processes (the slower, and the usual, case).
  std::printf("\ncsv_seconds=%.4f\nparquet_seconds=%.4f\ndecode_seconds=%.4f\nspeedup=%.1f\n",
              Median(fresh_csv.wall), Median(fresh_parquet.wall), Median(fresh_convert.wall),
              Median(fresh_csv.wall) / Median(fresh_parquet.wall));
  std::printf("csv_cpu_seconds=%.4f\nparquet_cpu_seconds=%.4f\ndecode_cpu_seconds=%.4f\n",
              Median(fresh_csv.cpu), Median(fresh_parquet.cpu), Median(fresh_convert.cpu));
  std::printf("warm_csv_seconds=%.4f\nwarm_parquet_seconds=%.4f\nwarm_decode_seconds=%.4f\n",
              Median(warm_csv.wall), Median(warm_parquet.wall), Median(warm_convert.wall));
  std::printf("bars=%zu\nvalues_equal=%d\n", from_csv.size(), equal ? 1 : 0);
  return equal ? 0 : 1;
}
