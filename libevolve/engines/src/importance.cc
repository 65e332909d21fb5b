#include "importance.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "random.h"

namespace evolve::engines {
namespace {

Status ValidateInputs(const Matrix& x, const std::vector<double>& y, const PermutationOptions& options) {
  if (options.repeats < 1) return InvalidArgumentError("permutation importance: repeats must be >= 1");
  if (options.threads < 0) return InvalidArgumentError("permutation importance: threads must be >= 0");
  EVOLVE_RETURN_IF_ERROR(x.Validate());
  if (x.rows == 0 || x.cols == 0)
    return InvalidArgumentError("permutation importance: no rows or no features");
  if (x.rows >= std::numeric_limits<uint32_t>::max()) {
    return InvalidArgumentError("permutation importance: too many rows (at most 2^32-2)");
  }
  if (y.size() != x.rows) {
    return InvalidArgumentError("permutation importance: " + std::to_string(y.size()) + " targets for " +
                                std::to_string(x.rows) + " rows");
  }
  for (size_t i = 0; i < y.size(); ++i) {
    if (!std::isfinite(y[i])) {
      return InvalidArgumentError("permutation importance: target " + std::to_string(i) + " is not finite");
    }
  }
  return Status::Ok();
}

// Mean and population stdev of each feature's deltas, identically for both
// paths.
void Summarise(PermutationImportance* out) {
  const size_t features = out->deltas.size();
  out->mean.assign(features, 0.0);
  out->stdev.assign(features, 0.0);
  for (size_t j = 0; j < features; ++j) {
    const std::vector<double>& d = out->deltas[j];
    double sum = 0.0;
    for (double v : d) sum += v;
    const double mean = sum / static_cast<double>(d.size());
    double ss = 0.0;
    for (double v : d) ss += (v - mean) * (v - mean);
    out->mean[j] = mean;
    out->stdev[j] = std::sqrt(ss / static_cast<double>(d.size()));
  }
}

// A tree node as the fast path walks it: 8 bytes, so all trees of a
// 100-tree forest stay in L2. A leaf points to itself with bin 255 (no code
// is > 255), so a walk may take more steps than it needs without branching.
struct FastNode {
  int32_t left;
  uint16_t feature;  // the fast path needs features < 65536
  uint8_t bin;
  uint8_t height;  // steps to the deepest leaf below (capped at 255)
};

// The held-out rows of one leaf whose path tests feature f. Their path
// stays the same exactly when f's code stays in [lo_code, hi_code] (the
// intersection of the tests of f on the path); otherwise the row leaves the
// path at or below `start`, the topmost node on the path that tests f.
struct Segment {
  uint32_t k_begin;  // positions in TreeIndex::order
  uint32_t k_end;
  int32_t start;
  int32_t leaf;
  uint8_t lo_code;
  uint8_t hi_code;
};

// What the fast path knows about one tree on the held-out rows.
struct TreeIndex {
  std::vector<FastNode> nodes;
  // Rows ordered by the depth-first rank of their leaf, so that each leaf's
  // rows are contiguous.
  std::vector<uint32_t> order;
  // Segments of feature f: segments[first[f] .. first[f + 1]).
  std::vector<uint32_t> first;
  std::vector<Segment> segments;
};

struct Frame {
  int32_t node;
  uint8_t stage;  // 0: enter, 1: left done, 2: right done
  uint8_t saved_lo;
  uint8_t saved_hi;
  bool opened;  // this node is the topmost test of its feature on the path
};

void IndexTree(const ForestTree& tree, const BinnedMatrix& codes, std::vector<int64_t>* leaf_sums,
               TreeIndex* index) {
  const std::vector<ForestNode>& nodes = tree.nodes;
  const size_t n_nodes = nodes.size();
  const size_t rows = codes.rows;
  const size_t features = codes.cols;
  // Compact nodes, heights bottom-up (children have larger indices).
  index->nodes.resize(n_nodes);
  for (size_t m = n_nodes; m-- > 0;) {
    const ForestNode& nd = nodes[m];
    FastNode& fn = index->nodes[m];
    if (nd.feature < 0) {
      fn = FastNode{static_cast<int32_t>(m), 0, 255, 0};
      continue;
    }
    const int height = 1 + std::max(index->nodes[static_cast<size_t>(nd.left)].height,
                                    index->nodes[static_cast<size_t>(nd.left) + 1].height);
    fn = FastNode{nd.left, static_cast<uint16_t>(nd.feature), nd.bin,
                  static_cast<uint8_t>(std::min(255, height))};
  }
  // Leaf of every row; rows per leaf. The rows walk eight at a time in
  // lockstep on the compact nodes, the root's height steps each (a leaf
  // loops to itself): no exit branch to mispredict, and independent walks
  // hide each other's load latency. Trees deeper than 255 levels finish
  // each walk on its own.
  std::vector<int32_t> leaf(rows);
  std::vector<uint32_t> count(n_nodes, 0);
  const FastNode* fn = index->nodes.data();
  const int steps = fn[0].height;
  auto finish = [&](size_t i, int32_t m) {
    const uint8_t* c = codes.row(i);
    while (fn[m].left != m) m = fn[m].left + (c[fn[m].feature] > fn[m].bin ? 1 : 0);
    leaf[i] = m;
    ++count[static_cast<size_t>(m)];
    (*leaf_sums)[i] += nodes[static_cast<size_t>(m)].value;
  };
  constexpr size_t kLanes = 8;
  size_t i0 = 0;
  for (; i0 + kLanes <= rows; i0 += kLanes) {
    int32_t lane[kLanes] = {};
    const uint8_t* rowc[kLanes];
    for (size_t l = 0; l < kLanes; ++l) rowc[l] = codes.row(i0 + l);
    for (int step = 0; step < steps; ++step) {
      for (size_t l = 0; l < kLanes; ++l) {
        const FastNode& nd = fn[lane[l]];
        lane[l] = nd.left + (rowc[l][nd.feature] > nd.bin ? 1 : 0);
      }
    }
    for (size_t l = 0; l < kLanes; ++l) finish(i0 + l, lane[l]);
  }
  for (; i0 < rows; ++i0) finish(i0, 0);
  // Depth-first (left first): leaf position ranges, and a segment per leaf
  // and feature tested on its path, with the code interval of the path.
  std::vector<uint32_t> leaf_begin(n_nodes, 0);
  std::vector<uint8_t> cur_lo(features, 0);
  std::vector<uint8_t> cur_hi(features, 255);
  std::vector<int32_t> start(features, -1);
  std::vector<uint16_t> on_path;  // features with start >= 0, in opening order
  std::vector<std::pair<uint16_t, Segment>> found;
  std::vector<Frame> stack{Frame{0, 0, 0, 0, false}};
  uint32_t pos = 0;
  while (!stack.empty()) {
    const Frame fr = stack.back();
    const ForestNode& nd = nodes[static_cast<size_t>(fr.node)];
    if (nd.feature < 0) {
      const uint32_t n = count[static_cast<size_t>(fr.node)];
      leaf_begin[static_cast<size_t>(fr.node)] = pos;
      if (n > 0) {
        for (uint16_t f : on_path) {
          found.emplace_back(f, Segment{pos, pos + n, start[f], fr.node, cur_lo[f], cur_hi[f]});
        }
      }
      pos += n;
      stack.pop_back();
      continue;
    }
    const size_t f = static_cast<size_t>(nd.feature);
    Frame& top = stack.back();
    if (fr.stage == 0) {
      top.saved_lo = cur_lo[f];
      top.saved_hi = cur_hi[f];
      top.opened = start[f] < 0;
      if (top.opened) {
        start[f] = fr.node;
        on_path.push_back(static_cast<uint16_t>(f));
      }
      top.stage = 1;
      cur_hi[f] = std::min(cur_hi[f], nd.bin);
      stack.push_back(Frame{nd.left, 0, 0, 0, false});
    } else if (fr.stage == 1) {
      top.stage = 2;
      cur_hi[f] = fr.saved_hi;
      cur_lo[f] = std::max<uint8_t>(fr.saved_lo, static_cast<uint8_t>(nd.bin + 1));
      stack.push_back(Frame{nd.left + 1, 0, 0, 0, false});
    } else {
      cur_lo[f] = fr.saved_lo;
      cur_hi[f] = fr.saved_hi;
      if (fr.opened) {
        start[f] = -1;
        on_path.pop_back();
      }
      stack.pop_back();
    }
  }
  // Counting sort of the rows by leaf position.
  index->order.resize(rows);
  for (size_t i = 0; i < rows; ++i)
    index->order[leaf_begin[static_cast<size_t>(leaf[i])]++] = static_cast<uint32_t>(i);
  // Segments by feature.
  index->first.assign(features + 1, 0);
  for (const auto& p : found) ++index->first[p.first + 1u];
  for (size_t f = 0; f < features; ++f) index->first[f + 1] += index->first[f];
  index->segments.resize(found.size());
  std::vector<uint32_t> fill(index->first.begin(), index->first.end() - 1);
  for (const auto& p : found) index->segments[fill[p.first]++] = p.second;
}

// Repeats handled in one pass over a tree's segments (at most this many at
// once: one register-held count and pointer each).
constexpr size_t kMaxFusedRepeats = 8;

// Walks each row of `walks` from its segment's start node to its new leaf
// on `codes` (row-major, `features` per row) and adds the change of leaf
// value to delta[row].
template <typename W>
void Rewalk(const ForestNode* values, const TreeIndex& ti, const W* walks, size_t n_walks,
            const uint8_t* codes, size_t features, int64_t* delta) {
  const FastNode* fn = ti.nodes.data();
  const Segment* segments = ti.segments.data();
  // Eight at a time, in lockstep: independent walks hide each other's load
  // latency.
  constexpr size_t kLanes = 8;
  size_t b = 0;
  for (; b + kLanes <= n_walks; b += kLanes) {
    int32_t lane[kLanes];
    const uint8_t* rowc[kLanes];
    int steps = 0;
    for (size_t l = 0; l < kLanes; ++l) {
      lane[l] = segments[walks[b + l].segment].start;
      rowc[l] = codes + static_cast<size_t>(walks[b + l].row) * features;
      steps = std::max<int>(steps, fn[lane[l]].height);
    }
    for (int step = 0; step < steps; ++step) {
      for (size_t l = 0; l < kLanes; ++l) {
        const FastNode& nd = fn[lane[l]];
        lane[l] = nd.left + (rowc[l][nd.feature] > nd.bin ? 1 : 0);
      }
    }
    for (size_t l = 0; l < kLanes; ++l) {
      // Only trees deeper than 255 levels need more steps.
      while (fn[lane[l]].left != lane[l]) {
        lane[l] = fn[lane[l]].left + (rowc[l][fn[lane[l]].feature] > fn[lane[l]].bin ? 1 : 0);
      }
      delta[walks[b + l].row] += values[lane[l]].value - values[segments[walks[b + l].segment].leaf].value;
    }
  }
  for (; b < n_walks; ++b) {
    int32_t m = segments[walks[b].segment].start;
    const uint8_t* c = codes + static_cast<size_t>(walks[b].row) * features;
    while (fn[m].left != m) m = fn[m].left + (c[fn[m].feature] > fn[m].bin ? 1 : 0);
    delta[walks[b].row] += values[m].value - values[segments[walks[b].segment].leaf].value;
  }
}

}  // namespace

void PermutationFor(uint64_t seed, size_t feature, int repeat, size_t n, std::vector<uint32_t>* perm) {
  perm->resize(n);
  for (size_t i = 0; i < n; ++i) (*perm)[i] = static_cast<uint32_t>(i);
  Rng rng(Rng::Mix(Rng::Mix(seed, feature), static_cast<uint64_t>(repeat)));
  for (size_t i = n; i > 1; --i) {
    const uint32_t k = rng.Below(static_cast<uint32_t>(i));
    std::swap((*perm)[i - 1], (*perm)[k]);
  }
}

double MeanSquaredError(const std::vector<double>& y, const std::vector<double>& predictions) {
  double sum = 0.0;
  for (size_t i = 0; i < y.size(); ++i) {
    const double e = y[i] - predictions[i];
    sum += e * e;
  }
  return sum / static_cast<double>(y.size());
}

Result<PermutationImportance> ComputePermutationImportance(const PredictFn& predict, const Matrix& x,
                                                           const std::vector<double>& y,
                                                           const PermutationOptions& options) {
  EVOLVE_RETURN_IF_ERROR(ValidateInputs(x, y, options));
  std::vector<double> pred;
  auto run = [&](const Matrix& m) -> Status {
    pred.clear();
    EVOLVE_RETURN_IF_ERROR(predict(m, &pred));
    if (pred.size() != m.rows) {
      return InvalidArgumentError("permutation importance: predict returned " + std::to_string(pred.size()) +
                                  " values for " + std::to_string(m.rows) + " rows");
    }
    return Status::Ok();
  };
  PermutationImportance out;
  EVOLVE_RETURN_IF_ERROR(run(x));
  out.baseline_mse = MeanSquaredError(y, pred);
  out.baseline = pred;
  out.deltas.assign(x.cols, std::vector<double>(static_cast<size_t>(options.repeats), 0.0));
  Matrix work = x;
  std::vector<uint32_t> perm;
  for (size_t j = 0; j < x.cols; ++j) {
    const double* src = x.column(j);
    double* dst = work.column(j);
    for (int r = 0; r < options.repeats; ++r) {
      PermutationFor(options.seed, j, r, x.rows, &perm);
      for (size_t i = 0; i < x.rows; ++i) dst[i] = src[perm[i]];
      EVOLVE_RETURN_IF_ERROR(run(work));
      out.deltas[j][static_cast<size_t>(r)] = MeanSquaredError(y, pred) - out.baseline_mse;
    }
    std::copy(src, src + x.rows, dst);
  }
  Summarise(&out);
  return out;
}

Result<PermutationImportance> ForestPermutationImportance(const RandomForest& forest, const Matrix& x,
                                                          const std::vector<double>& y,
                                                          const PermutationOptions& options) {
  EVOLVE_RETURN_IF_ERROR(ValidateInputs(x, y, options));
  if (x.cols != forest.num_features()) {
    return InvalidArgumentError("permutation importance: matrix has " + std::to_string(x.cols) +
                                " features, model has " + std::to_string(forest.num_features()));
  }
  const size_t rows = x.rows;
  const size_t features = x.cols;
  const size_t n_trees = forest.num_trees();
  if (features > 65535) {
    // Beyond the compact nodes of the fast path; same numbers, slower.
    const int threads = options.threads;
    return ComputePermutationImportance(
        [&forest, threads](const Matrix& m, std::vector<double>* p) {
          return forest.PredictBatch(m, p, threads);
        },
        x, y, options);
  }
  const BinnedMatrix codes = forest.binner().Transform(x, options.threads);

  // Index every tree; the exact integer leaf sums give the base predictions.
  std::vector<TreeIndex> index(n_trees);
  const int tree_workers = ResolveThreads(options.threads, n_trees);
  std::vector<std::vector<int64_t>> partial(static_cast<size_t>(tree_workers), std::vector<int64_t>(rows, 0));
  ParallelFor(n_trees, tree_workers, [&](size_t t, int worker) {
    IndexTree(forest.trees()[t], codes, &partial[static_cast<size_t>(worker)], &index[t]);
  });
  std::vector<int64_t> base_sum(rows, 0);
  for (const auto& p : partial) {
    for (size_t i = 0; i < rows; ++i) base_sum[i] += p[i];
  }
  partial.clear();
  PermutationImportance out;
  out.baseline.resize(rows);
  for (size_t i = 0; i < rows; ++i) out.baseline[i] = forest.PredictionFromSum(base_sum[i]);
  out.baseline_mse = MeanSquaredError(y, out.baseline);
  out.deltas.assign(features, std::vector<double>(static_cast<size_t>(options.repeats), 0.0));

  // Work items are features, the most expensive first (rows to re-walk), so
  // that two workers finish together. Results do not depend on the order or
  // on which worker runs an item.
  std::vector<uint64_t> cost(features, 0);
  for (const TreeIndex& ti : index) {
    for (size_t f = 0; f < features; ++f) {
      for (uint32_t q = ti.first[f]; q < ti.first[f + 1]; ++q) {
        cost[f] += ti.segments[q].k_end - ti.segments[q].k_begin;
      }
    }
  }
  std::vector<size_t> feature_order(features);
  for (size_t f = 0; f < features; ++f) feature_order[f] = f;
  std::stable_sort(feature_order.begin(), feature_order.end(),
                   [&](size_t a, size_t b) { return cost[a] > cost[b]; });
  const size_t repeats = static_cast<size_t>(options.repeats);

  struct Walk {
    uint32_t row;
    uint32_t segment;  // its start node (the topmost test of j on the path) and old leaf
  };
  // Per repeat: the held-out codes with column j permuted, the permuted
  // codes of j alone, the rows to re-walk and each row's change of leaf sum.
  struct Repeat {
    std::vector<uint8_t> codes;
    std::vector<uint8_t> column;
    std::vector<Walk> walks;
    std::vector<int64_t> delta;
  };
  struct Scratch {
    std::vector<Repeat> repeat;
    std::vector<uint32_t> perm;
    std::vector<double> pred;
  };
  const int workers = ResolveThreads(options.threads, features);
  std::vector<Scratch> scratch(static_cast<size_t>(workers));
  ParallelFor(features, workers, [&](size_t item, int worker) {
    const size_t j = feature_order[item];
    Scratch& s = scratch[static_cast<size_t>(worker)];
    if (s.repeat.empty()) {
      s.repeat.resize(repeats);
      for (Repeat& rp : s.repeat) {
        rp.codes = codes.codes;
        rp.column.resize(rows);
        rp.walks.resize(rows);
        rp.delta.resize(rows);
      }
      s.pred.resize(rows);
    }
    for (size_t r = 0; r < repeats; ++r) {
      Repeat& rp = s.repeat[r];
      PermutationFor(options.seed, j, static_cast<int>(r), rows, &s.perm);
      for (size_t i = 0; i < rows; ++i) {
        rp.column[i] = codes.codes[s.perm[i] * features + j];
        rp.codes[i * features + j] = rp.column[i];
      }
      std::fill(rp.delta.begin(), rp.delta.end(), 0);
    }
    size_t n_walks[kMaxFusedRepeats];
    for (size_t t = 0; t < n_trees; ++t) {
      const TreeIndex& ti = index[t];
      const uint32_t* order = ti.order.data();
      // Rows whose permuted code leaves their path's interval (branchless),
      // for every repeat in one pass over the segments: the repeats share
      // the segments and the row order, only the permuted codes differ.
      for (size_t r0 = 0; r0 < repeats; r0 += kMaxFusedRepeats) {
        const size_t nr = std::min(kMaxFusedRepeats, repeats - r0);
        const uint8_t* col[kMaxFusedRepeats];
        Walk* walks[kMaxFusedRepeats];
        for (size_t r = 0; r < nr; ++r) {
          col[r] = s.repeat[r0 + r].column.data();
          walks[r] = s.repeat[r0 + r].walks.data();
          n_walks[r] = 0;
        }
        for (uint32_t q = ti.first[j]; q < ti.first[j + 1]; ++q) {
          const Segment& seg = ti.segments[q];
          const uint32_t lo = seg.lo_code;
          const uint32_t width = static_cast<uint32_t>(seg.hi_code) - lo;
          for (uint32_t k = seg.k_begin; k < seg.k_end; ++k) {
            const uint32_t i = order[k];
            for (size_t r = 0; r < nr; ++r) {
              walks[r][n_walks[r]] = Walk{i, q};
              // code outside [lo, hi], as one unsigned comparison
              n_walks[r] += (static_cast<uint32_t>(col[r][i]) - lo > width) ? 1 : 0;
            }
          }
        }
        for (size_t r = 0; r < nr; ++r) {
          Repeat& rp = s.repeat[r0 + r];
          Rewalk(forest.trees()[t].nodes.data(), ti, rp.walks.data(), n_walks[r], rp.codes.data(), features,
                 rp.delta.data());
        }
      }
    }
    for (size_t r = 0; r < repeats; ++r) {
      Repeat& rp = s.repeat[r];
      for (size_t i = 0; i < rows; ++i) s.pred[i] = forest.PredictionFromSum(base_sum[i] + rp.delta[i]);
      out.deltas[j][r] = MeanSquaredError(y, s.pred) - out.baseline_mse;
      for (size_t i = 0; i < rows; ++i) rp.codes[i * features + j] = codes.codes[i * features + j];
    }
  });
  Summarise(&out);
  return out;
}

}  // namespace evolve::engines
