// Where bars come from (a BarReader: a directory of files, a database
// table) and the cache of parsed bars over it (BarSource), which the
// built-in engines read through.
//
// Thread-safety: BarSource is safe for concurrent calls; a BarReader is
// called by one BarSource, which serialises the reads of one symbol but
// reads different symbols in parallel, so a reader must be safe for
// concurrent calls too.
#ifndef EVOLVE_ENGINES_BAR_SOURCE_H_
#define EVOLVE_ENGINES_BAR_SOURCE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "evolve/engines/bars.h"
#include "evolve/status.h"

namespace evolve::engines {

// One source of bars.
class BarReader {
 public:
  virtual ~BarReader() = default;

  // What the source is, for messages and for the run's record: a
  // directory's path, "postgresql://host/db, table bars" (no password).
  virtual std::string Describe() const = 0;

  // The symbols it has bars of, upper case, sorted, unique.
  // Errors: kNotFound when the source is not there; kInvalidArgument when
  // two places name one symbol; kUnavailable when it cannot be read.
  virtual Result<std::vector<std::string>> Symbols() = 0;

  // A text that changes whenever `symbol`'s bars may have changed (a
  // file's size and modification time, a table's row count and last time).
  // Errors: kNotFound naming the source when it has no such symbol (and
  // what is there in a form it does not read, if anything).
  virtual Result<std::string> Version(const std::string& symbol) = 0;

  // The bars of `symbol` (upper case), under the bar rules; `report` (not
  // null) receives the rows read and refused.
  // Errors: as Version; kInvalidArgument naming the file or table, the
  // line or row and the problem.
  virtual Result<Bars> Read(const std::string& symbol, BarReport* report) = 0;

  // What there is that this reader passes over, one line each ("AAPL.csv.bz2:
  // .bz2 files are not read"), for `evolve symbols` and `evolve validate`.
  virtual std::vector<std::string> Unread() { return {}; }
};

// The files of directory `dir` (docs/data.md has the rules):
//   * SYMBOL.csv, SYMBOL.csv.gz, SYMBOL.csv.zst, SYMBOL.parquet (or .pq):
//     the bars of SYMBOL (the name's stem, upper-cased);
//   * any of them with a symbol column (a "long" file): the bars of every
//     symbol in it;
//   * a directory symbol=SYMBOL/ (hive partitions, as DuckDB and Spark
//     write them): its files hold SYMBOL's bars, in any number of files
//     whose times do not overlap.
// Files read with `format`. Other files are passed over; .csv.bz2,
// .csv.xz and other compressions are named (Unread) rather than passed
// over without a word.
std::unique_ptr<BarReader> NewDirectoryBarReader(std::string dir, BarFormat format = {});

// The bars of one file at `path`, read by its name's extension (.csv,
// .csv.gz, .csv.zst, .parquet, .pq; any case) as the directory reader
// reads it: one Bars named after its stem, or one per symbol of a long
// file. `report` (if not null) as ParseBarsCsvFile.
// Errors: kNotFound when it cannot be opened; kInvalidArgument for an
// extension not read, or as the format's reader.
Result<std::vector<Bars>> ReadBarsFile(const std::string& path, const BarFormat& format, BarReport* report);

// The bars of a reader, parsed once and then shared: loaded bars are
// cached, and read again when the reader's Version of them changes.
class BarSource {
 public:
  // The bytes of parsed bars kept by default (BuiltinOptions::bars_cache_bytes).
  static constexpr size_t kDefaultCacheBytes = size_t{2} << 30;

  // Keeps at most `cache_bytes` of parsed bars (the least recently loaded
  // symbols' are dropped first; the one just loaded always stays), so a
  // service that has seen many symbols does not hold them all. Holders of
  // dropped bars keep their copy; the next Load reads them again.
  explicit BarSource(std::unique_ptr<BarReader> reader, size_t cache_bytes = kDefaultCacheBytes);
  // The files of directory `dir`, read with the default BarFormat.
  explicit BarSource(std::string dir, size_t cache_bytes = kDefaultCacheBytes);
  BarSource(const BarSource&) = delete;
  BarSource& operator=(const BarSource&) = delete;

  // The reader's Describe(): the directory, or the table.
  const std::string& describe() const { return describe_; }
  BarReader& reader() { return *reader_; }

  // The reader's symbols.
  Result<std::vector<std::string>> Symbols();

  // The bars of `symbol` (any case), read once and then shared.
  // Errors: kInvalidArgument for a malformed symbol; the reader's.
  Result<std::shared_ptr<const Bars>> Load(const std::string& symbol);

  // What the cache holds now: symbols with parsed bars, and their bytes.
  size_t cached_symbols() const;
  size_t cached_bytes() const;

 private:
  struct Entry {
    std::mutex mu;  // serialises loading one symbol; other symbols load in parallel
    std::shared_ptr<const Bars> bars;
    std::string version;
    // Guarded by BarSource::mu_, not by `mu`:
    size_t bytes = 0;       // of `bars` while cached, else 0
    uint64_t last_use = 0;  // tick of the last Load
  };

  // Records that `entry` holds `bytes` now and was just used, then drops
  // the bars of the least recently used other entries until the cache fits
  // its budget (an entry being loaded, whose lock is taken, is skipped).
  void Account(const std::shared_ptr<Entry>& entry, size_t bytes);

  const std::unique_ptr<BarReader> reader_;
  const std::string describe_;
  const size_t cache_bytes_;
  mutable std::mutex mu_;                                  // guards entries_, ticks_, bytes_
  std::map<std::string, std::shared_ptr<Entry>> entries_;  // by upper-cased symbol
  uint64_t ticks_ = 0;
  size_t bytes_ = 0;  // sum of the entries' bytes
};

// The memory `bars` take: six to eight columns of 8 bytes per bar.
size_t BarsBytes(const Bars& bars);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_BAR_SOURCE_H_
