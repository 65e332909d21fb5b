#include "evolve/pruning.h"
#include "format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

namespace evolve {
namespace {

std::map<std::string, double> ByFeature(const std::vector<FeatureImportance>& importances) {
  std::map<std::string, double> out;
  for (const auto& fi : importances) out[fi.feature] = fi.importance;
  return out;
}

// Prunes every feature whose importance is <= `bound`; the shared rule of the
// "non_positive" (bound 0) and "threshold" strategies.
class AtMostPruning final : public PruningStrategy {
 public:
  AtMostPruning(std::string name, double bound) : name_(std::move(name)), bound_(bound) {}

  std::string Name() const override { return name_; }

  Result<PruneDecision> Prune(const std::vector<std::string>& features,
                              const std::vector<FeatureImportance>& importances) const override {
    auto by_feature = ByFeature(importances);
    PruneDecision d;
    for (const auto& f : features) {
      auto it = by_feature.find(f);
      if (it == by_feature.end()) return InvalidArgumentError("no importance for feature '" + f + "'");
      (it->second <= bound_ ? d.pruned : d.kept).push_back(f);
    }
    d.reason = "importance<=" + internal::FormatNumber(bound_, 6);
    return d;
  }

 private:
  std::string name_;
  double bound_;
};

class KeepTopFractionPruning final : public PruningStrategy {
 public:
  explicit KeepTopFractionPruning(double fraction) : fraction_(fraction) {}

  std::string Name() const override { return "keep_top_fraction"; }

  Result<PruneDecision> Prune(const std::vector<std::string>& features,
                              const std::vector<FeatureImportance>& importances) const override {
    auto by_feature = ByFeature(importances);
    std::vector<size_t> order(features.size());
    for (size_t i = 0; i < order.size(); ++i) {
      if (!by_feature.count(features[i])) {
        return InvalidArgumentError("no importance for feature '" + features[i] + "'");
      }
      order[i] = i;
    }
    // Most important first; equal importances keep input order.
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return by_feature[features[a]] > by_feature[features[b]]; });
    size_t keep = static_cast<size_t>(std::ceil(fraction_ * static_cast<double>(features.size())));
    std::vector<bool> kept(features.size(), false);
    for (size_t i = 0; i < keep && i < order.size(); ++i) kept[order[i]] = true;
    PruneDecision d;
    for (size_t i = 0; i < features.size(); ++i) (kept[i] ? d.kept : d.pruned).push_back(features[i]);
    d.reason = "keep_top_fraction=" + internal::FormatNumber(fraction_, 6);
    return d;
  }

 private:
  double fraction_;
};

}  // namespace

std::unique_ptr<PruningStrategy> NewNonPositivePruning() {
  return std::make_unique<AtMostPruning>("non_positive", 0.0);
}

std::unique_ptr<PruningStrategy> NewKeepTopFractionPruning(double fraction) {
  return std::make_unique<KeepTopFractionPruning>(fraction);
}

std::unique_ptr<PruningStrategy> NewThresholdPruning(double min_importance) {
  return std::make_unique<AtMostPruning>("threshold", min_importance);
}

Result<std::unique_ptr<PruningStrategy>> NewPruningStrategy(const PruningConfig& config) {
  if (config.strategy == "non_positive") return NewNonPositivePruning();
  if (config.strategy == "keep_top_fraction") {
    if (!(config.fraction > 0.0 && config.fraction < 1.0)) {
      return InvalidArgumentError("pruning.fraction: must be in (0, 1), got " +
                                  internal::FormatNumber(config.fraction, 6));
    }
    return NewKeepTopFractionPruning(config.fraction);
  }
  if (config.strategy == "threshold") {
    if (!std::isfinite(config.min_importance)) {
      return InvalidArgumentError("pruning.min_importance: must be a finite number");
    }
    return NewThresholdPruning(config.min_importance);
  }
  return InvalidArgumentError("pruning.strategy: unknown strategy '" + config.strategy +
                              "' (expected non_positive, keep_top_fraction or threshold)");
}

}  // namespace evolve
