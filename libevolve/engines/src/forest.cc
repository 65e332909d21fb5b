#include "forest.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>

#include "serialize.h"
#include "hyperparameters.h"
#include "random.h"

namespace evolve::engines {
namespace {

constexpr char kMagic[] = "EVRF";
constexpr int kMaxEstimators = 100000;

// One bin of a node histogram: 16 bytes, so a 30-feature x 256-bin
// histogram is 120 KiB and stays in L2.
struct HistBin {
  double sum;       // sum of weight * centred target
  uint32_t weight;  // bootstrap draws
  uint32_t count;   // distinct rows
};

// One in-bag row of the tree being grown. Slots of a node are contiguous and
// in increasing row order (stable partitions), so the gathers of bin codes
// move forward through memory.
struct Slot {
  uint32_t row;
  uint32_t weight;
  double wy;  // weight * centred target
};

struct NodeStats {
  double sum = 0.0;
  uint32_t weight = 0;
  uint32_t count = 0;
};

struct WorkItem {
  uint32_t begin;
  uint32_t end;
  int depth;
  int32_t node;
  int hist;  // histogram buffer holding this node's histogram, or -1
  NodeStats stats;
};

struct SplitChoice {
  int feature = -1;
  int bin = 0;
  double proxy = 0.0;  // sL^2/wL + sR^2/wR
  NodeStats left;
};

// The best split so far; its proxy is num / den (den > 0; num >= 0 for any
// real candidate, so the initial -1 / 1 loses to all of them).
struct Best {
  double num = -1.0;
  double den = 1.0;
  SplitChoice split;
};

// Everything the tree builders share, read-only.
struct FitContext {
  const uint8_t* codes = nullptr;  // row-major
  size_t rows = 0;
  int features = 0;
  const double* yc = nullptr;  // centred targets
  double y_mean = 0.0;
  std::vector<int> nbins;
  std::vector<uint32_t> offsets;  // histogram offset per feature
  size_t total_bins = 0;
  const Binner* binner = nullptr;
  ForestParams params;
  size_t per_split = 0;
  int leaf_exponent = 0;  // leaf value = value * 2^leaf_exponent
  // Nodes with at most this many rows use sparse histograms: twice the
  // mean bins per feature (512 for 256 bins, tuned on the benchmark), where
  // rows x features updates cost about what dense upkeep of every bin does.
  uint32_t sparse_rows = 0;
};

inline int Ctz(uint64_t v) {
#if defined(__GNUC__)
  return __builtin_ctzll(v);
#else
  int n = 0;
  while ((v & 1) == 0) {
    v >>= 1;
    ++n;
  }
  return n;
#endif
}

inline void Prefetch(const void* p) {
#if defined(__GNUC__)
  __builtin_prefetch(p);
#else
  (void)p;
#endif
}

class TreeBuilder {
 public:
  explicit TreeBuilder(const FitContext& ctx) : ctx_(ctx) {
    weight_.assign(ctx.rows, 0);
    perm_.resize(static_cast<size_t>(ctx.features));
    sparse_.assign(ctx.total_bins, HistBin{0.0, 0, 0});
    masks_.assign(static_cast<size_t>(ctx.features) * 4, 0);
  }

  // Grows tree `index`; adds its weighted squared-error decreases per
  // feature to *gains and returns the in-bag weight.
  double Build(size_t index, ForestTree* tree, std::vector<double>* gains) {
    const ForestParams& p = ctx_.params;
    Rng rng(Rng::Mix(p.seed, index));
    Sample(&rng);
    tree->nodes.clear();
    tree->nodes.reserve(EstimateNodes());
    tree->nodes.emplace_back();
    gains->assign(static_cast<size_t>(ctx_.features), 0.0);
    for (int f = 0; f < ctx_.features; ++f) perm_[static_cast<size_t>(f)] = f;
    const bool all_features = ctx_.per_split >= static_cast<size_t>(ctx_.features);

    NodeStats root;
    for (const Slot& s : slots_) {
      root.sum += s.wy;
      root.weight += s.weight;
      root.count += 1;
    }
    stack_.clear();
    stack_.push_back(WorkItem{0, static_cast<uint32_t>(slots_.size()), 0, 0, -1, root});
    while (!stack_.empty()) {
      WorkItem item = stack_.back();
      stack_.pop_back();
      if (!Splittable(item.depth, item.stats)) {
        Release(item.hist);
        MakeLeaf(tree, item);
        continue;
      }
      // Candidate features.
      feats_.clear();
      if (all_features) {
        for (int f = 0; f < ctx_.features; ++f) feats_.push_back(f);
      } else {
        // Partial Fisher-Yates: a fresh subset per node.
        const size_t f_count = perm_.size();
        for (size_t k = 0; k < ctx_.per_split; ++k) {
          const size_t pick = k + rng.Below(static_cast<uint32_t>(f_count - k));
          std::swap(perm_[k], perm_[pick]);
          feats_.push_back(perm_[k]);
        }
        std::sort(feats_.begin(), feats_.end());
      }
      SplitChoice split;
      if (Sparse(item.stats)) {
        // Small node: touch only the bins its rows fall in.
        BuildSparse(item.begin, item.end);
        split = FindSplitSparse(item.stats);
      } else {
        if (item.hist < 0) {
          item.hist = Acquire();
          HistBin* h = Hist(item.hist);
          if (all_features) {
            std::memset(static_cast<void*>(h), 0, ctx_.total_bins * sizeof(HistBin));
          } else {
            for (int f : feats_) {
              std::memset(static_cast<void*>(h + ctx_.offsets[static_cast<size_t>(f)]), 0,
                          static_cast<size_t>(ctx_.nbins[static_cast<size_t>(f)]) * sizeof(HistBin));
            }
          }
          BuildDense(item.begin, item.end, h);
        }
        split = FindSplit(Hist(item.hist), item.stats);
      }
      if (split.feature < 0) {
        Release(item.hist);
        MakeLeaf(tree, item);
        continue;
      }
      const uint32_t mid = Partition(item.begin, item.end, split.feature, split.bin);
      const int32_t left_id = static_cast<int32_t>(tree->nodes.size());
      tree->nodes.emplace_back();
      tree->nodes.emplace_back();
      ForestNode& node = tree->nodes[static_cast<size_t>(item.node)];
      node.feature = split.feature;
      node.left = left_id;
      node.bin = static_cast<uint8_t>(split.bin);
      node.threshold = ctx_.binner->edges(static_cast<size_t>(split.feature))[static_cast<size_t>(split.bin)];
      const double parent_proxy = item.stats.sum * item.stats.sum / item.stats.weight;
      (*gains)[static_cast<size_t>(split.feature)] += split.proxy - parent_proxy;

      NodeStats right_stats;
      right_stats.sum = item.stats.sum - split.left.sum;
      right_stats.weight = item.stats.weight - split.left.weight;
      right_stats.count = item.stats.count - split.left.count;
      WorkItem l{item.begin, mid, item.depth + 1, left_id, -1, split.left};
      WorkItem r{mid, item.end, item.depth + 1, left_id + 1, -1, right_stats};
      if (all_features && item.hist >= 0) {
        // Dense children that will be split get their histograms here: the
        // smaller child's from its rows, the larger's as parent - smaller.
        WorkItem* small = l.stats.count <= r.stats.count ? &l : &r;
        WorkItem* large = small == &l ? &r : &l;
        const bool dense_small = Splittable(small->depth, small->stats) && !Sparse(small->stats);
        const bool dense_large = Splittable(large->depth, large->stats) && !Sparse(large->stats);
        if (dense_large) {
          const int tmp = Acquire();
          HistBin* hs = Hist(tmp);
          std::memset(static_cast<void*>(hs), 0, ctx_.total_bins * sizeof(HistBin));
          BuildDense(small->begin, small->end, hs);
          Subtract(Hist(item.hist), hs);
          large->hist = item.hist;
          if (dense_small) {
            small->hist = tmp;
          } else {
            Release(tmp);
          }
        } else {
          Release(item.hist);
        }
      } else {
        Release(item.hist);
      }
      stack_.push_back(r);
      stack_.push_back(l);
    }
    return static_cast<double>(root.weight);
  }

 private:
  size_t EstimateNodes() const {
    const int d = ctx_.params.max_depth;
    size_t by_rows = 2 * slots_.size() / static_cast<size_t>(ctx_.params.min_samples_leaf) + 1;
    if (d >= 0 && d < 24) by_rows = std::min(by_rows, (size_t{2} << d) - 1);
    return by_rows;
  }

  void Sample(Rng* rng) {
    const ForestParams& p = ctx_.params;
    const size_t n = ctx_.rows;
    slots_.clear();
    const size_t draws =
        std::max<size_t>(1, static_cast<size_t>(std::llround(p.max_samples * static_cast<double>(n))));
    if (p.bootstrap) {
      for (size_t k = 0; k < draws; ++k) ++weight_[rng->Below(static_cast<uint32_t>(n))];
    } else if (draws >= n) {
      std::fill(weight_.begin(), weight_.end(), 1u);
    } else {
      // Floyd's algorithm: `draws` distinct rows.
      for (size_t j = n - draws; j < n; ++j) {
        const uint32_t t = rng->Below(static_cast<uint32_t>(j + 1));
        if (weight_[t] == 0) {
          weight_[t] = 1;
        } else {
          weight_[j] = 1;
        }
      }
    }
    for (size_t r = 0; r < n; ++r) {
      if (weight_[r] != 0) {
        slots_.push_back(Slot{static_cast<uint32_t>(r), weight_[r], weight_[r] * ctx_.yc[r]});
        weight_[r] = 0;
      }
    }
    tmp_.resize(slots_.size());
  }

  // Nodes with few rows use sparse histograms: the bins they touch are
  // tracked in a bitmask, found with count-trailing-zeros and cleared after,
  // so their cost is proportional to rows x features, not to the 256 bins
  // per feature of a dense histogram.
  bool Sparse(const NodeStats& s) const { return s.count <= ctx_.sparse_rows; }

  bool Splittable(int depth, const NodeStats& s) const {
    const ForestParams& p = ctx_.params;
    if (p.max_depth >= 0 && depth >= p.max_depth) return false;
    return s.count >= 2 && s.count >= 2 * static_cast<uint32_t>(p.min_samples_leaf);
  }

  void MakeLeaf(ForestTree* tree, const WorkItem& item) const {
    ForestNode& node = tree->nodes[static_cast<size_t>(item.node)];
    node.feature = -1;
    node.left = -1;
    const double mean = ctx_.y_mean + item.stats.sum / item.stats.weight;
    node.value = std::llround(std::ldexp(mean, -ctx_.leaf_exponent));
  }

  int Acquire() {
    if (free_.empty()) {
      pool_.emplace_back(new HistBin[ctx_.total_bins]);
      return static_cast<int>(pool_.size()) - 1;
    }
    const int h = free_.back();
    free_.pop_back();
    return h;
  }
  void Release(int h) {
    if (h >= 0) free_.push_back(h);
  }
  HistBin* Hist(int h) { return pool_[static_cast<size_t>(h)].get(); }

  // Dense histogram of the candidate features over slots [begin, end).
  void BuildDense(uint32_t begin, uint32_t end, HistBin* h) const {
    if (feats_.size() == static_cast<size_t>(ctx_.features)) {
      BuildAll(begin, end, h);
    } else {
      BuildSubset(begin, end, h);
    }
  }

  void BuildAll(uint32_t begin, uint32_t end, HistBin* h) const {
    const size_t f_count = static_cast<size_t>(ctx_.features);
    const uint32_t* off = ctx_.offsets.data();
    const uint8_t* codes = ctx_.codes;
    const Slot* s = slots_.data();
    constexpr uint32_t kAhead = 16;
    for (uint32_t k = begin; k < end; ++k) {
      if (k + kAhead < end) Prefetch(codes + static_cast<size_t>(s[k + kAhead].row) * f_count);
      const uint8_t* c = codes + static_cast<size_t>(s[k].row) * f_count;
      const double wy = s[k].wy;
      const uint32_t w = s[k].weight;
      for (size_t f = 0; f < f_count; ++f) {
        HistBin& b = h[off[f] + c[f]];
        b.sum += wy;
        b.weight += w;
        b.count += 1;
      }
    }
  }

  void BuildSubset(uint32_t begin, uint32_t end, HistBin* h) const {
    const size_t f_count = static_cast<size_t>(ctx_.features);
    const uint8_t* codes = ctx_.codes;
    const Slot* s = slots_.data();
    const size_t nf = feats_.size();
    sel_off_.resize(nf);
    for (size_t q = 0; q < nf; ++q) sel_off_[q] = ctx_.offsets[static_cast<size_t>(feats_[q])];
    const uint32_t* off = sel_off_.data();
    const int* fs = feats_.data();
    constexpr uint32_t kAhead = 16;
    for (uint32_t k = begin; k < end; ++k) {
      if (k + kAhead < end) Prefetch(codes + static_cast<size_t>(s[k + kAhead].row) * f_count);
      const uint8_t* c = codes + static_cast<size_t>(s[k].row) * f_count;
      const double wy = s[k].wy;
      const uint32_t w = s[k].weight;
      for (size_t q = 0; q < nf; ++q) {
        HistBin& b = h[off[q] + c[fs[q]]];
        b.sum += wy;
        b.weight += w;
        b.count += 1;
      }
    }
  }

  void Subtract(HistBin* parent, const HistBin* child) const {
#if defined(__SSE2__)
    // One 16-byte bin per vector: lane 0 the double sum, lane 1 the two
    // uint32 counters.
    for (size_t b = 0; b < ctx_.total_bins; ++b) {
      __m128i* pp = reinterpret_cast<__m128i*>(parent + b);
      const __m128i p = _mm_loadu_si128(pp);
      const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(child + b));
      const __m128d sums = _mm_sub_pd(_mm_castsi128_pd(p), _mm_castsi128_pd(c));
      const __m128i ints = _mm_sub_epi32(p, c);
      _mm_storeu_si128(pp, _mm_castpd_si128(_mm_move_sd(_mm_castsi128_pd(ints), sums)));
    }
#else
    for (size_t b = 0; b < ctx_.total_bins; ++b) {
      parent[b].sum -= child[b].sum;
      parent[b].weight -= child[b].weight;
      parent[b].count -= child[b].count;
    }
#endif
  }

  void BuildSparse(uint32_t begin, uint32_t end) {
    const size_t f_count = static_cast<size_t>(ctx_.features);
    const uint8_t* codes = ctx_.codes;
    const Slot* s = slots_.data();
    HistBin* h = sparse_.data();
    uint64_t* masks = masks_.data();
    const size_t nf = feats_.size();
    const int* fs = feats_.data();
    const uint32_t* off = ctx_.offsets.data();
    for (uint32_t k = begin; k < end; ++k) {
      const uint8_t* c = codes + static_cast<size_t>(s[k].row) * f_count;
      const double wy = s[k].wy;
      const uint32_t w = s[k].weight;
      for (size_t q = 0; q < nf; ++q) {
        const size_t f = static_cast<size_t>(fs[q]);
        const uint32_t code = c[f];
        HistBin& b = h[off[f] + code];
        b.sum += wy;
        b.weight += w;
        b.count += 1;
        masks[f * 4 + (code >> 6)] |= uint64_t{1} << (code & 63);
      }
    }
  }

  // FindSplit over the sparse histogram; leaves it and the masks all zero.
  SplitChoice FindSplitSparse(const NodeStats& node) {
    const uint32_t min_leaf = static_cast<uint32_t>(ctx_.params.min_samples_leaf);
    Best best_found;
    HistBin* hist = sparse_.data();
    for (int f : feats_) {
      HistBin* h = hist + ctx_.offsets[static_cast<size_t>(f)];
      uint64_t* mask = masks_.data() + static_cast<size_t>(f) * 4;
      double sl = 0.0;
      uint32_t wl = 0;
      uint32_t nl = 0;
      int prev = -1;
      for (int word = 0; word < 4; ++word) {
        uint64_t bits = mask[word];
        mask[word] = 0;
        while (bits != 0) {
          const int b = word * 64 + Ctz(bits);
          bits &= bits - 1;
          if (prev >= 0) {
            Consider(node, f, prev, b, sl, wl, nl, min_leaf, &best_found);
          }
          sl += h[b].sum;
          wl += h[b].weight;
          nl += h[b].count;
          h[b] = HistBin{0.0, 0, 0};
          prev = b;
        }
      }
    }
    return Finish(node, best_found);
  }

  SplitChoice FindSplit(const HistBin* hist, const NodeStats& node) const {
    const uint32_t min_leaf = static_cast<uint32_t>(ctx_.params.min_samples_leaf);
    const uint32_t total_n = node.count;
    Best best_found;
    for (int f : feats_) {
      const int nb = ctx_.nbins[static_cast<size_t>(f)];
      if (nb < 2) continue;
      const HistBin* h = hist + ctx_.offsets[static_cast<size_t>(f)];
      double sl = 0.0;
      uint32_t wl = 0;
      uint32_t nl = 0;
      int prev = -1;
      for (int b = 0; b < nb; ++b) {
        if (h[b].count == 0) continue;
        if (prev >= 0) {
          if (total_n - nl < min_leaf) break;
          Consider(node, f, prev, b, sl, wl, nl, min_leaf, &best_found);
        }
        sl += h[b].sum;
        wl += h[b].weight;
        nl += h[b].count;
        prev = b;
      }
    }
    return Finish(node, best_found);
  }

  // The candidate split between the non-empty bins prev < b, with
  // (sl, wl, nl) the totals of bins <= prev. The threshold bin sits in the
  // middle of the empty bins between them (as an exact tree splits halfway
  // between two values).
  // The proxy sl^2/wl + sr^2/wr is kept as the fraction
  // (sl^2 wr + sr^2 wl) / (wl wr) and compared by cross-multiplying: no
  // division in the scan.
  static inline void Consider(const NodeStats& node, int f, int prev, int b, double sl, uint32_t wl,
                              uint32_t nl, uint32_t min_leaf, Best* best) {
    if (nl < min_leaf || node.count - nl < min_leaf) return;
    const double sr = node.sum - sl;
    const double dwl = static_cast<double>(wl);
    const double dwr = static_cast<double>(node.weight - wl);
    const double num = sl * sl * dwr + sr * sr * dwl;
    const double den = dwl * dwr;
    if (num * best->den > best->num * den) {
      best->num = num;
      best->den = den;
      best->split.feature = f;
      best->split.bin = prev + (b - prev - 1) / 2;
      best->split.left = NodeStats{sl, wl, nl};
    }
  }

  // Only a decrease clearly above rounding noise is a split (a pure node
  // stays a leaf).
  static SplitChoice Finish(const NodeStats& node, const Best& found) {
    SplitChoice best = found.split;
    if (best.feature < 0) return best;
    const double best_proxy = found.num / found.den;
    const double parent_proxy = node.sum * node.sum / node.weight;
    if (!(best_proxy - parent_proxy > 1e-12 * best_proxy)) return SplitChoice{};
    best.proxy = best_proxy;
    return best;
  }

  // Stable partition of slots [begin, end): codes <= bin first. Returns the
  // first right slot.
  uint32_t Partition(uint32_t begin, uint32_t end, int feature, int bin) {
    const size_t f_count = static_cast<size_t>(ctx_.features);
    const uint8_t* codes = ctx_.codes + feature;
    Slot* s = slots_.data();
    Slot* right = tmp_.data();
    uint32_t nl = begin;
    uint32_t nr = 0;
    // Branchless: the direction is data-dependent and unpredictable. Writing
    // s[nl] in place is safe because nl <= k.
    for (uint32_t k = begin; k < end; ++k) {
      const Slot slot = s[k];
      const uint32_t go_left = codes[static_cast<size_t>(slot.row) * f_count] <= bin ? 1 : 0;
      s[nl] = slot;
      right[nr] = slot;
      nl += go_left;
      nr += 1 - go_left;
    }
    std::memcpy(static_cast<void*>(s + nl), right, nr * sizeof(Slot));
    return nl;
  }

  const FitContext& ctx_;
  std::vector<uint32_t> weight_;
  std::vector<Slot> slots_;
  std::vector<Slot> tmp_;
  std::vector<int> perm_;
  std::vector<int> feats_;
  mutable std::vector<uint32_t> sel_off_;
  std::vector<WorkItem> stack_;
  std::vector<std::unique_ptr<HistBin[]>> pool_;
  std::vector<HistBin> sparse_;  // all zero between nodes
  std::vector<uint64_t> masks_;  // 4 words (256 bits) per feature
  std::vector<int> free_;
};

}  // namespace

size_t ForestParams::FeaturesPerSplit(size_t num_features) const {
  double k = 0.0;
  switch (max_features_rule) {
    case MaxFeaturesRule::kFraction:
      // The epsilon keeps 1/3 * 30 at 10 whatever the rounding of 1/3.
      k = std::floor(max_features * static_cast<double>(num_features) + 1e-9);
      break;
    case MaxFeaturesRule::kSqrt:
      k = std::floor(std::sqrt(static_cast<double>(num_features)));
      break;
    case MaxFeaturesRule::kLog2:
      k = std::floor(std::log2(static_cast<double>(std::max<size_t>(num_features, 1))));
      break;
  }
  return std::min(num_features, std::max<size_t>(1, static_cast<size_t>(k)));
}

Status ForestParams::Validate() const {
  if (n_estimators < 1 || n_estimators > kMaxEstimators) {
    return InvalidArgumentError("n_estimators: must be in [1, 100000]");
  }
  if (max_depth == 0 || max_depth < -1)
    return InvalidArgumentError("max_depth: must be >= 1 or -1 (unlimited)");
  if (min_samples_leaf < 1) return InvalidArgumentError("min_samples_leaf: must be >= 1");
  if (!(max_features > 0.0 && max_features <= 1.0)) {
    return InvalidArgumentError("max_features: must be in (0, 1]");
  }
  if (!(max_samples > 0.0 && max_samples <= 1.0))
    return InvalidArgumentError("max_samples: must be in (0, 1]");
  if (threads < 0) return InvalidArgumentError("threads: must be >= 0");
  if (max_bins < 2 || max_bins > Binner::kMaxBins)
    return InvalidArgumentError("max_bins: must be in [2, 256]");
  return Status::Ok();
}

Result<ForestParams> ForestParamsFromJson(std::string_view json_object) {
  ForestParams p;
  bool seen_seed = false;
  bool seen_threads = false;
  auto read = [&](const std::string& key, const rapidjson::Value& v) -> Status {
    if (key == "n_estimators") {
      EVOLVE_RETURN_IF_ERROR(ReadIntHyperparameter(v, key, 1, kMaxEstimators, &p.n_estimators));
    } else if (key == "max_depth") {
      if (v.IsNull()) {
        p.max_depth = -1;
      } else {
        EVOLVE_RETURN_IF_ERROR(ReadIntHyperparameter(v, key, 1, 1000000, &p.max_depth));
      }
    } else if (key == "min_samples_leaf") {
      EVOLVE_RETURN_IF_ERROR(
          ReadIntHyperparameter(v, key, 1, std::numeric_limits<int>::max(), &p.min_samples_leaf));
    } else if (key == "max_features") {
      p.max_features = 1.0;
      p.max_features_rule = MaxFeaturesRule::kFraction;
      if (v.IsNull()) {
      } else if (v.IsString()) {
        const std::string s(v.GetString(), v.GetStringLength());
        if (s == "sqrt") {
          p.max_features_rule = MaxFeaturesRule::kSqrt;
        } else if (s == "log2") {
          p.max_features_rule = MaxFeaturesRule::kLog2;
        } else if (s != "all") {
          return HyperparameterError(key, "must be a number in (0, 1], \"sqrt\", \"log2\", \"all\" or null");
        }
      } else if (v.IsNumber()) {
        EVOLVE_RETURN_IF_ERROR(ReadFractionHyperparameter(v, key, &p.max_features));
      } else {
        return HyperparameterError(key, "must be a number in (0, 1], \"sqrt\", \"log2\", \"all\" or null");
      }
    } else if (key == "bootstrap") {
      if (!v.IsBool()) return HyperparameterError(key, "must be true or false");
      p.bootstrap = v.GetBool();
    } else if (key == "max_samples") {
      if (v.IsNull()) {
        p.max_samples = 1.0;
      } else {
        EVOLVE_RETURN_IF_ERROR(ReadFractionHyperparameter(v, key, &p.max_samples));
      }
    } else if (key == "random_state" || key == "seed") {
      if (seen_seed) return HyperparameterError(key, "give random_state or seed, not both");
      seen_seed = true;
      if (v.IsNull()) {
        p.seed = 1;
      } else if (v.IsUint64()) {
        p.seed = v.GetUint64();
      } else {
        return HyperparameterError(key, "must be a non-negative integer or null");
      }
    } else if (key == "n_jobs" || key == "threads") {
      if (seen_threads) return HyperparameterError(key, "give n_jobs or threads, not both");
      seen_threads = true;
      if (v.IsNull()) {
        p.threads = 0;
      } else {
        int t = 0;
        EVOLVE_RETURN_IF_ERROR(ReadIntHyperparameter(v, key, std::numeric_limits<int>::min(), 4096, &t));
        p.threads = t < 0 ? 0 : t;
      }
    } else if (key == "max_bins") {
      EVOLVE_RETURN_IF_ERROR(ReadIntHyperparameter(v, key, 2, Binner::kMaxBins, &p.max_bins));
    } else if (key == "criterion") {
      if (!v.IsString() ||
          (std::string(v.GetString()) != "squared_error" && std::string(v.GetString()) != "mse")) {
        return HyperparameterError(key, "only \"squared_error\" is supported");
      }
    } else {
      return UnknownHyperparameter(key, "random_forest_regressor");
    }
    return Status::Ok();
  };
  EVOLVE_RETURN_IF_ERROR(ForEachHyperparameter(json_object, read));
  EVOLVE_RETURN_IF_ERROR(p.Validate());
  return p;
}

void RandomForest::SetScale(double scale) {
  scale_ = scale;
  unit_ = trees_.empty() ? scale : scale / static_cast<double>(trees_.size());
}

Result<RandomForest> RandomForest::Fit(const Matrix& x, const std::vector<double>& y,
                                       const ForestParams& params) {
  EVOLVE_RETURN_IF_ERROR(params.Validate());
  EVOLVE_RETURN_IF_ERROR(x.Validate());
  if (x.rows == 0 || x.cols == 0)
    return InvalidArgumentError("random forest: no training rows or no features");
  if (y.size() != x.rows) {
    return InvalidArgumentError("random forest: " + std::to_string(y.size()) + " targets for " +
                                std::to_string(x.rows) + " rows");
  }
  if (x.rows >= std::numeric_limits<uint32_t>::max()) {
    return InvalidArgumentError("random forest: too many rows (at most 2^32-2)");
  }
  if (x.cols > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return InvalidArgumentError("random forest: too many features");
  }
  double y_sum = 0.0;
  double y_abs_max = 0.0;
  for (size_t i = 0; i < y.size(); ++i) {
    if (!std::isfinite(y[i]))
      return InvalidArgumentError("random forest: target " + std::to_string(i) + " is not finite");
    y_sum += y[i];
    y_abs_max = std::max(y_abs_max, std::fabs(y[i]));
  }

  RandomForest forest;
  forest.params_ = params;
  const int workers = ResolveThreads(params.threads, static_cast<size_t>(params.n_estimators));
  EVOLVE_ASSIGN_OR_RETURN(forest.binner_, Binner::Fit(x, params.max_bins, workers));
  const BinnedMatrix binned = forest.binner_.Transform(x, workers);

  FitContext ctx;
  ctx.codes = binned.codes.data();
  ctx.rows = x.rows;
  ctx.features = static_cast<int>(x.cols);
  ctx.y_mean = y_sum / static_cast<double>(y.size());
  std::vector<double> yc(y.size());
  for (size_t i = 0; i < y.size(); ++i) yc[i] = y[i] - ctx.y_mean;
  ctx.yc = yc.data();
  ctx.nbins.resize(x.cols);
  ctx.offsets.resize(x.cols);
  for (size_t f = 0; f < x.cols; ++f) {
    ctx.nbins[f] = forest.binner_.num_bins(f);
    ctx.offsets[f] = static_cast<uint32_t>(ctx.total_bins);
    ctx.total_bins += static_cast<size_t>(ctx.nbins[f]);
  }
  ctx.binner = &forest.binner_;
  ctx.params = params;
  ctx.per_split = params.FeaturesPerSplit(x.cols);
  ctx.sparse_rows = static_cast<uint32_t>(std::max<size_t>(16, 2 * ctx.total_bins / x.cols));
  // Leaf values are means of targets, so |leaf| <= max |y| < 2^e. With
  // integers below 2^(61 - ceil(log2 T)), neither a sum over T trees nor a
  // sum of T differences (the importance fast path) can overflow int64.
  int e = 0;
  if (y_abs_max > 0.0) std::frexp(y_abs_max, &e);
  int tree_bits = 0;
  while ((int64_t{1} << tree_bits) < params.n_estimators) ++tree_bits;
  ctx.leaf_exponent = e - (61 - tree_bits);

  const size_t n_trees = static_cast<size_t>(params.n_estimators);
  forest.trees_.resize(n_trees);
  std::vector<std::vector<double>> gains(n_trees);
  std::vector<double> in_bag(n_trees, 0.0);
  std::vector<std::unique_ptr<TreeBuilder>> builders(static_cast<size_t>(workers));
  ParallelFor(n_trees, workers, [&](size_t t, int worker) {
    auto& b = builders[static_cast<size_t>(worker)];
    if (!b) b = std::make_unique<TreeBuilder>(ctx);
    in_bag[t] = b->Build(t, &forest.trees_[t], &gains[t]);
  });

  forest.importance_.assign(x.cols, 0.0);
  for (size_t t = 0; t < n_trees; ++t) {
    for (size_t f = 0; f < x.cols; ++f) forest.importance_[f] += gains[t][f] / in_bag[t];
  }
  double total = 0.0;
  for (double v : forest.importance_) total += v;
  for (double& v : forest.importance_) v = total > 0.0 ? v / total : 0.0;
  forest.SetScale(std::ldexp(1.0, ctx.leaf_exponent));
  return forest;
}

double RandomForest::Predict(const double* row) const {
  int64_t sum = 0;
  for (const ForestTree& tree : trees_) {
    const ForestNode* nodes = tree.nodes.data();
    int32_t i = 0;
    while (nodes[i].feature >= 0) {
      const ForestNode& n = nodes[i];
      i = n.left + (row[n.feature] > n.threshold ? 1 : 0);
    }
    sum += nodes[i].value;
  }
  return PredictionFromSum(sum);
}

Status RandomForest::PredictBatch(const Matrix& x, std::vector<double>* out, int threads) const {
  EVOLVE_RETURN_IF_ERROR(x.Validate());
  if (x.cols != num_features()) {
    return InvalidArgumentError("random forest: matrix has " + std::to_string(x.cols) +
                                " features, model has " + std::to_string(num_features()));
  }
  out->assign(x.rows, 0.0);
  constexpr size_t kBlock = 512;
  const size_t blocks = (x.rows + kBlock - 1) / kBlock;
  ParallelFor(blocks, ResolveThreads(threads, blocks), [&](size_t blk, int) {
    const size_t begin = blk * kBlock;
    const size_t end = std::min(x.rows, begin + kBlock);
    int64_t sums[kBlock] = {};
    const double* data = x.data.data();
    const size_t stride = x.rows;
    for (const ForestTree& tree : trees_) {
      const ForestNode* nodes = tree.nodes.data();
      for (size_t r = begin; r < end; ++r) {
        int32_t i = 0;
        while (nodes[i].feature >= 0) {
          const ForestNode& n = nodes[i];
          i = n.left + (data[static_cast<size_t>(n.feature) * stride + r] > n.threshold ? 1 : 0);
        }
        sums[r - begin] += nodes[i].value;
      }
    }
    for (size_t r = begin; r < end; ++r) (*out)[r] = PredictionFromSum(sums[r - begin]);
  });
  return Status::Ok();
}

Status RandomForest::Serialize(std::string* out) const {
  BinaryWriter w;
  w.U64(num_features());
  w.I32(params_.n_estimators);
  w.I32(params_.max_depth);
  w.I32(params_.min_samples_leaf);
  w.F64(params_.max_features);
  w.U8(static_cast<uint8_t>(params_.max_features_rule));
  w.Bool(params_.bootstrap);
  w.F64(params_.max_samples);
  w.U64(params_.seed);
  w.I32(params_.threads);
  w.I32(params_.max_bins);
  binner_.Write(&w);
  w.F64(scale_);
  w.F64Vector(importance_);
  w.U64(trees_.size());
  for (const ForestTree& tree : trees_) {
    w.U64(tree.nodes.size());
    for (const ForestNode& n : tree.nodes) {
      w.I32(n.feature);
      if (n.feature >= 0) {
        w.I32(n.left);
        w.U8(n.bin);
        w.F64(n.threshold);
      } else {
        w.I64(n.value);
      }
    }
  }
  *out = WriteEnvelope(std::string_view(kMagic, 4), kFormatVersion, w.bytes());
  return Status::Ok();
}

Result<RandomForest> RandomForest::Deserialize(std::string_view bytes) {
  EVOLVE_ASSIGN_OR_RETURN(Envelope env,
                          ReadEnvelope(bytes, std::string_view(kMagic, 4), kFormatVersion, "random forest"));
  BinaryReader r(env.payload);
  RandomForest f;
  auto corrupt = [](const std::string& what) {
    return InvalidArgumentError("random forest: corrupt: " + what);
  };
  double scale = 0.0;
  Status s = [&]() -> Status {
    uint64_t features;
    EVOLVE_RETURN_IF_ERROR(r.U64(&features));
    uint8_t rule;
    EVOLVE_RETURN_IF_ERROR(r.I32(&f.params_.n_estimators));
    EVOLVE_RETURN_IF_ERROR(r.I32(&f.params_.max_depth));
    EVOLVE_RETURN_IF_ERROR(r.I32(&f.params_.min_samples_leaf));
    EVOLVE_RETURN_IF_ERROR(r.F64(&f.params_.max_features));
    EVOLVE_RETURN_IF_ERROR(r.U8(&rule));
    if (rule > static_cast<uint8_t>(MaxFeaturesRule::kLog2)) return corrupt("max_features rule");
    f.params_.max_features_rule = static_cast<MaxFeaturesRule>(rule);
    EVOLVE_RETURN_IF_ERROR(r.Bool(&f.params_.bootstrap));
    EVOLVE_RETURN_IF_ERROR(r.F64(&f.params_.max_samples));
    EVOLVE_RETURN_IF_ERROR(r.U64(&f.params_.seed));
    EVOLVE_RETURN_IF_ERROR(r.I32(&f.params_.threads));
    EVOLVE_RETURN_IF_ERROR(r.I32(&f.params_.max_bins));
    Status ps = f.params_.Validate();
    if (!ps.ok()) return corrupt(ps.message());
    EVOLVE_ASSIGN_OR_RETURN(f.binner_, Binner::Read(&r));
    if (f.binner_.num_features() != features || features == 0) return corrupt("feature count");
    EVOLVE_RETURN_IF_ERROR(r.F64(&scale));
    int e = 0;
    if (!(scale > 0.0) || !std::isfinite(scale) || std::frexp(scale, &e) != 0.5) return corrupt("leaf scale");
    EVOLVE_RETURN_IF_ERROR(r.F64Vector(&f.importance_));
    if (f.importance_.size() != features) return corrupt("importance size");
    size_t n_trees;
    EVOLVE_RETURN_IF_ERROR(r.Count(kMaxEstimators, 8, &n_trees));
    if (n_trees == 0) return corrupt("no trees");
    // Leaf values bounded so that neither a sum over all trees nor a sum of
    // differences of leaves over all trees can overflow.
    const int64_t leaf_bound = std::numeric_limits<int64_t>::max() / 2 / static_cast<int64_t>(n_trees);
    f.trees_.resize(n_trees);
    for (size_t t = 0; t < n_trees; ++t) {
      size_t n_nodes;
      EVOLVE_RETURN_IF_ERROR(r.Count(std::numeric_limits<int32_t>::max(), 12, &n_nodes));
      if (n_nodes == 0) return corrupt("empty tree " + std::to_string(t));
      auto& nodes = f.trees_[t].nodes;
      nodes.resize(n_nodes);
      for (size_t i = 0; i < n_nodes; ++i) {
        ForestNode& n = nodes[i];
        EVOLVE_RETURN_IF_ERROR(r.I32(&n.feature));
        if (n.feature >= 0) {
          EVOLVE_RETURN_IF_ERROR(r.I32(&n.left));
          EVOLVE_RETURN_IF_ERROR(r.U8(&n.bin));
          EVOLVE_RETURN_IF_ERROR(r.F64(&n.threshold));
          // Children after their parent: every walk ends, in bounds.
          if (static_cast<uint64_t>(n.feature) >= features || n.left <= static_cast<int32_t>(i) ||
              static_cast<size_t>(n.left) + 1 >= n_nodes) {
            return corrupt("node " + std::to_string(i) + " of tree " + std::to_string(t));
          }
          const auto& edges = f.binner_.edges(static_cast<size_t>(n.feature));
          if (n.bin >= edges.size() || !(edges[n.bin] == n.threshold)) {
            return corrupt("split of node " + std::to_string(i) + " of tree " + std::to_string(t));
          }
        } else if (n.feature == -1) {
          EVOLVE_RETURN_IF_ERROR(r.I64(&n.value));
          if (n.value > leaf_bound || n.value < -leaf_bound) return corrupt("leaf value");
        } else {
          return corrupt("node " + std::to_string(i) + " of tree " + std::to_string(t));
        }
      }
      // A tree: every node but the root is the child of exactly one node.
      std::vector<uint8_t> parents(n_nodes, 0);
      for (const ForestNode& n : nodes) {
        if (n.feature < 0) continue;
        ++parents[static_cast<size_t>(n.left)];
        ++parents[static_cast<size_t>(n.left) + 1];
        if (parents[static_cast<size_t>(n.left)] > 1 || parents[static_cast<size_t>(n.left) + 1] > 1) {
          return corrupt("tree " + std::to_string(t) + " shares a node");
        }
      }
      for (size_t i = 1; i < n_nodes; ++i) {
        if (parents[i] != 1) return corrupt("tree " + std::to_string(t) + " has an unreachable node");
      }
    }
    if (n_trees != static_cast<size_t>(f.params_.n_estimators)) return corrupt("tree count");
    return r.ExpectEnd();
  }();
  if (!s.ok()) {
    if (s.message().rfind("random forest", 0) == 0) return s;
    return s.WithContext("random forest");
  }
  f.SetScale(scale);
  return f;
}

}  // namespace evolve::engines
