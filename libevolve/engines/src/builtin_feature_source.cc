// The built-in FeatureSource (builtin.h): the symbols and feature columns
// of a directory of bars, and the digest of a symbol's data.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "evolve/engines/bars.h"
#include "evolve/engines/builtin.h"
#include "evolve/engines/features.h"
#include "evolve/fingerprint.h"

namespace evolve::engines {
namespace {

class BuiltinFeatureSource final : public FeatureSource {
 public:
  explicit BuiltinFeatureSource(std::shared_ptr<BarDirectory> bars) : bars_(std::move(bars)) {}

  Result<std::vector<std::string>> ListSymbols() override { return bars_->Symbols(); }

  Result<std::vector<std::string>> ListFeatures(const std::string& symbol) override {
    EVOLVE_RETURN_IF_ERROR(bars_->Load(symbol).status());
    return FeatureNames({});
  }

  // SHA-256 of every column of the symbol's bars, then each reference's, in
  // order: any edited or appended bar changes it.
  Result<std::string> DataDigest(const std::string& symbol,
                                 const std::vector<std::string>& references) override {
    std::string input;
    std::vector<std::string> symbols = {symbol};
    symbols.insert(symbols.end(), references.begin(), references.end());
    for (size_t k = 0; k < symbols.size(); ++k) {
      auto loaded = bars_->Load(symbols[k]);
      if (!loaded.ok())
        return k == 0 ? loaded.status() : loaded.status().WithContext("reference symbol " + symbols[k]);
      const Bars& b = **loaded;
      input += std::to_string(k) + ":" + std::to_string(b.size()) + "|";
      auto append = [&input](const auto& v) {
        input.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(v[0]));
      };
      append(b.time);
      append(b.open);
      append(b.high);
      append(b.low);
      append(b.close);
      append(b.volume);
    }
    return "sha256:" + Sha256Hex(input);
  }

 private:
  std::shared_ptr<BarDirectory> bars_;
};

}  // namespace

std::unique_ptr<FeatureSource> NewBuiltinFeatureSource(std::shared_ptr<BarDirectory> bars) {
  return std::make_unique<BuiltinFeatureSource>(std::move(bars));
}

}  // namespace evolve::engines
