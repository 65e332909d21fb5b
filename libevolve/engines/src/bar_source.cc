// The cache of parsed bars over a BarReader (bar_source.h).
#include "evolve/engines/bar_source.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <utility>

#include "bar_text.h"

namespace evolve::engines {

size_t BarsBytes(const Bars& bars) {
  return (bars.size() * 6 + bars.vwap.size() + bars.trade_count.size()) * sizeof(double) + sizeof(Bars);
}

BarSource::BarSource(std::unique_ptr<BarReader> reader, size_t cache_bytes)
    : reader_(std::move(reader)), describe_(reader_->Describe()), cache_bytes_(cache_bytes) {}

BarSource::BarSource(std::string dir, size_t cache_bytes)
    : BarSource(NewDirectoryBarReader(std::move(dir)), cache_bytes) {}

size_t BarSource::cached_symbols() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<size_t>(
      std::count_if(entries_.begin(), entries_.end(), [](const auto& e) { return e.second->bytes > 0; }));
}

size_t BarSource::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

void BarSource::Account(const std::shared_ptr<Entry>& entry, size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  bytes_ = bytes_ - entry->bytes + bytes;
  entry->bytes = bytes;
  entry->last_use = ++ticks_;
  // An entry whose lock is taken is being loaded or read by another thread:
  // passed over (never waited for, since that thread may be waiting for
  // mu_) and the next oldest dropped instead; if only such entries are
  // left, the cache stays over budget until a later Load.
  std::set<const Entry*> busy;
  while (bytes_ > cache_bytes_) {
    Entry* oldest = nullptr;
    for (auto& [key, e] : entries_) {
      if (e == entry || e->bytes == 0 || busy.count(e.get()) != 0) continue;
      if (oldest == nullptr || e->last_use < oldest->last_use) oldest = e.get();
    }
    if (oldest == nullptr) return;  // only the one just loaded (or busy ones) left
    std::unique_lock<std::mutex> loading(oldest->mu, std::try_to_lock);
    if (!loading.owns_lock()) {
      busy.insert(oldest);
      continue;
    }
    bytes_ -= oldest->bytes;
    oldest->bytes = 0;
    oldest->bars.reset();
  }
}

Result<std::vector<std::string>> BarSource::Symbols() { return reader_->Symbols(); }

Result<std::shared_ptr<const Bars>> BarSource::Load(const std::string& symbol) {
  // Symbols come from requests; a conservative alphabet keeps them names, not paths.
  bool valid =
      !symbol.empty() && symbol.size() <= 64 && std::all_of(symbol.begin(), symbol.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_' ||
               ch == '^' || ch == '=';
      });
  if (!valid) return InvalidArgumentError("bad symbol '" + symbol + "'");
  const std::string key = Upper(symbol);

  std::shared_ptr<Entry> entry;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = entries_[key];
    if (!slot) slot = std::make_shared<Entry>();
    entry = slot;
  }
  std::lock_guard<std::mutex> lock(entry->mu);
  // Versioned before reading: a write racing with the read makes the next Load read again.
  EVOLVE_ASSIGN_OR_RETURN(std::string version, reader_->Version(key));
  if (entry->bars && version == entry->version) {
    Account(entry, BarsBytes(*entry->bars));
    return entry->bars;
  }
  entry->bars.reset();
  BarReport report;
  EVOLVE_ASSIGN_OR_RETURN(Bars bars, reader_->Read(key, &report));
  entry->bars = std::make_shared<const Bars>(std::move(bars));
  entry->version = std::move(version);
  Account(entry, BarsBytes(*entry->bars));
  return entry->bars;
}

}  // namespace evolve::engines
