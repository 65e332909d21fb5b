// Bars as content-addressed artifacts ("bars/<sha256>", model_artifact.h),
// for training on the queue: the process that plans a training stores the
// bars of its symbol and references, and the workers that run its parts,
// on any host, read them back from the store (docs/engines.md, "Training in
// parts").
//
// Thread-safety: safe for concurrent use.
#ifndef EVOLVE_ENGINES_SRC_BARS_ARTIFACTS_H_
#define EVOLVE_ENGINES_SRC_BARS_ARTIFACTS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "evolve/engines/bar_source.h"
#include "evolve/engines/bars.h"
#include "evolve/status.h"
#include "evolve/store.h"

namespace evolve::engines {

class BarsArtifacts {
 public:
  // Keeps at most `cache_bytes` of decoded bars (the least recently used
  // are dropped first; the one just used always stays). `artifacts` must
  // outlive it.
  BarsArtifacts(ArtifactStore& artifacts, size_t cache_bytes);
  BarsArtifacts(const BarsArtifacts&) = delete;
  BarsArtifacts& operator=(const BarsArtifacts&) = delete;

  // Stores `bars` and returns its key. The bars of one object (a
  // BarSource shares one while its file is unchanged) are encoded,
  // hashed and written once: later calls return the key they got.
  // Errors: the store's.
  Result<std::string> Store(const std::shared_ptr<const Bars>& bars);

  // The bars stored under `key`, from memory when they are cached.
  // Errors: kInvalidArgument for a key that is not a bars key, or bytes
  // that are not the bars the key names (their digest, DecodeBars);
  // kNotFound when the store has no such artifact; the store's.
  Result<std::shared_ptr<const Bars>> Load(const std::string& key);

  // What the cache holds now.
  size_t cached_bytes() const;

 private:
  struct Cached {
    std::shared_ptr<const Bars> bars;
    size_t bytes = 0;
    uint64_t last_use = 0;
  };

  // Caches `bars` under `key` (mu_ held), then drops the least recently
  // used others until the cache fits.
  void Keep(const std::string& key, std::shared_ptr<const Bars> bars);

  ArtifactStore& artifacts_;
  const size_t cache_bytes_;
  mutable std::mutex mu_;                // guards everything below
  std::map<std::string, Cached> cache_;  // by key
  size_t bytes_ = 0;
  uint64_t ticks_ = 0;
  // The keys of stored bars, by the object stored (weak: a dropped object's
  // address may be reused by other bars, which then are not found here).
  std::map<const Bars*, std::pair<std::weak_ptr<const Bars>, std::string>> stored_;
};

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_SRC_BARS_ARTIFACTS_H_
