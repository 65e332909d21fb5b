// The built-in FeatureSource (builtin.h): the symbols and feature columns
// of a directory of bars, and the digest of a symbol's data.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "evolve/engines/bar_source.h"
#include "evolve/engines/bars.h"
#include "evolve/engines/builtin.h"
#include "evolve/engines/features.h"
#include "evolve/fingerprint.h"

namespace evolve::engines {
namespace {

class BuiltinFeatureSource final : public FeatureSource {
 public:
  explicit BuiltinFeatureSource(std::shared_ptr<BarSource> bars) : bars_(std::move(bars)) {}

  Result<std::vector<std::string>> ListSymbols() override { return bars_->Symbols(); }

  Result<std::vector<std::string>> ListFeatures(const std::string& symbol) override {
    EVOLVE_RETURN_IF_ERROR(bars_->Load(symbol).status());
    return FeatureNames({});
  }

  // SHA-256 of every column of the symbol's bars, then each reference's, in
  // order: any edited or appended bar changes it. Remembered per list of
  // symbols while the directory keeps the same parsed bars (it parses a
  // changed file again, into new Bars), so a run's every generation does
  // not hash its bars again: at 1M bars that is most of the stepping
  // process's own CPU when the workers train.
  Result<std::string> DataDigest(const std::string& symbol,
                                 const std::vector<std::string>& references) override {
    std::vector<std::string> symbols = {symbol};
    symbols.insert(symbols.end(), references.begin(), references.end());
    std::vector<std::shared_ptr<const Bars>> bars;
    std::string key;
    for (size_t k = 0; k < symbols.size(); ++k) {
      auto loaded = bars_->Load(symbols[k]);
      if (!loaded.ok())
        return k == 0 ? loaded.status() : loaded.status().WithContext("reference symbol " + symbols[k]);
      bars.push_back(*loaded);
      key += symbols[k] + "\n";
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = digests_.find(key);
      if (it != digests_.end() && SameBars(it->second.bars, bars)) return it->second.digest;
    }
    // Streamed: a copy of the columns would be 48 bytes a bar.
    Sha256Stream input;
    for (size_t k = 0; k < bars.size(); ++k) {
      const Bars& b = *bars[k];
      input.Update(std::to_string(k) + ":" + std::to_string(b.size()) + "|");
      auto append = [&input](const auto& v) {
        input.Update(std::string_view(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(v[0])));
      };
      append(b.time);
      append(b.open);
      append(b.high);
      append(b.low);
      append(b.close);
      append(b.volume);
    }
    std::string digest = "sha256:" + input.HexDigest();
    std::lock_guard<std::mutex> lock(mu_);
    // Weak: the digest must not keep bars the directory has let go.
    Remembered& r = digests_[key];
    r.bars.assign(bars.begin(), bars.end());
    r.digest = digest;
    return digest;
  }

 private:
  struct Remembered {
    std::vector<std::weak_ptr<const Bars>> bars;
    std::string digest;
  };

  static bool SameBars(const std::vector<std::weak_ptr<const Bars>>& seen,
                       const std::vector<std::shared_ptr<const Bars>>& now) {
    if (seen.size() != now.size()) return false;
    for (size_t k = 0; k < now.size(); ++k) {
      if (seen[k].lock() != now[k]) return false;
    }
    return true;
  }

  std::shared_ptr<BarSource> bars_;
  std::mutex mu_;
  std::map<std::string, Remembered> digests_;  // symbols joined by '\n' -> digest; guarded by mu_
};

}  // namespace

std::unique_ptr<FeatureSource> NewBuiltinFeatureSource(std::shared_ptr<BarSource> bars) {
  return std::make_unique<BuiltinFeatureSource>(std::move(bars));
}

}  // namespace evolve::engines
