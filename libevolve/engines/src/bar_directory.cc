// The bars of a directory of files (NewDirectoryBarReader, bar_source.h):
// which file or files hold each symbol, and reading them by their format
// (CSV, gzip or zstd CSV, Parquet).
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "bar_text.h"
#include "bars_csv.h"
#include "decompress.h"
#include "evolve/engines/bar_source.h"
#include "evolve/engines/bar_table.h"
#include "evolve/engines/bars.h"
#include "parquet_reader.h"

namespace evolve::engines {
namespace {

namespace fs = std::filesystem;

// A decompressed file may be this large: far beyond any bar file, short of
// a decompression bomb taking the machine's memory.
constexpr size_t kMaxDecompressedBytes = size_t{64} << 30;

enum class FileKind { kCsv, kCsvGzip, kCsvZstd, kParquet };

struct Extension {
  const char* ext;  // lower case
  FileKind kind;
};
constexpr Extension kReadExtensions[] = {{".csv.gz", FileKind::kCsvGzip},
                                         {".csv.zst", FileKind::kCsvZstd},
                                         {".csv", FileKind::kCsv},
                                         {".parquet", FileKind::kParquet},
                                         {".pq", FileKind::kParquet}};
// Bar files a user may well have, in forms this build does not read: named
// (Unread, and a missing symbol's error), not passed over without a word.
constexpr const char* kUnreadExtensions[] = {".csv.bz2", ".csv.xz", ".csv.lz4", ".csv.zip", ".zip", ".xlsx"};

bool EndsWith(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() > n && s.compare(s.size() - n, n, suffix) == 0;
}

// The kind and symbol (the stem, upper case) of a file name, or false.
bool Classify(const std::string& name, FileKind* kind, std::string* symbol) {
  const std::string lower = Lower(name);
  for (const Extension& e : kReadExtensions) {
    if (EndsWith(lower, e.ext)) {
      *kind = e.kind;
      *symbol = Upper(name.substr(0, name.size() - std::strlen(e.ext)));
      return true;
    }
  }
  return false;
}

// "size:mtime" of a file, or "" when it cannot be stat'ed.
std::string Stamp(const fs::path& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) return "";
  auto mtime = fs::last_write_time(path, ec);
  if (ec) return "";
  return std::to_string(size) + ":" +
         std::to_string(
             std::chrono::duration_cast<std::chrono::nanoseconds>(mtime.time_since_epoch()).count());
}

// The bars of one file: one Bars named `symbol`, or one per symbol of a
// long file.
Result<std::vector<Bars>> ReadBarFile(const fs::path& path, FileKind kind, const std::string& symbol,
                                      const BarFormat& format, BarReport* report) {
  const std::string name = path.filename().string();
  EVOLVE_ASSIGN_OR_RETURN(std::string bytes, ReadWholeFile(path));
  if (kind == FileKind::kParquet) {
    EVOLVE_ASSIGN_OR_RETURN(BarTable table, ReadParquet(bytes, name));
    std::string().swap(bytes);
    return BarsFromTable(table, symbol, name, format, report);
  }
  // The codec by content: a .csv that is gzip'ed is read as such.
  Codec codec = SniffCodec(bytes);
  if (codec == Codec::kNone && kind != FileKind::kCsv) {
    return InvalidArgumentError(name + ": not " + (kind == FileKind::kCsvGzip ? "gzip" : "zstd") +
                                " data (its first bytes say otherwise)");
  }
  if (codec != Codec::kNone) {
    EVOLVE_ASSIGN_OR_RETURN(bytes, DecompressFile(codec, bytes, name, kMaxDecompressedBytes));
  }
  return ParseBarsCsvFile(bytes, symbol, name, format, report);
}

class DirectoryBarReader : public BarReader {
 public:
  DirectoryBarReader(std::string dir, BarFormat format) : dir_(std::move(dir)), format_(std::move(format)) {}

  std::string Describe() const override { return dir_; }

  Result<std::vector<std::string>> Symbols() override {
    EVOLVE_ASSIGN_OR_RETURN(Catalog catalog, Scan());
    std::vector<std::string> out;
    for (const auto& [symbol, place] : catalog.places) out.push_back(symbol);
    return out;
  }

  Result<std::string> Version(const std::string& symbol) override {
    EVOLVE_ASSIGN_OR_RETURN(Catalog catalog, Scan());
    EVOLVE_ASSIGN_OR_RETURN(const Place* place, Find(catalog, symbol));
    std::string version;
    for (const File& f : place->files) version += f.path.string() + "=" + Stamp(f.path) + ";";
    return version;
  }

  Result<Bars> Read(const std::string& symbol, BarReport* report) override {
    EVOLVE_ASSIGN_OR_RETURN(Catalog catalog, Scan());
    EVOLVE_ASSIGN_OR_RETURN(const Place* place, Find(catalog, symbol));
    std::vector<Bars> parts;
    for (const File& f : place->files) {
      BarReport file_report;
      EVOLVE_ASSIGN_OR_RETURN(std::optional<Bars> bars, ReadFile(f, symbol, &file_report));
      report->Merge(file_report);
      if (!bars) return NotFoundError(f.path.filename().string() + " has no bars of " + symbol);
      parts.push_back(std::move(*bars));
    }
    report->source = place->files.size() == 1 ? place->files.front().path.filename().string() : place->name;
    return Concatenate(std::move(parts), *place);
  }

  std::vector<std::string> Unread() override {
    auto catalog = Scan();
    return catalog.ok() ? catalog->unread : std::vector<std::string>{};
  }

 private:
  struct File {
    fs::path path;
    FileKind kind;
  };
  // Where one symbol's bars are: a file of its own, a long file, or the
  // files of a hive partition.
  struct Place {
    std::string name;  // for messages: the file, or the partition's directory
    std::vector<File> files;
  };
  struct Catalog {
    std::map<std::string, Place> places;  // by symbol
    std::vector<std::string> unread;      // "name: why"
  };
  // What a file's header says, while the file is unchanged.
  struct FileInfo {
    std::string stamp;
    bool is_long = false;
    std::vector<std::string> symbols;  // of a long file
    std::string error;                 // when its header or footer cannot be read
  };

  // The bars of `symbol` in file `f` (none when it has none).
  Result<std::optional<Bars>> ReadFile(const File& f, const std::string& symbol, BarReport* report) {
    auto pick = [&symbol](std::vector<Bars>& all, bool move) -> std::optional<Bars> {
      for (Bars& b : all) {
        if (b.symbol == symbol) return move ? std::move(b) : b;
      }
      return std::nullopt;
    };
    // A long file's bars are kept while it is unchanged: reading its
    // symbols one by one parses it once, and copies one symbol's bars.
    const std::string stamp = Stamp(f.path);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (long_path_ == f.path && long_stamp_ == stamp && long_bars_) {
        *report = long_report_;
        return pick(*long_bars_, false);
      }
    }
    EVOLVE_ASSIGN_OR_RETURN(std::vector<Bars> bars, ReadBarFile(f.path, f.kind, symbol, format_, report));
    if (bars.size() > 1 || (bars.size() == 1 && bars.front().symbol != symbol)) {
      auto kept = std::make_shared<std::vector<Bars>>(std::move(bars));
      std::lock_guard<std::mutex> lock(mu_);
      long_path_ = f.path;
      long_stamp_ = stamp;
      long_bars_ = kept;
      long_report_ = *report;
      return pick(*kept, false);
    }
    return pick(bars, true);
  }

  // The symbols of a file: its own (its stem) or, for a long file, those
  // in it; or why it cannot be read. A plain CSV's header is read, a
  // Parquet file's footer; a long or compressed file is read whole.
  // Remembered while the file is unchanged.
  FileInfo Inspect(const File& f, const std::string& stem_symbol) {
    const std::string stamp = Stamp(f.path);
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = info_.find(f.path.string());
      if (it != info_.end() && it->second.stamp == stamp) return it->second;
    }
    FileInfo info;
    info.stamp = stamp;
    const std::string name = f.path.filename().string();
    bool read_whole = f.kind != FileKind::kCsv;
    if (f.kind == FileKind::kCsv) {
      std::string head(1 << 16, '\0');
      std::FILE* file = std::fopen(f.path.c_str(), "rb");
      if (file != nullptr) {
        head.resize(std::fread(head.data(), 1, head.size(), file));
        std::fclose(file);
      }
      if (SniffCodec(head) != Codec::kNone) {
        read_whole = true;
      } else {
        // Whole lines only: a header longer than the head is read whole.
        const size_t last = head.rfind('\n');
        auto has_symbol =
            CsvHeaderHasSymbol(last == std::string::npos ? head : head.substr(0, last + 1), name, format_);
        if (!has_symbol.ok()) {
          info.error = has_symbol.status().message();
        } else {
          read_whole = *has_symbol;
        }
      }
    } else if (f.kind == FileKind::kParquet) {
      read_whole = false;
      auto bytes = ReadWholeFile(f.path);
      auto names = bytes.ok() ? ReadParquetColumnNames(*bytes, name)
                              : Result<std::vector<std::string>>(bytes.status());
      if (!names.ok()) {
        info.error = names.status().message();
      } else {
        auto symbol_column = format_.columns.find("symbol");
        for (const std::string& n : *names) {
          const std::string lower = Lower(n);
          if (symbol_column != format_.columns.end() ? lower == Lower(symbol_column->second)
                                                     : lower == "symbol" || lower == "ticker") {
            read_whole = true;
          }
        }
      }
    }
    if (read_whole) {
      BarFormat lenient = format_;
      lenient.drop_bad_rows = true;  // the symbols, whatever the rows
      BarReport report;
      auto bars = ReadBarFile(f.path, f.kind, stem_symbol, lenient, &report);
      if (!bars.ok()) {
        info.error = bars.status().message();
      } else if (bars->size() != 1 || bars->front().symbol != stem_symbol) {
        info.is_long = true;
        for (const Bars& b : *bars) info.symbols.push_back(b.symbol);
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    info_[f.path.string()] = info;
    return info;
  }

  Result<Catalog> Scan() {
    std::error_code ec;
    if (!fs::is_directory(dir_, ec)) return NotFoundError("bar directory " + dir_ + " does not exist");
    Catalog catalog;
    auto add = [&](const std::string& symbol, Place place) -> Status {
      auto [it, inserted] = catalog.places.emplace(symbol, place);
      if (!inserted) {
        return InvalidArgumentError("bar directory " + dir_ + ": " + it->second.name + " and " + place.name +
                                    " both hold symbol " + symbol);
      }
      return Status::Ok();
    };
    std::vector<fs::directory_entry> entries;
    for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) entries.push_back(*it);
    if (ec) return UnavailableError("cannot list bar directory " + dir_ + ": " + ec.message());
    std::sort(entries.begin(), entries.end());
    for (const fs::directory_entry& entry : entries) {
      const std::string name = entry.path().filename().string();
      if (entry.is_directory(ec)) {
        // A hive partition: symbol=AAPL/ (or ticker=AAPL/).
        const size_t eq = name.find('=');
        const std::string key = eq == std::string::npos ? "" : Lower(name.substr(0, eq));
        if (key != "symbol" && key != "ticker") continue;
        Place place{name + "/", {}};
        for (fs::recursive_directory_iterator it(entry.path(), ec), end; !ec && it != end; it.increment(ec)) {
          FileKind kind;
          std::string stem;
          if (it->is_regular_file(ec) && Classify(it->path().filename().string(), &kind, &stem)) {
            place.files.push_back({it->path(), kind});
          }
        }
        std::sort(place.files.begin(), place.files.end(),
                  [](const File& a, const File& b) { return a.path < b.path; });
        if (place.files.empty()) {
          catalog.unread.push_back(name + "/: no .csv, .csv.gz, .csv.zst or .parquet files in it");
          continue;
        }
        EVOLVE_RETURN_IF_ERROR(add(Upper(name.substr(eq + 1)), std::move(place)));
        continue;
      }
      if (!entry.is_regular_file(ec)) continue;
      FileKind kind;
      std::string symbol;
      if (!Classify(name, &kind, &symbol)) {
        for (const char* ext : kUnreadExtensions) {
          if (EndsWith(Lower(name), ext)) {
            catalog.unread.push_back(name + ": " + ext +
                                     " files are not read (decompress it, or recompress it "
                                     "with gzip or zstd)");
          }
        }
        continue;
      }
      File file{entry.path(), kind};
      FileInfo info = Inspect(file, symbol);
      if (!info.error.empty()) {
        // Still the stem's symbol, so that loading it says what is wrong.
        catalog.unread.push_back(info.error.rfind(name, 0) == 0 ? info.error : name + ": " + info.error);
      } else if (info.is_long) {
        for (const std::string& s : info.symbols) EVOLVE_RETURN_IF_ERROR(add(s, Place{name, {file}}));
        continue;
      }
      EVOLVE_RETURN_IF_ERROR(add(symbol, Place{name, {file}}));
    }
    return catalog;
  }

  Result<const Place*> Find(const Catalog& catalog, const std::string& symbol) {
    auto it = catalog.places.find(symbol);
    if (it != catalog.places.end()) return &it->second;
    std::string also;
    for (const std::string& line : catalog.unread) {
      if (Upper(line).rfind(symbol + ".", 0) == 0) also += "; " + line;
    }
    return NotFoundError("no bars for symbol " + symbol + " in " + dir_ + also);
  }

  // One symbol's bars from the files of its place, in time order; the
  // files may not overlap in time.
  static Result<Bars> Concatenate(std::vector<Bars> parts, const Place& place) {
    if (parts.size() == 1) return std::move(parts.front());
    std::vector<size_t> order(parts.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return parts[a].time.front() < parts[b].time.front(); });
    Bars out;
    out.symbol = parts.front().symbol;
    bool with_vwap = true, with_trades = true;
    for (const Bars& p : parts) {
      with_vwap = with_vwap && !p.vwap.empty();
      with_trades = with_trades && !p.trade_count.empty();
    }
    for (size_t k = 0; k < order.size(); ++k) {
      Bars& p = parts[order[k]];
      if (!out.time.empty() && p.time.front() <= out.time.back()) {
        return InvalidArgumentError(place.name + ": " + place.files[order[k]].path.filename().string() +
                                    " begins at or before the end of " +
                                    place.files[order[k - 1]].path.filename().string() +
                                    " (the files of one symbol must not overlap in time)");
      }
      out.time.insert(out.time.end(), p.time.begin(), p.time.end());
      out.open.insert(out.open.end(), p.open.begin(), p.open.end());
      out.high.insert(out.high.end(), p.high.begin(), p.high.end());
      out.low.insert(out.low.end(), p.low.begin(), p.low.end());
      out.close.insert(out.close.end(), p.close.begin(), p.close.end());
      out.volume.insert(out.volume.end(), p.volume.begin(), p.volume.end());
      if (with_vwap) out.vwap.insert(out.vwap.end(), p.vwap.begin(), p.vwap.end());
      if (with_trades)
        out.trade_count.insert(out.trade_count.end(), p.trade_count.begin(), p.trade_count.end());
      out.intraday = out.intraday || p.intraday;
      out.dropped_rows += p.dropped_rows;
    }
    out.bar_seconds = InferBarSeconds(out.time);
    return out;
  }

  const std::string dir_;
  const BarFormat format_;
  std::mutex mu_;  // guards the members below
  std::map<std::string, FileInfo> info_;
  fs::path long_path_;
  std::string long_stamp_;
  std::shared_ptr<std::vector<Bars>> long_bars_;
  BarReport long_report_;
};

}  // namespace

Result<std::vector<Bars>> ReadBarsFile(const std::string& path, const BarFormat& format, BarReport* report) {
  const std::string name = fs::path(path).filename().string();
  FileKind kind;
  std::string symbol;
  if (!Classify(name, &kind, &symbol)) {
    return InvalidArgumentError(name +
                                ": not a bar file this build reads (.csv, .csv.gz, .csv.zst, .parquet, .pq)");
  }
  BarReport local;
  return ReadBarFile(path, kind, symbol, format, report != nullptr ? report : &local);
}

std::unique_ptr<BarReader> NewDirectoryBarReader(std::string dir, BarFormat format) {
  return std::make_unique<DirectoryBarReader>(std::move(dir), std::move(format));
}

}  // namespace evolve::engines
