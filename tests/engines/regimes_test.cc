// Regimes: the Gaussian mixture separates calm from stressed, label 0 is
// calm, fits are deterministic, no label ever changes when future bars are
// appended, and degenerate inputs give errors or -1, never NaN or a crash.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "engines/test_data.h"
#include "evolve/engines/regimes.h"

namespace evolve::engines {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A 2-D mixture: 70 % calm (x0 ~ N(0, 0.5), x1 ~ N(1, 0.1)), 30 % stressed
// (x0 ~ N(0, 2), x1 ~ N(2, 0.3)), in random order.
void Mixture(size_t n, uint64_t seed, std::vector<double>* x0, std::vector<double>* x1,
             std::vector<int>* truth) {
  MtNormal normal(seed);
  for (size_t i = 0; i < n; ++i) {
    const bool stressed = normal.Raw() % 10 < 3;
    x0->push_back(normal() * (stressed ? 2.0 : 0.5));
    x1->push_back(stressed ? 2 + 0.3 * normal() : 1 + 0.1 * normal());
    truth->push_back(stressed ? 1 : 0);
  }
}

// Closes whose log returns have stdev 0.005 (calm) or 0.03 (stressed) in
// blocks of `block` bars; regime[i] is the block's state.
std::vector<double> RegimePrices(size_t n, size_t block, uint64_t seed, std::vector<int>* regime) {
  MtNormal normal(seed);
  std::vector<double> close;
  double price = 100;
  for (size_t i = 0; i < n; ++i) {
    const int state = static_cast<int>((i / block) % 2);
    price *= std::exp((state ? 0.03 : 0.005) * normal());
    close.push_back(price);
    if (regime != nullptr) regime->push_back(state);
  }
  return close;
}

TEST_CASE("gmm: separates a calm/stressed mixture, label 0 is calm") {
  std::vector<double> x0, x1;
  std::vector<int> truth;
  Mixture(20000, 1, &x0, &x1, &truth);
  auto model = Gmm2::Fit(x0.data(), x1.data(), x0.size());
  REQUIRE(model.ok());
  CHECK(model->converged());
  CHECK(model->points() == 20000);
  size_t correct = 0;
  for (size_t i = 0; i < x0.size(); ++i) correct += model->Predict(x0[i], x1[i]) == truth[i];
  CHECK(static_cast<double>(correct) / x0.size() > 0.95);
  // Parameters in the input's units.
  CHECK(model->mean(0)[1] == doctest::Approx(1.0).epsilon(0.02));
  CHECK(model->mean(1)[1] == doctest::Approx(2.0).epsilon(0.02));
  CHECK(model->weight(0) == doctest::Approx(0.7).epsilon(0.03));
  CHECK(model->covariance(0)[0] == doctest::Approx(0.25).epsilon(0.1));
  CHECK(model->covariance(1)[0] == doctest::Approx(4.0).epsilon(0.1));
  CHECK(model->covariance(0)[2] == doctest::Approx(0.01).epsilon(0.1));
  CHECK(std::isfinite(model->log_likelihood()));
  CHECK(model->Predict(0, 1) == 0);
  CHECK(model->Predict(3, 2.5) == 1);
  CHECK(model->Predict(kNaN, 1) == -1);
  CHECK(model->ProbabilityOf1(0, 1) < 0.01);

  // The same data with the dimensions' roles swapped in scale (x1 * 1000)
  // labels the same points: the fit is scale-free.
  std::vector<double> x1k(x1);
  for (double& v : x1k) v *= 1000;
  auto scaled = Gmm2::Fit(x0.data(), x1k.data(), x0.size());
  REQUIRE(scaled.ok());
  size_t same = 0;
  for (size_t i = 0; i < x0.size(); ++i)
    same += scaled->Predict(x0[i], x1k[i]) == model->Predict(x0[i], x1[i]);
  CHECK(same == x0.size());
}

TEST_CASE("gmm: the order of components follows dimension 1, not the data order") {
  // Stressed points first: EM's component 0 starts as the stressed one.
  std::vector<double> x0, x1;
  MtNormal normal(3);
  for (int i = 0; i < 3000; ++i) {
    const bool stressed = i < 1000;
    x0.push_back(normal() * (stressed ? 2.0 : 0.5));
    x1.push_back(stressed ? 5 + 0.3 * normal() : 1 + 0.1 * normal());
  }
  auto model = Gmm2::Fit(x0.data(), x1.data(), x0.size());
  REQUIRE(model.ok());
  CHECK(model->mean(0)[1] < model->mean(1)[1]);
  CHECK(model->Predict(0, 1) == 0);
  CHECK(model->Predict(0, 5) == 1);
}

TEST_CASE("gmm: deterministic, and independent of the number of threads") {
  std::vector<double> x0, x1;
  std::vector<int> truth;
  Mixture(200000, 5, &x0, &x1, &truth);  // several chunks of the parallel E-step
  GmmOptions one;
  one.threads = 1;
  GmmOptions two;
  two.threads = 2;
  GmmOptions three;
  three.threads = 3;
  auto a = Gmm2::Fit(x0.data(), x1.data(), x0.size(), one);
  auto b = Gmm2::Fit(x0.data(), x1.data(), x0.size(), two);
  auto c = Gmm2::Fit(x0.data(), x1.data(), x0.size(), three);
  auto d = Gmm2::Fit(x0.data(), x1.data(), x0.size(), one);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(c.ok());
  REQUIRE(d.ok());
  for (const Gmm2* other : {&*b, &*c, &*d}) {
    CHECK(other->log_likelihood() == a->log_likelihood());
    CHECK(other->iterations() == a->iterations());
    for (int k = 0; k < 2; ++k) {
      CHECK(other->weight(k) == a->weight(k));
      CHECK(other->mean(k) == a->mean(k));
      CHECK(other->covariance(k) == a->covariance(k));
    }
  }
}

TEST_CASE("gmm: degenerate inputs give an error or finite parameters, never NaN") {
  // Too few points.
  const double few[3] = {1, 2, 3};
  auto tiny = Gmm2::Fit(few, few, 3);
  CHECK(tiny.status().code() == StatusCode::kInvalidArgument);
  // NaN / infinite rows are skipped; what is left is too little.
  std::vector<double> a(50, kNaN), b(50, 1.0);
  a[0] = 1;
  a[1] = std::numeric_limits<double>::infinity();
  CHECK(Gmm2::Fit(a.data(), b.data(), a.size()).status().code() == StatusCode::kInvalidArgument);
  // Constant data: both components sit on the point, with finite parameters.
  std::vector<double> c0(100, 0.0), c1(100, 0.02);
  auto constant = Gmm2::Fit(c0.data(), c1.data(), c0.size());
  REQUIRE(constant.ok());
  for (int k = 0; k < 2; ++k) {
    CHECK(std::isfinite(constant->weight(k)));
    CHECK(constant->mean(k)[1] == doctest::Approx(0.02));
    for (double v : constant->covariance(k)) CHECK(std::isfinite(v));
  }
  CHECK(std::isfinite(constant->log_likelihood()));
  CHECK(constant->Predict(0, 0.02) == 0);
  // One outlier among identical points: no collapse to a singular component.
  std::vector<double> d0(100, 0.0), d1(100, 1.0);
  d0[50] = 10;
  d1[50] = 10;
  auto outlier = Gmm2::Fit(d0.data(), d1.data(), d0.size());
  REQUIRE(outlier.ok());
  CHECK(std::isfinite(outlier->log_likelihood()));
  for (int k = 0; k < 2; ++k) {
    for (double v : outlier->covariance(k)) CHECK(std::isfinite(v));
  }
  // Bad options.
  GmmOptions bad;
  bad.max_iter = 0;
  CHECK(Gmm2::Fit(d0.data(), d1.data(), d0.size(), bad).status().code() == StatusCode::kInvalidArgument);
  bad = GmmOptions{};
  bad.reg_covar = 0;
  CHECK(Gmm2::Fit(d0.data(), d1.data(), d0.size(), bad).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("regime features: log return and 20-bar sample stdev, NaN where undefined") {
  std::vector<double> close;
  for (int i = 0; i < 30; ++i) close.push_back(100 * std::exp(0.01 * i + (i % 2 ? 0.002 : 0)));
  std::vector<double> ret, vol;
  RegimeFeatures(close, &ret, &vol);
  CHECK(std::isnan(ret[0]));
  CHECK(ret[1] == doctest::Approx(std::log(close[1] / close[0])));
  for (int i = 0; i < 20; ++i) CHECK(std::isnan(vol[i]));
  // Returns alternate 0.012, 0.008 (10 each in any 20): sample stdev =
  // sqrt(20 * 0.002^2 / 19).
  CHECK(vol[20] == doctest::Approx(std::sqrt(20 * 0.002 * 0.002 / 19)).epsilon(1e-9));
  close[25] = -1;  // not a price: the returns touching it and 20 bars of vol are undefined
  RegimeFeatures(close, &ret, &vol);
  CHECK(std::isnan(ret[25]));
  CHECK(std::isnan(ret[26]));
  CHECK(std::isnan(vol[29]));
  CHECK(!std::isnan(vol[24]));
}

TEST_CASE("regime_gmm: labels calm and stressed stretches of prices") {
  std::vector<int> truth;
  const std::vector<double> close = RegimePrices(6000, 250, 9, &truth);
  const auto segments = ExpandingRegimeSegments(close.size(), 1000, 500);
  REQUIRE(segments.size() == 10);
  CHECK(segments[0].fit_end == 1000);
  CHECK(segments[0].apply_begin == 1000);
  CHECK(segments[9].apply_end == 6000);
  auto labels = RegimeGmm(close, segments);
  REQUIRE(labels.ok());
  for (size_t i = 0; i < 1000; ++i) CHECK((*labels)[i] == -1);  // before the first apply range
  size_t counted = 0, correct = 0;
  for (size_t i = 1000; i < close.size(); ++i) {
    REQUIRE((*labels)[i] >= 0);
    if (i % 250 < 25) continue;  // the 20-bar volatility lags a switch
    ++counted;
    correct += (*labels)[i] == truth[i];
  }
  CHECK(static_cast<double>(correct) / counted > 0.95);
}

TEST_CASE("regime_gmm: appending future bars never changes past labels") {
  const std::vector<double> full = RegimePrices(5000, 300, 21, nullptr);
  const auto all = RegimeGmm(full, ExpandingRegimeSegments(full.size(), 800, 400));
  REQUIRE(all.ok());
  for (size_t n : {801, 1200, 1201, 2999, 4000}) {
    const std::vector<double> prefix(full.begin(), full.begin() + n);
    const auto part = RegimeGmm(prefix, ExpandingRegimeSegments(n, 800, 400));
    REQUIRE(part.ok());
    REQUIRE(part->size() == n);
    for (size_t i = 0; i < n; ++i) {
      if ((*part)[i] != (*all)[i]) {
        FAIL("label " << i << " changed when bars were appended after " << n);
      }
    }
  }
  // The labels of a segment do not depend on the bars it labels either:
  // changing bars inside an apply range changes no label before it.
  std::vector<double> changed = full;
  for (size_t i = 2000; i < changed.size(); ++i) changed[i] *= (i % 3 == 0 ? 1.05 : 0.97);
  const auto other = RegimeGmm(changed, ExpandingRegimeSegments(changed.size(), 800, 400));
  REQUIRE(other.ok());
  for (size_t i = 0; i < 2000; ++i) CHECK((*other)[i] == (*all)[i]);
}

TEST_CASE("regime_gmm: rejects look-ahead and bad segments, too little history gives -1") {
  const std::vector<double> close = RegimePrices(500, 100, 2, nullptr);
  auto look_ahead = RegimeGmm(close, {RegimeSegment{0, 300, 250, 400}});
  CHECK(look_ahead.status().code() == StatusCode::kInvalidArgument);
  CHECK(look_ahead.status().message().find("segments[0]") != std::string::npos);
  CHECK(RegimeGmm(close, {RegimeSegment{0, 100, 100, 501}}).status().code() == StatusCode::kInvalidArgument);
  CHECK(RegimeGmm(close, {RegimeSegment{50, 40, 100, 200}}).status().code() == StatusCode::kInvalidArgument);
  CHECK(
      RegimeGmm(close, {RegimeSegment{0, 100, 100, 300}, RegimeSegment{0, 200, 250, 400}}).status().code() ==
      StatusCode::kInvalidArgument);
  // Fit rows with fewer than min_points defined features: that segment is -1.
  auto early = RegimeGmm(close, {RegimeSegment{0, 25, 25, 100}, RegimeSegment{0, 200, 200, 300}});
  REQUIRE(early.ok());
  for (size_t i = 25; i < 100; ++i) CHECK((*early)[i] == -1);
  for (size_t i = 200; i < 300; ++i) CHECK((*early)[i] >= 0);
  for (size_t i = 300; i < 500; ++i) CHECK((*early)[i] == -1);  // outside every apply range
  // Tiny and constant series.
  auto tiny = RegimeGmm({1, 2, 3, 4, 5}, {RegimeSegment{0, 3, 3, 5}});
  REQUIRE(tiny.ok());
  for (int8_t v : *tiny) CHECK(v == -1);
  CHECK(RegimeGmm({}, {}).ok());
  const std::vector<double> constant(600, 50.0);
  auto flat = RegimeGmm(constant, ExpandingRegimeSegments(600, 200, 100));
  REQUIRE(flat.ok());
  for (size_t i = 200; i < 600; ++i) CHECK(((*flat)[i] == 0 || (*flat)[i] == 1));
  CHECK(ExpandingRegimeSegments(100, 100, 10).empty());
  CHECK(ExpandingRegimeSegments(100, 10, 0).empty());
}

TEST_CASE("regime_vix: trend x volatility, 3 = up and calm, warm-up -1") {
  // Steady rise / fall: the trend bit (label / 2) is up / down after the
  // warm-up. (With a constant volatility, calm vs volatile is a tie that
  // rounding decides, so it is not checked here.)
  std::vector<double> up, down;
  for (int i = 0; i < 300; ++i) {
    up.push_back(100 * std::exp(0.001 * i + (i % 2 ? 0.0005 : 0)));
    down.push_back(100 * std::exp(-0.001 * i + (i % 2 ? 0.0005 : 0)));
  }
  auto labels = RegimeVix(up);
  REQUIRE(labels.size() == 300);
  for (int i = 0; i < 119; ++i) CHECK(labels[i] == -1);
  for (int i = 119; i < 300; ++i) CHECK(labels[i] / 2 == 1);
  labels = RegimeVix(down);
  for (int i = 119; i < 300; ++i) CHECK((labels[i] >= 0 && labels[i] / 2 == 0));
  // Turbulence, then a quiet trend: once the 20-bar volatility is all quiet
  // it is below its 100-bar average: up and calm (3), down and calm (1).
  std::vector<double> calm_up, calm_down;
  double pu = 100, pd = 100;
  for (int i = 0; i < 300; ++i) {
    const double wiggle = i < 200 ? (i % 2 ? 0.02 : -0.02) : (i % 2 ? 0.001 : -0.001);
    pu *= std::exp(wiggle + 0.003);
    pd *= std::exp(wiggle - 0.003);
    calm_up.push_back(pu);
    calm_down.push_back(pd);
  }
  labels = RegimeVix(calm_up);
  for (int i = 221; i < 300; ++i) CHECK(labels[i] == 3);
  labels = RegimeVix(calm_down);
  for (int i = 221; i < 300; ++i) CHECK(labels[i] == 1);
  // A rise with a burst of volatility at the end: up and volatile (2);
  // a fall with the same burst: down and volatile (0).
  std::vector<double> burst_up = up, burst_down = down;
  for (int i = 280; i < 300; ++i) {
    const double shock = (i % 2 ? 1.02 : 0.985);
    burst_up[i] = burst_up[i - 1] * shock * std::exp(0.001);
    burst_down[i] = burst_down[i - 1] * shock * std::exp(-0.003);
  }
  CHECK(RegimeVix(burst_up)[299] == 2);
  CHECK(RegimeVix(burst_down)[299] == 0);
  // A constant series: not up (equal to its SMA), not above its average
  // volatility: 1, never NaN.
  labels = RegimeVix(std::vector<double>(200, 10.0));
  for (int i = 119; i < 200; ++i) CHECK(labels[i] == 1);
  // Tiny series: all warm-up.
  for (int8_t v : RegimeVix({1, 2, 3})) CHECK(v == -1);
  CHECK(RegimeVix({}).empty());
}

TEST_CASE("regime_vix: causal, a bad close makes its windows unknown") {
  const std::vector<double> full = RegimePrices(2000, 150, 4, nullptr);
  const auto all = RegimeVix(full);
  for (size_t n : {100, 119, 120, 777, 1999}) {
    const auto part = RegimeVix(std::vector<double>(full.begin(), full.begin() + n));
    for (size_t i = 0; i < n; ++i) REQUIRE(part[i] == all[i]);
  }
  bool seen[4] = {false, false, false, false};
  for (size_t i = 119; i < all.size(); ++i) {
    REQUIRE(all[i] >= 0);
    REQUIRE(all[i] <= 3);
    seen[all[i]] = true;
  }
  CHECK((seen[0] && seen[1] && seen[2] && seen[3]));
  std::vector<double> holed = full;
  holed[1000] = kNaN;
  const auto with_hole = RegimeVix(holed);
  CHECK(with_hole[999] == all[999]);
  CHECK(with_hole[1000] == -1);
  CHECK(with_hole[1000 + 119] == -1);  // the 100-bar average of volatility still sees the gap
  CHECK(with_hole[1001 + 119] >= 0);
}

}  // namespace
}  // namespace evolve::engines
