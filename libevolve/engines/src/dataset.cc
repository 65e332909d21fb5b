#include "dataset.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <thread>

namespace evolve::engines {
namespace {

// The midpoint of lo < hi, strictly below hi (so that hi goes right).
double Midpoint(double lo, double hi) {
  double mid = lo * 0.5 + hi * 0.5;
  if (!(mid < hi) || !(mid >= lo)) mid = lo;
  return mid;
}

// Sorts doubles (no NaN) ascending: LSD radix sort on order-preserving
// integer keys, about 3x faster than std::sort on 100k values.
void RadixSort(std::vector<double>* values) {
  const size_t n = values->size();
  if (n < 256) {
    std::sort(values->begin(), values->end());
    return;
  }
  std::vector<uint64_t> keys(n);
  std::vector<uint64_t> tmp(n);
  for (size_t i = 0; i < n; ++i) {
    uint64_t u;
    std::memcpy(&u, &(*values)[i], sizeof(u));
    keys[i] = (u >> 63) != 0 ? ~u : (u | (uint64_t{1} << 63));
  }
  std::vector<size_t> counts(8 * 256, 0);
  for (uint64_t k : keys) {
    for (int d = 0; d < 8; ++d) ++counts[static_cast<size_t>(d) * 256 + ((k >> (8 * d)) & 0xff)];
  }
  for (int d = 0; d < 8; ++d) {
    size_t* c = counts.data() + static_cast<size_t>(d) * 256;
    // A digit shared by every key orders nothing.
    bool trivial = false;
    for (int b = 0; b < 256; ++b) trivial = trivial || c[b] == n;
    if (trivial) continue;
    size_t sum = 0;
    for (int b = 0; b < 256; ++b) {
      const size_t t = c[b];
      c[b] = sum;
      sum += t;
    }
    for (uint64_t k : keys) tmp[c[(k >> (8 * d)) & 0xff]++] = k;
    keys.swap(tmp);
  }
  for (size_t i = 0; i < n; ++i) {
    const uint64_t k = keys[i];
    const uint64_t u = (k >> 63) != 0 ? (k & ~(uint64_t{1} << 63)) : ~k;
    std::memcpy(&(*values)[i], &u, sizeof(u));
  }
}

std::vector<double> FitEdges(const double* column, size_t rows, int max_bins) {
  std::vector<double> values;
  const size_t stride =
      rows > Binner::kMaxSampleRows ? (rows + Binner::kMaxSampleRows - 1) / Binner::kMaxSampleRows : 1;
  values.reserve(rows / stride + 1);
  for (size_t i = 0; i < rows; i += stride) {
    if (!std::isnan(column[i])) values.push_back(column[i]);
  }
  std::vector<double> edges;
  if (values.empty()) return edges;
  RadixSort(&values);
  // Distinct values, counted up to max_bins + 1.
  std::vector<double> distinct;
  distinct.reserve(static_cast<size_t>(max_bins) + 1);
  for (double v : values) {
    if (distinct.empty() || v != distinct.back()) {
      distinct.push_back(v);
      if (distinct.size() > static_cast<size_t>(max_bins)) break;
    }
  }
  if (distinct.size() <= static_cast<size_t>(max_bins)) {
    for (size_t k = 1; k < distinct.size(); ++k) edges.push_back(Midpoint(distinct[k - 1], distinct[k]));
    return edges;
  }
  const size_t m = values.size();
  const double max_value = values.back();
  for (int k = 1; k < max_bins; ++k) {
    const size_t pos = static_cast<size_t>(k) * m / static_cast<size_t>(max_bins);
    if (pos == 0 || pos >= m) continue;
    const double lo = values[pos - 1];
    const double hi = values[pos];
    // Inside a run of ties, the edge is the tied value itself: the whole run
    // goes left.
    const double edge = lo < hi ? Midpoint(lo, hi) : lo;
    if (!(edge < max_value)) continue;
    if (edges.empty() || edge > edges.back()) edges.push_back(edge);
  }
  return edges;
}

// Edges padded with +infinity to 256 entries, so that the search below has
// a fixed number of steps.
std::vector<double> PadEdges(const std::vector<double>& edges) {
  std::vector<double> padded(Binner::kMaxBins, std::numeric_limits<double>::infinity());
  std::copy(edges.begin(), edges.end(), padded.begin());
  return padded;
}

// The number of edges < x, i.e. the first k with x <= edges[k]
// (lower_bound) or the number of edges; NaN compares false everywhere and
// gets 0. Branchless, eight steps.
inline uint8_t PaddedLowerBound(const double* padded, double x) {
  size_t idx = 0;
  for (size_t step = 128; step > 0; step >>= 1) idx += padded[idx + step - 1] < x ? step : 0;
  return static_cast<uint8_t>(idx);
}

}  // namespace

int ResolveThreads(int threads, size_t work_items) {
  size_t t = threads > 0 ? static_cast<size_t>(threads) : std::max(1u, std::thread::hardware_concurrency());
  t = std::min(t, std::max<size_t>(work_items, 1));
  return static_cast<int>(t);
}

Matrix Matrix::FromRowMajor(size_t r, size_t c, const std::vector<double>& values) {
  Matrix m(r, c);
  for (size_t i = 0; i < r; ++i) {
    for (size_t j = 0; j < c; ++j) m.at(i, j) = values[i * c + j];
  }
  return m;
}

Matrix Matrix::SelectRows(const std::vector<size_t>& row_ids) const {
  Matrix m(row_ids.size(), cols);
  for (size_t j = 0; j < cols; ++j) {
    const double* src = column(j);
    double* dst = m.column(j);
    for (size_t k = 0; k < row_ids.size(); ++k) dst[k] = src[row_ids[k]];
  }
  return m;
}

Status Matrix::Validate() const {
  if (data.size() != rows * cols) {
    return InvalidArgumentError("matrix: data has " + std::to_string(data.size()) + " values, expected " +
                                std::to_string(rows) + " x " + std::to_string(cols));
  }
  return Status::Ok();
}

Result<Binner> Binner::Fit(const Matrix& train, int max_bins, int threads) {
  EVOLVE_RETURN_IF_ERROR(train.Validate());
  if (max_bins < 2 || max_bins > kMaxBins) {
    return InvalidArgumentError("max_bins: must be in [2, 256], got " + std::to_string(max_bins));
  }
  if (train.rows == 0 || train.cols == 0) return InvalidArgumentError("binner: empty training matrix");
  Binner b;
  b.edges_.resize(train.cols);
  b.padded_.resize(train.cols);
  ParallelFor(train.cols, ResolveThreads(threads, train.cols), [&](size_t j, int) {
    b.edges_[j] = FitEdges(train.column(j), train.rows, max_bins);
    b.padded_[j] = PadEdges(b.edges_[j]);
  });
  return b;
}

uint8_t Binner::Bin(size_t feature, double value) const {
  return PaddedLowerBound(padded_[feature].data(), value);
}

BinnedMatrix Binner::Transform(const Matrix& x, int threads) const {
  BinnedMatrix out;
  out.rows = x.rows;
  out.cols = x.cols;
  out.codes.resize(x.rows * x.cols);
  // Blocks of rows keep the writes of one task within few cache lines.
  constexpr size_t kBlock = 4096;
  const size_t blocks = (x.rows + kBlock - 1) / kBlock;
  ParallelFor(blocks, ResolveThreads(threads, blocks), [&](size_t blk, int) {
    const size_t begin = blk * kBlock;
    const size_t end = std::min(x.rows, begin + kBlock);
    for (size_t j = 0; j < x.cols; ++j) {
      const double* e = padded_[j].data();
      const double* col = x.column(j);
      uint8_t* dst = out.codes.data() + j;
      size_t i = begin;
      // Eight independent searches at a time hide the load latency of each.
      constexpr size_t kLanes = 8;
      for (; i + kLanes <= end; i += kLanes) {
        size_t idx[kLanes] = {};
        double v[kLanes];
        for (size_t l = 0; l < kLanes; ++l) v[l] = col[i + l];
        for (size_t step = 128; step > 0; step >>= 1) {
          for (size_t l = 0; l < kLanes; ++l) idx[l] += e[idx[l] + step - 1] < v[l] ? step : 0;
        }
        for (size_t l = 0; l < kLanes; ++l) dst[(i + l) * x.cols] = static_cast<uint8_t>(idx[l]);
      }
      for (; i < end; ++i) dst[i * x.cols] = PaddedLowerBound(e, col[i]);
    }
  });
  return out;
}

void Binner::Write(BinaryWriter* w) const {
  w->U64(edges_.size());
  for (const auto& e : edges_) w->F64Vector(e);
}

Result<Binner> Binner::Read(BinaryReader* r) {
  Binner b;
  size_t n;
  EVOLVE_RETURN_IF_ERROR(r->Count(UINT64_MAX, 8, &n));
  b.edges_.resize(n);
  b.padded_.resize(n);
  for (size_t j = 0; j < n; ++j) {
    EVOLVE_RETURN_IF_ERROR(r->F64Vector(&b.edges_[j]));
    const auto& e = b.edges_[j];
    if (e.size() >= static_cast<size_t>(kMaxBins)) {
      return InvalidArgumentError("corrupt: feature " + std::to_string(j) + " has " +
                                  std::to_string(e.size()) + " bin edges (at most 255)");
    }
    for (size_t k = 0; k < e.size(); ++k) {
      if (std::isnan(e[k]) || (k > 0 && !(e[k] > e[k - 1]))) {
        return InvalidArgumentError("corrupt: bin edges of feature " + std::to_string(j) +
                                    " are not strictly increasing");
      }
    }
    b.padded_[j] = PadEdges(e);
  }
  return b;
}

}  // namespace evolve::engines
