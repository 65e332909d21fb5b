// Bars as content-addressed artifacts, and the cache of decoded ones
// (bars_artifacts.h).
#include "bars_artifacts.h"

#include "evolve/fingerprint.h"
#include "model_artifact.h"

namespace evolve::engines {
namespace {

constexpr char kBarsKeyPrefix[] = "bars/";

// The memory decoded bars take: six columns of 8 bytes per bar.
size_t DecodedBytes(const Bars& bars) { return bars.size() * 6 * sizeof(double) + sizeof(Bars); }

}  // namespace

BarsArtifacts::BarsArtifacts(ArtifactStore& artifacts, size_t cache_bytes)
    : artifacts_(artifacts), cache_bytes_(cache_bytes) {}

size_t BarsArtifacts::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

Result<std::string> BarsArtifacts::Store(const std::shared_ptr<const Bars>& bars) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = stored_.find(bars.get());
    if (it != stored_.end() && it->second.first.lock() == bars) return it->second.second;
  }
  const std::string bytes = EncodeBars(*bars);
  const std::string key = BarsKey(bytes);
  // Idempotent: the same bars, stored before by anyone, have this key.
  EVOLVE_RETURN_IF_ERROR(artifacts_.PutArtifact(key, bytes));
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = stored_.begin(); it != stored_.end();) {
    it = it->second.first.expired() ? stored_.erase(it) : std::next(it);
  }
  stored_[bars.get()] = {bars, key};
  Keep(key, bars);
  return key;
}

Result<std::shared_ptr<const Bars>> BarsArtifacts::Load(const std::string& key) {
  if (key.rfind(kBarsKeyPrefix, 0) != 0) {
    return InvalidArgumentError("'" + key + "' is not the key of bars (bars/<sha256>)");
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      it->second.last_use = ++ticks_;
      return it->second.bars;
    }
  }
  // Fetched and decoded outside the lock: two threads may both fetch the
  // same bars once, which costs time, never a wrong result.
  auto bytes = artifacts_.GetArtifact(key);
  if (!bytes.ok()) return bytes.status().WithContext("bars " + key);
  if (BarsKey(*bytes) != key) {
    return InvalidArgumentError("bars " + key + ": corrupt: the stored bytes are not the bars the key names");
  }
  auto decoded = DecodeBars(*bytes);
  if (!decoded.ok()) return decoded.status().WithContext(key);
  auto bars = std::make_shared<const Bars>(std::move(*decoded));
  std::lock_guard<std::mutex> lock(mu_);
  Keep(key, bars);
  return bars;
}

void BarsArtifacts::Keep(const std::string& key, std::shared_ptr<const Bars> bars) {
  Cached& slot = cache_[key];
  bytes_ -= slot.bytes;
  slot.bytes = DecodedBytes(*bars);
  slot.bars = std::move(bars);
  slot.last_use = ++ticks_;
  bytes_ += slot.bytes;
  while (bytes_ > cache_bytes_) {
    auto oldest = cache_.end();
    for (auto it = cache_.begin(); it != cache_.end(); ++it) {
      if (it->first != key && (oldest == cache_.end() || it->second.last_use < oldest->second.last_use)) {
        oldest = it;
      }
    }
    if (oldest == cache_.end()) return;  // only the one just used is left
    bytes_ -= oldest->second.bytes;
    cache_.erase(oldest);
  }
}

}  // namespace evolve::engines
