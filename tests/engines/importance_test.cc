// Permutation importance: signed values, planted vs noise features, and the
// forest fast path against the generic predict-callback path.
#include "importance.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "dataset.h"
#include "forest.h"
#include "linear.h"
#include "random.h"

namespace evolve::engines {
namespace {

// y = 2 x0 + sin(3 x1) + x2 + noise; features 3..8 are pure noise.
void Planted(size_t rows, uint64_t seed, Matrix* x, std::vector<double>* y) {
  Rng rng(seed);
  *x = Matrix(rows, 9);
  y->resize(rows);
  for (size_t i = 0; i < rows; ++i) {
    for (size_t j = 0; j < 9; ++j) x->at(i, j) = rng.Normal();
    (*y)[i] = 2.0 * x->at(i, 0) + std::sin(3.0 * x->at(i, 1)) + x->at(i, 2) + 0.5 * rng.Normal();
  }
}

RandomForest FitForest(const Matrix& x, const std::vector<double>& y, MaxFeaturesRule rule) {
  ForestParams p;
  p.n_estimators = 25;
  p.max_depth = 7;
  p.min_samples_leaf = 5;
  p.max_features = 1.0;
  p.max_features_rule = rule;
  p.seed = 3;
  p.threads = 2;
  auto f = RandomForest::Fit(x, y, p);
  REQUIRE(f.ok());
  return std::move(f).value();
}

bool SameBits(const PermutationImportance& a, const PermutationImportance& b) {
  auto same = [](const std::vector<double>& u, const std::vector<double>& v) {
    return u.size() == v.size() && std::memcmp(u.data(), v.data(), u.size() * sizeof(double)) == 0;
  };
  if (std::memcmp(&a.baseline_mse, &b.baseline_mse, sizeof(double)) != 0) return false;
  if (!same(a.mean, b.mean) || !same(a.stdev, b.stdev) || a.deltas.size() != b.deltas.size()) return false;
  for (size_t j = 0; j < a.deltas.size(); ++j) {
    if (!same(a.deltas[j], b.deltas[j])) return false;
  }
  return true;
}

TEST_CASE("importance: PermutationFor is a seeded permutation") {
  std::vector<uint32_t> a;
  std::vector<uint32_t> b;
  std::vector<uint32_t> c;
  PermutationFor(1, 2, 3, 1000, &a);
  PermutationFor(1, 2, 3, 1000, &b);
  PermutationFor(1, 2, 4, 1000, &c);
  CHECK(a == b);
  CHECK(a != c);
  std::vector<uint32_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (uint32_t i = 0; i < 1000; ++i) REQUIRE(sorted[i] == i);
}

TEST_CASE("importance: planted features are positive, noise features scatter around zero") {
  Matrix x;
  Matrix xh;
  std::vector<double> y;
  std::vector<double> yh;
  Planted(3000, 1, &x, &y);
  Planted(1500, 2, &xh, &yh);
  const RandomForest forest = FitForest(x, y, MaxFeaturesRule::kFraction);
  PermutationOptions o;
  o.repeats = 5;
  o.seed = 9;
  auto imp = ForestPermutationImportance(forest, xh, yh, o);
  REQUIRE(imp.ok());
  REQUIRE(imp->mean.size() == 9);
  REQUIRE(imp->stdev.size() == 9);
  MESSAGE("baseline " << imp->baseline_mse);
  for (size_t j = 0; j < 9; ++j) MESSAGE("x" << j << " " << imp->mean[j] << " +- " << imp->stdev[j]);
  const double weakest_planted = std::min({imp->mean[0], imp->mean[1], imp->mean[2]});
  CHECK(weakest_planted > 0.1);
  CHECK(imp->mean[0] > imp->mean[2]);  // 2 x0 matters more than x2
  double noise_sum = 0.0;
  int non_positive = 0;
  for (size_t j = 3; j < 9; ++j) {
    CHECK(std::fabs(imp->mean[j]) < 0.05 * weakest_planted);
    noise_sum += imp->mean[j];
    non_positive += imp->mean[j] <= 0.0 ? 1 : 0;
  }
  CHECK(std::fabs(noise_sum / 6.0) < 0.01 * weakest_planted);
  CHECK(non_positive >= 1);  // signed: unused features can score <= 0
  // Repeats vary; the stdev is their spread.
  CHECK(imp->stdev[0] > 0.0);
  for (size_t j = 0; j < 9; ++j) CHECK(imp->deltas[j].size() == 5);
}

TEST_CASE("importance: the forest fast path equals the generic path bit for bit") {
  Matrix x;
  Matrix xh;
  std::vector<double> y;
  std::vector<double> yh;
  Planted(1500, 7, &x, &y);
  Planted(600, 8, &xh, &yh);
  // Missing values take the same path binned and raw.
  for (size_t i = 0; i < x.rows; i += 11) x.at(i, 1) = std::nan("");
  for (size_t i = 0; i < xh.rows; i += 13) xh.at(i, 1) = std::nan("");
  for (MaxFeaturesRule rule : {MaxFeaturesRule::kFraction, MaxFeaturesRule::kSqrt}) {
    const RandomForest forest = FitForest(x, y, rule);
    PermutationOptions o;
    o.repeats = 3;
    o.seed = 21;
    auto predict = [&forest](const Matrix& m, std::vector<double>* out) {
      return forest.PredictBatch(m, out);
    };
    auto generic = ComputePermutationImportance(predict, xh, yh, o);
    REQUIRE(generic.ok());
    for (int threads : {1, 2}) {
      o.threads = threads;
      auto fast = ForestPermutationImportance(forest, xh, yh, o);
      REQUIRE(fast.ok());
      CHECK(SameBits(*fast, *generic));
    }
    o.seed = 22;
    auto reseeded = ForestPermutationImportance(forest, xh, yh, o);
    REQUIRE(reseeded.ok());
    CHECK_FALSE(SameBits(*reseeded, *generic));
    CHECK(reseeded->baseline_mse == generic->baseline_mse);
  }
}

TEST_CASE("importance: the generic path works for a linear model") {
  // y = 2 x0 - x1 + noise: permuting x_j raises the MSE by about
  // 2 * coef_j^2 * var(x_j) (the prediction loses coef_j x_j and gains an
  // independent copy).
  Rng rng(5);
  Matrix x(4000, 4);
  std::vector<double> y(4000);
  for (size_t i = 0; i < x.rows; ++i) {
    for (size_t j = 0; j < 4; ++j) x.at(i, j) = rng.Normal();
    y[i] = 2.0 * x.at(i, 0) - x.at(i, 1) + 0.3 * rng.Normal();
  }
  ElasticNetParams p;
  p.alpha = 0.0;
  auto model = ElasticNet::Fit(x, y, p);
  REQUIRE(model.ok());
  PermutationOptions o;
  auto predict = [&model](const Matrix& m, std::vector<double>* out) { return model->PredictBatch(m, out); };
  auto imp = ComputePermutationImportance(predict, x, y, o);
  REQUIRE(imp.ok());
  CHECK(imp->mean[0] == doctest::Approx(8.0).epsilon(0.1));
  CHECK(imp->mean[1] == doctest::Approx(2.0).epsilon(0.1));
  CHECK(std::fabs(imp->mean[2]) < 0.01);
  CHECK(std::fabs(imp->mean[3]) < 0.01);
}

TEST_CASE("importance: bad input and predict errors are reported") {
  Matrix x;
  std::vector<double> y;
  Planted(300, 1, &x, &y);
  const RandomForest forest = FitForest(x, y, MaxFeaturesRule::kFraction);
  PermutationOptions o;
  o.repeats = 0;
  CHECK(ForestPermutationImportance(forest, x, y, o).status().code() == StatusCode::kInvalidArgument);
  o.repeats = 2;
  std::vector<double> short_y(y.begin(), y.begin() + 10);
  CHECK(ForestPermutationImportance(forest, x, short_y, o).status().code() == StatusCode::kInvalidArgument);
  CHECK(ForestPermutationImportance(forest, Matrix(10, 3), std::vector<double>(10, 0.0), o).status().code() ==
        StatusCode::kInvalidArgument);
  std::vector<double> nan_y = y;
  nan_y[0] = std::nan("");
  CHECK(ForestPermutationImportance(forest, x, nan_y, o).status().code() == StatusCode::kInvalidArgument);

  auto wrong_size = [](const Matrix&, std::vector<double>* out) {
    out->assign(3, 0.0);
    return Status::Ok();
  };
  CHECK(ComputePermutationImportance(wrong_size, x, y, o).status().code() == StatusCode::kInvalidArgument);
  int calls = 0;
  auto failing = [&calls](const Matrix& m, std::vector<double>* out) {
    if (++calls > 2) return UnavailableError("model server down");
    out->assign(m.rows, 0.0);
    return Status::Ok();
  };
  auto r = ComputePermutationImportance(failing, x, y, o);
  CHECK(r.status().code() == StatusCode::kUnavailable);
  CHECK(calls == 3);
}

}  // namespace
}  // namespace evolve::engines
