// Selection-aware statistics: moments, the normal distribution, the
// Probabilistic and Deflated Sharpe Ratios, and the Probability of Backtest
// Overfitting by CSCV.
//
// The expected numbers come from running tests/unit/selection_stats_reference.py
// (Python standard library only), which computes them independently: two-pass
// moments, statistics.NormalDist (AS241) for the normal distribution, and
// itertools.combinations for CSCV. Both sides draw their inputs from the same
// 32-bit LCG (Lcg below), so the inputs are identical bit for bit. If an input
// or a formula changes, rerun the script and paste its output here.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "evolve/selection_stats.h"

namespace evolve {
namespace {

// Relative closeness (doctest's Approx alone also allows an absolute 1e-9,
// which says nothing about values like 3e-5).
doctest::Approx Rel(double expected, double epsilon = 1e-9) {
  return doctest::Approx(expected).epsilon(epsilon).scale(0);
}

// state = (1664525 state + 1013904223) mod 2^32, u = state / 2^32: the same
// generator as Lcg in selection_stats_reference.py.
class Lcg {
 public:
  explicit Lcg(uint32_t seed) : state_(seed) {}
  double Next() {
    state_ = 1664525u * state_ + 1013904223u;
    return state_ / 4294967296.0;
  }

 private:
  uint32_t state_;
};

uint32_t CandidateSeed(uint32_t base, uint32_t k) { return base + 2654435761u * k; }

// drift + uniform noise + a left-skewed term with mean 0.
double SkewedReturn(Lcg& lcg, double drift) {
  double u1 = lcg.Next();
  double u2 = lcg.Next();
  return drift + 0.02 * (u1 - 0.5) + 0.03 * (0.25 - u2 * u2 * u2);
}

std::vector<double> Returns(uint32_t seed, int n, double drift) {
  Lcg lcg(seed);
  std::vector<double> rs;
  for (int i = 0; i < n; ++i) rs.push_back(SkewedReturn(lcg, drift));
  return rs;
}

ReturnMoments MomentsOf(const std::vector<double>& rs) {
  ReturnMoments m;
  for (double r : rs) m.Add(r);
  return m;
}

// `blocks` equal consecutive blocks of rs, each summed in order.
std::vector<ReturnBlock> BlockSums(const std::vector<double>& rs, int blocks) {
  size_t size = rs.size() / blocks;
  std::vector<ReturnBlock> out(blocks);
  for (int b = 0; b < blocks; ++b) {
    for (size_t i = b * size; i < (b + 1) * size; ++i) {
      out[b].n += 1;
      out[b].sum += rs[i];
      out[b].sum2 += rs[i] * rs[i];
    }
  }
  return out;
}

// A block of n returns r.
ReturnBlock Constant(int64_t n, double r) { return ReturnBlock{n, n * r, n * r * r}; }

TEST_CASE("selection_stats: ReturnMoments matches the direct formulas") {
  ReturnMoments m = MomentsOf(Returns(12345, 250, 0.002));
  CHECK(m.n == 250);
  CHECK(*m.Mean() == Rel(0.004318428579227404));
  CHECK(*m.Variance() == Rel(9.725557380143272e-05));
  CHECK(*m.Sharpe() == Rel(0.4378934923913404));
  CHECK(*m.Skewness() == Rel(-0.6214346327837009));
  CHECK(*m.Kurtosis() == Rel(2.714928671270014));
}

TEST_CASE("selection_stats: ReturnMoments merges blocks and reports undefined moments") {
  std::vector<double> rs = Returns(12345, 250, 0.002);
  ReturnMoments whole = MomentsOf(rs);
  ReturnMoments merged;
  for (int start = 0; start < 250; start += 50) {
    ReturnMoments block = MomentsOf(std::vector<double>(rs.begin() + start, rs.begin() + start + 50));
    merged.Merge(block);
  }
  CHECK(merged.n == 250);
  CHECK(merged.sum == Rel(whole.sum, 1e-12));
  CHECK(merged.sum4 == Rel(whole.sum4, 1e-12));
  CHECK(*merged.Sharpe() == Rel(*whole.Sharpe(), 1e-11));
  CHECK(*merged.Kurtosis() == Rel(*whole.Kurtosis(), 1e-11));

  ReturnMoments copy;
  copy.Merge(whole);  // 0 + x == x
  CHECK(copy == whole);
  copy.Add(0.0);
  CHECK(copy != whole);

  ReturnMoments empty;
  CHECK_FALSE(empty.Mean().has_value());
  CHECK_FALSE(empty.Variance().has_value());
  ReturnMoments one;
  one.Add(0.01);
  CHECK(*one.Mean() == 0.01);
  CHECK_FALSE(one.Sharpe().has_value());
  ReturnMoments three;
  for (double r : {0.01, -0.02, 0.04}) three.Add(r);
  CHECK(three.Sharpe().has_value());
  CHECK(three.Skewness().has_value());
  CHECK_FALSE(three.Kurtosis().has_value());
  // A constant series: the rounding left in sum2 - sum * mean counts as zero variance.
  ReturnMoments constant;
  for (int i = 0; i < 100; ++i) constant.Add(0.01);
  CHECK(*constant.Variance() == 0.0);
  CHECK_FALSE(constant.Sharpe().has_value());
  CHECK_FALSE(constant.Skewness().has_value());
  CHECK_FALSE(constant.Kurtosis().has_value());
}

TEST_CASE("selection_stats: NormalCdf and NormalQuantile match AS241 and invert each other") {
  CHECK(NormalCdf(-4.0) == Rel(3.167124183311998e-05));
  CHECK(NormalCdf(-1.5) == Rel(0.06680720126885809));
  CHECK(NormalCdf(-0.3) == Rel(0.3820885778110474));
  CHECK(NormalCdf(0.0) == 0.5);
  CHECK(NormalCdf(0.7) == Rel(0.758036347776927));
  CHECK(NormalCdf(2.0) == Rel(0.9772498680518208));
  CHECK(NormalCdf(3.5) == Rel(0.9997673709209645));

  // Acklam alone is good to 1.15e-9 relative; after the Halley step, 1e-13.
  CHECK(NormalQuantile(1e-12) == Rel(-7.034483825301132, 1e-13));
  CHECK(NormalQuantile(1e-06) == Rel(-4.753424308822899, 1e-13));
  CHECK(NormalQuantile(0.001) == Rel(-3.090232306167813, 1e-13));
  CHECK(NormalQuantile(0.02) == Rel(-2.0537489106318225, 1e-13));
  CHECK(NormalQuantile(0.02425) == Rel(-1.9729610513118845, 1e-13));  // Acklam's region boundary
  CHECK(NormalQuantile(0.1) == Rel(-1.2815515655446008, 1e-13));
  CHECK(NormalQuantile(0.3) == Rel(-0.5244005127080407, 1e-13));
  CHECK(NormalQuantile(0.5) == 0.0);
  CHECK(NormalQuantile(0.75) == Rel(0.6744897501960817, 1e-13));
  CHECK(NormalQuantile(0.975) == Rel(1.9599639845400536, 1e-13));
  CHECK(NormalQuantile(0.999) == Rel(3.090232306167813, 1e-13));
  CHECK(NormalQuantile(1 - 1e-9) == Rel(5.997807019601638, 1e-9));  // 1 - 1e-9 itself is rounded

  for (double p : {1e-300, 1e-100, 1e-20, 1e-5, 0.0242, 0.0243, 0.2, 0.5, 0.6, 0.9, 0.99999, 1 - 1e-12}) {
    CAPTURE(p);
    CHECK(NormalCdf(NormalQuantile(p)) == Rel(p, 1e-12));
  }
  CHECK(NormalQuantile(0.25) == -NormalQuantile(0.75));  // 1 - 0.75 is exact
  CHECK(NormalQuantile(0.0) == -std::numeric_limits<double>::infinity());
  CHECK(NormalQuantile(1.0) == std::numeric_limits<double>::infinity());
  CHECK(std::isnan(NormalQuantile(std::nan(""))));
}

TEST_CASE("selection_stats: ExpectedMaxSharpe for 1, 2, 10, 100 and 1000 trials") {
  CHECK(ExpectedMaxSharpe(1, 1.0) == 0.0);
  CHECK(ExpectedMaxSharpe(0, 1.0) == 0.0);
  CHECK(ExpectedMaxSharpe(2, 1.0) == Rel(0.5197553442805939));
  CHECK(ExpectedMaxSharpe(10, 1.0) == Rel(1.57459830134575));
  CHECK(ExpectedMaxSharpe(100, 1.0) == Rel(2.5306028932016846));
  CHECK(ExpectedMaxSharpe(1000, 1.0) == Rel(3.255121513652723));
  CHECK(ExpectedMaxSharpe(100, 0.5 / 250) == Rel(0.11317200186513214));
  CHECK(ExpectedMaxSharpe(100, 0.0) == 0.0);
  // Scales with the standard deviation of the trials' Sharpe ratios.
  CHECK(ExpectedMaxSharpe(100, 4.0) == Rel(2 * ExpectedMaxSharpe(100, 1.0), 1e-15));
}

TEST_CASE("selection_stats: ProbabilisticSharpe") {
  CHECK(*ProbabilisticSharpe(0.1, 0.0, 250, -0.5, 5.0) == Rel(0.937320574390259));
  CHECK(*ProbabilisticSharpe(0.05, 0.08, 1000, 0.3, 4.0) == Rel(0.16991697682611506));
  CHECK(*ProbabilisticSharpe(0.2, 0.0, 2, 0.0, 3.0) == Rel(0.5784890118151376));
  CHECK(*ProbabilisticSharpe(0.1, 0.1, 100, -1.0, 6.0) == 0.5);
  CHECK_FALSE(ProbabilisticSharpe(0.1, 0.0, 1, 0.0, 3.0).has_value());  // T < 2
  // 1 - 3 * 0.5 + (1 - 1) / 4 * 0.25 = -0.5 <= 0.
  CHECK_FALSE(ProbabilisticSharpe(0.5, 0.0, 100, 3.0, 1.0).has_value());
  CHECK_FALSE(ProbabilisticSharpe(std::nan(""), 0.0, 100, 0.0, 3.0).has_value());
}

TEST_CASE("selection_stats: the Deflated Sharpe Ratio reproduces the paper's numerical example") {
  // Bailey & Lopez de Prado (2014), "A numerical example": N = 100 independent
  // trials whose annualised Sharpe ratios have variance 1/2, daily returns over
  // 5 years (T = 1250, 250 a year), skewness -3, kurtosis 10, selected
  // annualised SR 2.5. The paper reports SR0 ~ 0.1132 (per day) and
  // DSR ~ 0.9004. Per-period units: SR = 2.5 / sqrt(250), V = 0.5 / 250.
  double sr0 = ExpectedMaxSharpe(100, 0.5 / 250);
  CHECK(std::round(sr0 * 1e4) / 1e4 == doctest::Approx(0.1132));
  double dsr = *ProbabilisticSharpe(2.5 / std::sqrt(250.0), sr0, 1250, -3.0, 10.0);
  CHECK(std::round(dsr * 1e4) / 1e4 == doctest::Approx(0.9004));
  CHECK(sr0 == Rel(0.11317200186513214));  // the reference script, unrounded
  CHECK(dsr == Rel(0.9003968344493904));
}

TEST_CASE("selection_stats: ComputeDeflatedSharpe of the best of 40 candidates") {
  std::vector<ReturnMoments> moments;
  std::vector<double> sharpes;
  for (uint32_t k = 0; k < 40; ++k) {
    moments.push_back(MomentsOf(Returns(CandidateSeed(1000, k), 500, 0.00002 * k)));
    sharpes.push_back(*moments.back().Sharpe());
  }
  size_t best = 0;
  for (size_t k = 1; k < sharpes.size(); ++k) {
    if (sharpes[k] > sharpes[best]) best = k;
  }
  CHECK(best == 39);
  double v = SharpeVariance(sharpes);
  CHECK(v == Rel(0.0026770859592518516));
  Result<DeflatedSharpe> d = ComputeDeflatedSharpe(moments[best], 40, v);
  REQUIRE(d.ok());
  CHECK(d->sharpe == Rel(0.12738371181646407));
  CHECK(d->sharpe_variance == v);
  CHECK(d->trials == 40);
  CHECK(d->periods == 500);
  CHECK(d->skewness == Rel(-0.6890820002481377));
  CHECK(d->kurtosis == Rel(3.1213970496601933));
  CHECK(d->expected_max_sharpe == Rel(0.11328494175951141));
  CHECK(d->probability == Rel(0.6182092082044428));

  // One trial: no selection, SR0 = 0 and the DSR is the PSR against 0.
  Result<DeflatedSharpe> single = ComputeDeflatedSharpe(moments[best], 1, v);
  REQUIRE(single.ok());
  CHECK(single->expected_max_sharpe == 0.0);
  CHECK(single->probability == *ProbabilisticSharpe(d->sharpe, 0.0, 500, d->skewness, d->kurtosis));
  // Two or three periods: the skewness and kurtosis of a normal distribution.
  ReturnMoments two;
  two.Add(0.01);
  two.Add(0.03);
  Result<DeflatedSharpe> short_series = ComputeDeflatedSharpe(two, 5, 0.01);
  REQUIRE(short_series.ok());
  CHECK(short_series->skewness == 0.0);
  CHECK(short_series->kurtosis == 3.0);
}

TEST_CASE("selection_stats: ComputeDeflatedSharpe rejects bad input") {
  ReturnMoments good = MomentsOf(Returns(12345, 250, 0.002));
  auto code = [](const Result<DeflatedSharpe>& r) { return r.status().code(); };
  CHECK(code(ComputeDeflatedSharpe(good, 0, 0.01)) == StatusCode::kInvalidArgument);
  CHECK(ComputeDeflatedSharpe(good, 0, 0.01).status().message() == "trials: must be >= 1, got 0");
  CHECK(code(ComputeDeflatedSharpe(good, 10, -0.01)) == StatusCode::kInvalidArgument);
  CHECK(code(ComputeDeflatedSharpe(good, 10, std::nan(""))) == StatusCode::kInvalidArgument);
  CHECK(code(ComputeDeflatedSharpe(good, 10, std::numeric_limits<double>::infinity())) ==
        StatusCode::kInvalidArgument);
  ReturnMoments one;
  one.Add(0.01);
  CHECK(ComputeDeflatedSharpe(one, 10, 0.01).status().message() == "returns: need at least 2 periods, got 1");
  ReturnMoments flat;
  for (int i = 0; i < 10; ++i) flat.Add(0.001);
  CHECK(ComputeDeflatedSharpe(flat, 10, 0.01).status().message() ==
        "returns: zero variance, the Sharpe ratio is undefined");
  ReturnMoments inf = good;
  inf.sum4 = std::numeric_limits<double>::infinity();
  CHECK(code(ComputeDeflatedSharpe(inf, 10, 0.01)) == StatusCode::kInvalidArgument);
}

TEST_CASE("selection_stats: PBO by hand for 2 candidates and 2 blocks") {
  // Returns {0.02, 0} have Sharpe 1/sqrt(2), {-0.02, 0} -1/sqrt(2).
  ReturnBlock up{2, 0.02, 0.0004}, down{2, -0.02, 0.0004};
  // Each candidate is good in one block and bad in the other: the IS-best is
  // the OOS-worst in both splits, rank 1 of 2, w = 1/3, logit = ln(1/2).
  Result<OverfittingProbability> r = ComputePbo({{up, down}, {down, up}});
  REQUIRE(r.ok());
  CHECK(r->combinations == 2);
  CHECK(r->blocks == 2);
  CHECK(r->candidates == 2);
  CHECK(r->pbo == 1.0);
  CHECK(r->median_logit == Rel(-std::log(2.0), 1e-15));
  // Candidate 1 good everywhere: it is best IS and OOS, rank 2, logit ln 2.
  r = ComputePbo({{down, down}, {up, up}});
  REQUIRE(r.ok());
  CHECK(r->pbo == 0.0);
  CHECK(r->median_logit == Rel(std::log(2.0), 1e-15));
}

TEST_CASE("selection_stats: PBO near 1 when the in-sample best is the out-of-sample worst") {
  // Candidate k is good (+0.01) in the 8 cyclically consecutive blocks b with
  // (b + k) mod 16 < 8 and bad (-0.01) in the others, plus noise: a split's
  // IS-best has the most good blocks IS, hence the fewest OOS.
  Lcg lcg(777);
  std::vector<std::vector<ReturnBlock>> candidates;
  for (int k = 0; k < 16; ++k) {
    std::vector<double> rs;
    for (int b = 0; b < 16; ++b) {
      double sign = (b + k) % 16 < 8 ? 1.0 : -1.0;
      for (int i = 0; i < 20; ++i) rs.push_back(sign * 0.01 + 0.02 * (lcg.Next() - 0.5));
    }
    candidates.push_back(BlockSums(rs, 16));
  }
  Result<OverfittingProbability> r = ComputePbo(candidates);
  REQUIRE(r.ok());
  CHECK(r->pbo >= 0.9);
  CHECK(r->pbo == Rel(0.9979020979020979, 1e-12));
  CHECK(r->combinations == 12870);
  CHECK(r->blocks == kCscvBlocks);
  CHECK(r->candidates == 16);
  CHECK(r->median_logit == Rel(-2.772588722239781, 1e-12));
}

TEST_CASE("selection_stats: PBO near 0 when one candidate is better in every block") {
  // Noise 0.02 (u - 0.5) for 10 candidates; candidate 3 also has drift 0.01.
  Lcg lcg(4242);
  std::vector<std::vector<ReturnBlock>> candidates;
  for (int k = 0; k < 10; ++k) {
    double drift = k == 3 ? 0.01 : 0.0;
    std::vector<double> rs;
    for (int i = 0; i < 320; ++i) rs.push_back(drift + 0.02 * (lcg.Next() - 0.5));
    candidates.push_back(BlockSums(rs, 16));
  }
  Result<OverfittingProbability> r = ComputePbo(candidates);
  REQUIRE(r.ok());
  CHECK(r->pbo <= 0.1);
  CHECK(r->pbo == 0.0);
  CHECK(r->combinations == 12870);
  CHECK(r->median_logit == Rel(2.3025850929940455, 1e-12));  // ln(10/1): rank 10 of 10
}

TEST_CASE("selection_stats: PBO of noise candidates matches the reference") {
  std::vector<std::vector<ReturnBlock>> candidates;
  for (uint32_t k = 0; k < 12; ++k) {
    candidates.push_back(BlockSums(Returns(CandidateSeed(2024, k), 400, 0.00002 * k), 16));
  }
  Result<OverfittingProbability> r = ComputePbo(candidates);
  REQUIRE(r.ok());
  CHECK(r->pbo == Rel(0.7825174825174825, 1e-12));
  CHECK(r->combinations == 12870);
  CHECK(r->median_logit == Rel(-1.203972804325936, 1e-12));
}

TEST_CASE("selection_stats: PBO tie rules") {
  // Identical candidates: candidate 0 wins every IS tie and ties with all OOS,
  // average rank (N + 1) / 2, logit 0, which counts as overfit.
  std::vector<ReturnBlock> blocks = BlockSums(Returns(99, 80, 0.001), 4);
  Result<OverfittingProbability> r = ComputePbo({blocks, blocks, blocks});
  REQUIRE(r.ok());
  CHECK(r->combinations == 6);
  CHECK(r->pbo == 1.0);
  CHECK(r->median_logit == 0.0);
  // Zero-variance halves have Sharpe 0 whatever their mean: a constant +1%
  // candidate ties with a constant -1% one, and both lose to noise with a
  // positive Sharpe ratio in every half.
  std::vector<ReturnBlock> plus(4, Constant(10, 0.01)), minus(4, Constant(10, -0.01));
  std::vector<ReturnBlock> good = {ReturnBlock{2, 0.02, 0.0004}, ReturnBlock{2, 0.02, 0.0004},
                                   ReturnBlock{2, 0.02, 0.0004}, ReturnBlock{2, 0.02, 0.0004}};
  r = ComputePbo({plus, minus, good});
  REQUIRE(r.ok());
  CHECK(r->pbo == 0.0);
  CHECK(r->median_logit == Rel(std::log(3.0), 1e-15));  // rank 3 of 3
  // Without `good`, the two constant candidates tie at 0 in every half:
  // candidate 0 (the lowest index) is the IS-best and ties OOS, logit 0.
  r = ComputePbo({plus, minus});
  REQUIRE(r.ok());
  CHECK(r->pbo == 1.0);
  CHECK(r->median_logit == 0.0);
}

TEST_CASE("selection_stats: ComputePbo rejects bad input") {
  std::vector<ReturnBlock> four(4, ReturnBlock{2, 0.02, 0.0004});
  auto message = [](const std::vector<std::vector<ReturnBlock>>& c) {
    Result<OverfittingProbability> r = ComputePbo(c);
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    return r.status().message();
  };
  CHECK(message({}) == "candidates: need at least 2, got 0");
  CHECK(message({four}) == "candidates: need at least 2, got 1");
  CHECK(message({four, std::vector<ReturnBlock>(6, four[0])}) ==
        "candidates: candidate 1 has 6 blocks, candidate 0 has 4");
  CHECK(message({std::vector<ReturnBlock>(3, four[0]), std::vector<ReturnBlock>(3, four[0])}) ==
        "blocks: need an even number from 2 to 24, got 3");
  CHECK(message({{}, {}}) == "blocks: need an even number from 2 to 24, got 0");
  CHECK(message({std::vector<ReturnBlock>(26, four[0]), std::vector<ReturnBlock>(26, four[0])}) ==
        "blocks: need an even number from 2 to 24, got 26");
  std::vector<ReturnBlock> negative = four;
  negative[2].n = -1;
  CHECK(message({four, negative}) == "candidates: candidate 1 block 2 has a negative n or non-finite sums");
  std::vector<ReturnBlock> nan = four;
  nan[0].sum2 = std::nan("");
  CHECK(message({nan, four}) == "candidates: candidate 0 block 0 has a negative n or non-finite sums");
}

TEST_CASE("selection_stats: ComputePbo on 300 candidates and 16 blocks") {
  // The engine's scale: 12,870 splits x 300 candidates (~0.1 s optimised).
  Lcg lcg(31337);
  std::vector<std::vector<ReturnBlock>> candidates;
  for (int k = 0; k < 300; ++k) {
    std::vector<double> rs;
    for (int i = 0; i < 16 * 30; ++i) rs.push_back(SkewedReturn(lcg, 0.0));
    candidates.push_back(BlockSums(rs, 16));
  }
  Result<OverfittingProbability> r = ComputePbo(candidates);
  REQUIRE(r.ok());
  CHECK(r->combinations == 12870);
  CHECK(r->candidates == 300);
  CHECK(r->pbo > 0.0);
  CHECK(r->pbo < 1.0);
}

}  // namespace
}  // namespace evolve
