// ElasticNet / ordinary least squares on standardised features.
#include "linear.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "dataset.h"
#include "random.h"

namespace evolve::engines {
namespace {

// 12 rows x 3 features; the expected coefficients below are sklearn 1.2.1's
// ElasticNet(alpha, l1_ratio, tol=1e-14) on the standardised columns and
// LinearRegression on the raw ones.
Matrix SmallX() {
  return Matrix::FromRowMajor(12, 3, {0.5, 1.2,  -0.3, 1.5,  -0.7, 0.8,  -1.0, 0.3, 1.1,  2.0,  2.2,  -1.4,
                                      0.1, -1.5, 0.2,  -0.6, 0.9,  0.5,  1.1,  0.0, -0.9, -1.8, -0.4, 1.6,
                                      0.7, 1.7,  0.0,  -0.2, -2.1, -0.6, 1.3,  0.6, 1.9,  -0.9, -0.8, -1.2});
}
const std::vector<double> kSmallY = {1.9, 2.8, -1.1, 3.5, 0.9, -0.2, 2.4, -3.0, 1.6, 0.7, 2.2, -1.5};

TEST_CASE("elasticnet: one feature matches the closed form") {
  // x = 1..4, y = 2x: standardised x has sd sqrt(1.25); the update is
  // w = S(cov(z, y), alpha * l1) / (1 + alpha * (1 - l1)).
  const Matrix x = Matrix::FromRowMajor(4, 1, {1, 2, 3, 4});
  const std::vector<double> y = {2, 4, 6, 8};
  ElasticNetParams p;
  p.alpha = 1.0;
  p.l1_ratio = 0.5;
  auto m = ElasticNet::Fit(x, y, p);
  REQUIRE(m.ok());
  const double sd = std::sqrt(1.25);
  const double w = (2.0 * sd - 0.5) / 1.5;  // 1.15737865... (sklearn agrees)
  CHECK(m->standardized_coefficients()[0] == doctest::Approx(w).epsilon(1e-12));
  CHECK(m->coefficients()[0] == doctest::Approx(w / sd).epsilon(1e-12));
  CHECK(m->intercept() == doctest::Approx(5.0 - 2.5 * w / sd).epsilon(1e-12));
  CHECK(m->converged());
  const double row[1] = {2.5};
  CHECK(m->Predict(row) == doctest::Approx(5.0));  // the mean row predicts the mean target
  CHECK(m->CoefficientImportance()[0] == doctest::Approx(w));
}

TEST_CASE("elasticnet: matches sklearn on a small fixture") {
  const Matrix x = SmallX();
  struct Case {
    double alpha;
    double l1_ratio;
    double w[3];
  };
  for (const Case& c : {Case{0.1, 0.7, {1.699330469534, 0.0, -0.050908082294}},
                        Case{0.5, 0.2, {1.198968585263, 0.065264662611, -0.109827321220}},
                        Case{0.05, 1.0, {1.769640241036, 0.0, -0.053380867011}}}) {
    ElasticNetParams p;
    p.alpha = c.alpha;
    p.l1_ratio = c.l1_ratio;
    p.tol = 1e-14;
    p.max_iter = 100000;
    auto m = ElasticNet::Fit(x, kSmallY, p);
    REQUIRE(m.ok());
    CHECK(m->converged());
    for (size_t j = 0; j < 3; ++j) {
      CHECK_MESSAGE(std::fabs(m->standardized_coefficients()[j] - c.w[j]) < 1e-8,
                    "alpha " << c.alpha << " feature " << j);
    }
    // Lasso-like penalties set coefficients exactly to zero.
    if (c.w[1] == 0.0) CHECK(m->standardized_coefficients()[1] == 0.0);
  }
  // alpha = 0: ordinary least squares on the raw scale.
  ElasticNetParams ols;
  ols.alpha = 0.0;
  auto m = ElasticNet::Fit(x, kSmallY, ols);
  REQUIRE(m.ok());
  CHECK(m->coefficients()[0] == doctest::Approx(1.653245992824).epsilon(1e-9));
  CHECK(m->coefficients()[1] == doctest::Approx(-0.046778009049).epsilon(1e-9));
  CHECK(m->coefficients()[2] == doctest::Approx(-0.087517457074).epsilon(1e-9));
  CHECK(m->intercept() == doctest::Approx(0.495875392423).epsilon(1e-9));
  CHECK(m->iterations() == 0);
}

TEST_CASE("elasticnet: recovers known coefficients, zeroes noise under L1") {
  Rng rng(17);
  const size_t n = 2000;
  Matrix x(n, 5);
  std::vector<double> y(n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < 5; ++j) x.at(i, j) = rng.Normal() * (1.0 + static_cast<double>(j)) + 3.0;
    y[i] = 4.0 + 1.5 * x.at(i, 0) - 0.5 * x.at(i, 1) + 0.2 * x.at(i, 2) + 0.05 * rng.Normal();
  }
  ElasticNetParams p;
  p.alpha = 1e-6;
  p.l1_ratio = 0.5;
  p.tol = 1e-10;
  auto m = ElasticNet::Fit(x, y, p);
  REQUIRE(m.ok());
  CHECK(m->coefficients()[0] == doctest::Approx(1.5).epsilon(2e-3));
  CHECK(m->coefficients()[1] == doctest::Approx(-0.5).epsilon(2e-3));
  CHECK(m->coefficients()[2] == doctest::Approx(0.2).epsilon(5e-3));
  CHECK(std::fabs(m->coefficients()[3]) < 2e-3);
  CHECK(std::fabs(m->coefficients()[4]) < 2e-3);
  CHECK(m->intercept() == doctest::Approx(4.0).epsilon(5e-3));

  p.alpha = 0.05;
  p.l1_ratio = 1.0;
  auto lasso = ElasticNet::Fit(x, y, p);
  REQUIRE(lasso.ok());
  CHECK(lasso->coefficients()[3] == 0.0);
  CHECK(lasso->coefficients()[4] == 0.0);
  CHECK(lasso->coefficients()[0] > 1.0);

  // Ridge shrinks every coefficient but zeroes none.
  p.alpha = 1.0;
  p.l1_ratio = 0.0;
  auto ridge = ElasticNet::Fit(x, y, p);
  REQUIRE(ridge.ok());
  CHECK(std::fabs(ridge->standardized_coefficients()[0]) < std::fabs(m->standardized_coefficients()[0]));
  CHECK(ridge->standardized_coefficients()[3] != 0.0);
}

TEST_CASE("elasticnet: constant features get zero, bad input is refused") {
  Matrix x = SmallX();
  for (size_t i = 0; i < x.rows; ++i) x.at(i, 2) = 7.0;
  ElasticNetParams p;
  p.alpha = 0.0;
  auto m = ElasticNet::Fit(x, kSmallY, p);
  REQUIRE(m.ok());
  CHECK(m->coefficients()[2] == 0.0);
  p.alpha = 0.1;
  auto e = ElasticNet::Fit(x, kSmallY, p);
  REQUIRE(e.ok());
  CHECK(e->coefficients()[2] == 0.0);

  Matrix with_nan = SmallX();
  with_nan.at(4, 1) = std::nan("");
  CHECK(ElasticNet::Fit(with_nan, kSmallY, p).status().code() == StatusCode::kInvalidArgument);
  CHECK(ElasticNet::Fit(SmallX(), {1.0, 2.0}, p).status().code() == StatusCode::kInvalidArgument);
  p.l1_ratio = 1.5;
  CHECK(ElasticNet::Fit(SmallX(), kSmallY, p).status().message().find("l1_ratio") != std::string::npos);
  std::vector<double> out;
  CHECK(e->PredictBatch(Matrix(2, 2), &out).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("elasticnet: serialisation round-trips and rejects corrupt bytes") {
  ElasticNetParams p;
  p.alpha = 0.1;
  p.l1_ratio = 0.7;
  auto m = ElasticNet::Fit(SmallX(), kSmallY, p);
  REQUIRE(m.ok());
  std::string bytes;
  REQUIRE(m->Serialize(&bytes).ok());
  CHECK(bytes.substr(0, 4) == "EVEN");
  auto back = ElasticNet::Deserialize(bytes);
  REQUIRE(back.ok());
  std::vector<double> a;
  std::vector<double> b;
  REQUIRE(m->PredictBatch(SmallX(), &a).ok());
  REQUIRE(back->PredictBatch(SmallX(), &b).ok());
  CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
  CHECK(back->params().alpha == 0.1);
  CHECK(back->iterations() == m->iterations());
  for (size_t i = 0; i < SmallX().rows; ++i) {
    double row[3];
    for (size_t j = 0; j < 3; ++j) row[j] = SmallX().at(i, j);
    CHECK(m->Predict(row) == a[i]);
  }
  for (size_t len = 0; len < bytes.size(); len += 7) {
    CHECK(ElasticNet::Deserialize(std::string_view(bytes).substr(0, len)).status().code() ==
          StatusCode::kInvalidArgument);
  }
  std::string flipped = bytes;
  flipped[30] ^= 0x40;
  CHECK(ElasticNet::Deserialize(flipped).status().message().find("checksum") != std::string::npos);
  std::string forest_magic = bytes;
  forest_magic.replace(0, 4, "EVRF");
  CHECK(ElasticNet::Deserialize(forest_magic).status().message().find("bad magic") != std::string::npos);
}

TEST_CASE("elasticnet: hyperparameters from JSON") {
  auto p = ElasticNetParamsFromJson(R"({"alpha": 0.01, "l1_ratio": 0.9, "max_iter": 500, "tol": 1e-6})");
  REQUIRE(p.ok());
  CHECK(p->alpha == 0.01);
  CHECK(p->l1_ratio == 0.9);
  CHECK(p->max_iter == 500);
  CHECK(p->tol == 1e-6);
  auto d = ElasticNetParamsFromJson("{}");
  REQUIRE(d.ok());
  CHECK(d->alpha == 1.0);
  CHECK(d->l1_ratio == 0.5);
  auto unknown = ElasticNetParamsFromJson(R"({"alpha": 1, "n_estimators": 3})");
  CHECK(unknown.status().code() == StatusCode::kInvalidArgument);
  CHECK(unknown.status().message().find("n_estimators") != std::string::npos);
  CHECK(ElasticNetParamsFromJson(R"({"alpha": -1})").status().message().find("alpha") != std::string::npos);
  CHECK(ElasticNetParamsFromJson(R"({"l1_ratio": 2})").status().message().find("l1_ratio") !=
        std::string::npos);
  CHECK(ElasticNetParamsFromJson(R"({"max_iter": 0.5})").status().message().find("max_iter") !=
        std::string::npos);
  CHECK(ElasticNetParamsFromJson(R"({"tol": "small"})").status().message().find("tol") != std::string::npos);
  CHECK(ElasticNetParamsFromJson("not json").status().code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace evolve::engines
