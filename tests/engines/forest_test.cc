// The histogram random forest and the quantile binner: learning, limits,
// determinism across thread counts, serialisation, hyperparameter JSON.
#include "forest.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "dataset.h"
#include "engines/test_data.h"
#include "serialize.h"
#include "linear.h"
#include "random.h"

namespace evolve::engines {
namespace {

// y = 2 x0 - x1^2 + noise, with 8 pure-noise features.
void Planted(size_t rows, uint64_t seed, Matrix* x, std::vector<double>* y) {
  Rng rng(seed);
  *x = Matrix(rows, 10);
  y->resize(rows);
  for (size_t i = 0; i < rows; ++i) {
    for (size_t j = 0; j < 10; ++j) x->at(i, j) = rng.Normal();
    (*y)[i] = 2.0 * x->at(i, 0) - x->at(i, 1) * x->at(i, 1) + 0.3 * rng.Normal();
  }
}

ForestParams SmallParams() {
  ForestParams p;
  p.n_estimators = 30;
  p.max_depth = 8;
  p.min_samples_leaf = 5;
  p.max_features = 1.0;
  p.seed = 42;
  p.threads = 2;
  return p;
}

bool SameTrees(const RandomForest& a, const RandomForest& b) {
  if (a.num_trees() != b.num_trees() || a.leaf_scale() != b.leaf_scale()) return false;
  for (size_t t = 0; t < a.num_trees(); ++t) {
    const auto& na = a.trees()[t].nodes;
    const auto& nb = b.trees()[t].nodes;
    if (na.size() != nb.size()) return false;
    for (size_t i = 0; i < na.size(); ++i) {
      if (na[i].feature != nb[i].feature || na[i].left != nb[i].left || na[i].bin != nb[i].bin ||
          na[i].value != nb[i].value ||
          std::memcmp(&na[i].threshold, &nb[i].threshold, sizeof(double)) != 0) {
        return false;
      }
    }
  }
  return true;
}

int Depth(const std::vector<ForestNode>& nodes, int32_t i) {
  if (nodes[static_cast<size_t>(i)].feature < 0) return 0;
  const int32_t l = nodes[static_cast<size_t>(i)].left;
  return 1 + std::max(Depth(nodes, l), Depth(nodes, l + 1));
}

TEST_CASE("binner: midpoints for few values, quantiles for many, NaN to bin 0") {
  Matrix x(10000, 3);
  Rng rng(3);
  for (size_t i = 0; i < x.rows; ++i) {
    x.at(i, 0) = static_cast<double>(i % 4);  // 4 distinct values
    x.at(i, 1) = rng.Uniform();               // continuous
    x.at(i, 2) = 5.0;                         // constant
  }
  x.at(7, 1) = std::nan("");
  auto binner = Binner::Fit(x, 16);
  REQUIRE(binner.ok());
  CHECK(binner->edges(0) == std::vector<double>{0.5, 1.5, 2.5});
  CHECK(binner->num_bins(0) == 4);
  CHECK(binner->num_bins(1) == 16);
  CHECK(binner->num_bins(2) == 1);
  for (size_t k = 1; k < binner->edges(1).size(); ++k) CHECK(binner->edges(1)[k] > binner->edges(1)[k - 1]);

  const BinnedMatrix b = binner->Transform(x, 2);
  std::vector<int> per_bin(16, 0);
  for (size_t i = 0; i < x.rows; ++i) {
    for (size_t j = 0; j < 3; ++j) REQUIRE(b.at(i, j) == binner->Bin(j, x.at(i, j)));
    ++per_bin[b.at(i, 1)];
  }
  // Equal-frequency bins (the NaN row is in bin 0 as well).
  for (int c : per_bin) CHECK(std::abs(c - 625) <= 5);
  CHECK(binner->Bin(1, std::nan("")) == 0);
  CHECK(binner->Bin(0, -1e300) == 0);
  CHECK(binner->Bin(0, 0.5) == 0);  // value <= edge goes to that bin
  CHECK(binner->Bin(0, 0.5000001) == 1);
  CHECK(binner->Bin(0, std::numeric_limits<double>::infinity()) == 3);

  CHECK(Binner::Fit(x, 1).status().code() == StatusCode::kInvalidArgument);
  CHECK(Binner::Fit(x, 257).status().code() == StatusCode::kInvalidArgument);
  CHECK(Binner::Fit(Matrix(), 16).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("forest: learns a planted nonlinear signal better than a linear model") {
  Matrix x;
  Matrix xh;
  std::vector<double> y;
  std::vector<double> yh;
  Planted(3000, 1, &x, &y);
  Planted(1000, 2, &xh, &yh);
  auto forest = RandomForest::Fit(x, y, SmallParams());
  REQUIRE(forest.ok());
  std::vector<double> pred;
  REQUIRE(forest->PredictBatch(xh, &pred).ok());
  const double r2 = R2(yh, pred);

  ElasticNetParams lp;
  lp.alpha = 0.0;
  auto linear = ElasticNet::Fit(x, y, lp);
  REQUIRE(linear.ok());
  std::vector<double> lpred;
  REQUIRE(linear->PredictBatch(xh, &lpred).ok());
  const double linear_r2 = R2(yh, lpred);
  MESSAGE("forest R2 " << r2 << ", linear R2 " << linear_r2);
  CHECK(r2 > 0.8);
  CHECK(r2 > linear_r2 + 0.1);

  // Predict and PredictBatch agree bit for bit.
  for (size_t i = 0; i < 20; ++i) {
    double row[10];
    for (size_t j = 0; j < 10; ++j) row[j] = xh.at(i, j);
    CHECK(forest->Predict(row) == pred[i]);
  }

  // The planted features carry the impurity decrease.
  const std::vector<double>& imp = forest->ImpurityImportance();
  REQUIRE(imp.size() == 10);
  double total = 0.0;
  for (double v : imp) {
    CHECK(v >= 0.0);
    total += v;
  }
  CHECK(total == doctest::Approx(1.0));
  CHECK(imp[0] + imp[1] > 0.9);
  for (size_t j = 2; j < 10; ++j) CHECK(imp[j] < imp[1]);
}

TEST_CASE("forest: bitwise identical for 1 and 2 threads, different for another seed") {
  Matrix x;
  std::vector<double> y;
  Planted(1500, 5, &x, &y);
  for (MaxFeaturesRule rule : {MaxFeaturesRule::kFraction, MaxFeaturesRule::kSqrt}) {
    ForestParams p = SmallParams();
    p.max_features_rule = rule;
    p.threads = 1;
    auto one = RandomForest::Fit(x, y, p);
    p.threads = 2;
    auto two = RandomForest::Fit(x, y, p);
    p.seed = 43;
    auto other = RandomForest::Fit(x, y, p);
    REQUIRE(one.ok());
    REQUIRE(two.ok());
    REQUIRE(other.ok());
    CHECK(SameTrees(*one, *two));
    CHECK_FALSE(SameTrees(*one, *other));
    std::vector<double> p1;
    std::vector<double> p2;
    REQUIRE(one->PredictBatch(x, &p1, 1).ok());
    REQUIRE(two->PredictBatch(x, &p2, 2).ok());
    CHECK(std::memcmp(p1.data(), p2.data(), p1.size() * sizeof(double)) == 0);
    CHECK(one->ImpurityImportance() == two->ImpurityImportance());
  }
}

TEST_CASE("forest: max_depth and min_samples_leaf are respected") {
  Matrix x;
  std::vector<double> y;
  Planted(800, 9, &x, &y);
  ForestParams p = SmallParams();
  p.n_estimators = 5;
  p.max_depth = 4;
  p.min_samples_leaf = 25;
  p.bootstrap = false;  // every training row is in every tree
  auto forest = RandomForest::Fit(x, y, p);
  REQUIRE(forest.ok());
  const BinnedMatrix codes = forest->binner().Transform(x);
  for (const ForestTree& tree : forest->trees()) {
    CHECK(Depth(tree.nodes, 0) <= 4);
    CHECK(Depth(tree.nodes, 0) >= 3);  // the signal is worth splitting
    std::vector<int> rows_in(tree.nodes.size(), 0);
    for (size_t i = 0; i < x.rows; ++i) {
      int32_t m = 0;
      while (tree.nodes[static_cast<size_t>(m)].feature >= 0) {
        const ForestNode& n = tree.nodes[static_cast<size_t>(m)];
        m = n.left + (codes.at(i, static_cast<size_t>(n.feature)) > n.bin ? 1 : 0);
      }
      ++rows_in[static_cast<size_t>(m)];
    }
    for (size_t m = 0; m < tree.nodes.size(); ++m) {
      if (tree.nodes[m].feature < 0) CHECK(rows_in[m] >= 25);
    }
  }
  // Unlimited depth and subsampling without replacement work too.
  p.max_depth = -1;
  p.min_samples_leaf = 1;
  p.max_samples = 0.5;
  auto deep = RandomForest::Fit(x, y, p);
  REQUIRE(deep.ok());
  CHECK(Depth(deep->trees()[0].nodes, 0) > 8);
}

TEST_CASE("forest: a constant target gives single-leaf trees predicting it") {
  Matrix x;
  std::vector<double> y;
  Planted(300, 4, &x, &y);
  for (double& v : y) v = 0.125;
  auto forest = RandomForest::Fit(x, y, SmallParams());
  REQUIRE(forest.ok());
  for (const ForestTree& t : forest->trees()) CHECK(t.nodes.size() == 1);
  double row[10] = {};
  CHECK(forest->Predict(row) == 0.125);
  for (double v : forest->ImpurityImportance()) CHECK(v == 0.0);
}

TEST_CASE("forest: NaN goes left, like a value below every threshold") {
  Matrix x;
  std::vector<double> y;
  Planted(1200, 11, &x, &y);
  for (size_t i = 0; i < x.rows; i += 7) x.at(i, 0) = std::nan("");
  auto forest = RandomForest::Fit(x, y, SmallParams());
  REQUIRE(forest.ok());
  double row[10] = {0.3, -0.2, 0.1, 0, 0, 0, 0, 0, 0, 0};
  row[0] = std::nan("");
  const double with_nan = forest->Predict(row);
  row[0] = -std::numeric_limits<double>::infinity();
  CHECK(forest->Predict(row) == with_nan);
  CHECK(std::isfinite(with_nan));
}

TEST_CASE("forest: serialisation round-trips and rejects corrupt bytes") {
  Matrix x;
  std::vector<double> y;
  Planted(1000, 21, &x, &y);
  ForestParams p = SmallParams();
  p.n_estimators = 8;
  auto forest = RandomForest::Fit(x, y, p);
  REQUIRE(forest.ok());
  std::string bytes;
  REQUIRE(forest->Serialize(&bytes).ok());
  CHECK(bytes.substr(0, 4) == "EVRF");

  auto back = RandomForest::Deserialize(bytes);
  REQUIRE(back.ok());
  CHECK(SameTrees(*forest, *back));
  std::vector<double> a;
  std::vector<double> b;
  REQUIRE(forest->PredictBatch(x, &a).ok());
  REQUIRE(back->PredictBatch(x, &b).ok());
  CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
  CHECK(back->ImpurityImportance() == forest->ImpurityImportance());
  CHECK(back->params().n_estimators == 8);
  std::string again;
  REQUIRE(back->Serialize(&again).ok());
  CHECK(again == bytes);

  // Truncations at many lengths, a flipped byte, a wrong magic, a newer
  // version: all kInvalidArgument with a message, none crash.
  for (size_t len : {size_t{0}, size_t{3}, size_t{4}, size_t{11}, size_t{20}, bytes.size() / 2,
                     bytes.size() - 9, bytes.size() - 1}) {
    auto r = RandomForest::Deserialize(std::string_view(bytes).substr(0, len));
    CHECK_MESSAGE(r.status().code() == StatusCode::kInvalidArgument, "length " << len);
  }
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x01;
  CHECK(RandomForest::Deserialize(flipped).status().message().find("checksum") != std::string::npos);
  std::string magic = bytes;
  magic[0] = 'X';
  CHECK(RandomForest::Deserialize(magic).status().message().find("bad magic") != std::string::npos);
  std::string version = bytes;
  version[4] = 2;
  CHECK(RandomForest::Deserialize(version).status().message().find("unsupported format version 2") !=
        std::string::npos);
}

TEST_CASE("forest: structurally invalid models are rejected even with a valid checksum") {
  // One feature, one tree whose root points at itself.
  auto build = [](int32_t left, uint8_t bin, double threshold) {
    BinaryWriter w;
    w.U64(1);            // features
    w.I32(1);            // n_estimators
    w.I32(8);            // max_depth
    w.I32(1);            // min_samples_leaf
    w.F64(1.0);          // max_features
    w.U8(0);             // rule
    w.Bool(true);        // bootstrap
    w.F64(1.0);          // max_samples
    w.U64(1);            // seed
    w.I32(0);            // threads
    w.I32(256);          // max_bins
    w.U64(1);            // binner: 1 feature
    w.F64Vector({0.5});  // its edges
    w.F64(1.0);          // scale
    w.F64Vector({1.0});  // importance
    w.U64(1);            // trees
    w.U64(3);            // nodes
    w.I32(0);            // root: feature 0
    w.I32(left);
    w.U8(bin);
    w.F64(threshold);
    w.I32(-1);
    w.I64(1);  // leaf
    w.I32(-1);
    w.I64(2);  // leaf
    return WriteEnvelope("EVRF", RandomForest::kFormatVersion, w.bytes());
  };
  auto good = RandomForest::Deserialize(build(1, 0, 0.5));
  REQUIRE(good.ok());
  double lo[1] = {0.1};
  double hi[1] = {0.9};
  CHECK(good->Predict(lo) == 1.0);
  CHECK(good->Predict(hi) == 2.0);
  CHECK(RandomForest::Deserialize(build(0, 0, 0.5)).status().message().find("corrupt") != std::string::npos);
  CHECK(RandomForest::Deserialize(build(2, 0, 0.5)).status().code() == StatusCode::kInvalidArgument);
  CHECK(RandomForest::Deserialize(build(1, 1, 0.5)).status().code() == StatusCode::kInvalidArgument);
  CHECK(RandomForest::Deserialize(build(1, 0, 0.4)).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("forest: bad input is refused") {
  Matrix x;
  std::vector<double> y;
  Planted(100, 1, &x, &y);
  std::vector<double> short_y(y.begin(), y.end() - 1);
  CHECK(RandomForest::Fit(x, short_y, SmallParams()).status().code() == StatusCode::kInvalidArgument);
  std::vector<double> nan_y = y;
  nan_y[3] = std::nan("");
  CHECK(RandomForest::Fit(x, nan_y, SmallParams()).status().code() == StatusCode::kInvalidArgument);
  ForestParams bad = SmallParams();
  bad.max_features = 0.0;
  CHECK(RandomForest::Fit(x, y, bad).status().message().find("max_features") != std::string::npos);
  bad = SmallParams();
  bad.max_depth = 0;
  CHECK(RandomForest::Fit(x, y, bad).status().message().find("max_depth") != std::string::npos);
  auto forest = RandomForest::Fit(x, y, SmallParams());
  REQUIRE(forest.ok());
  std::vector<double> out;
  CHECK(forest->PredictBatch(Matrix(3, 4), &out).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("forest: hyperparameters from JSON") {
  auto p = ForestParamsFromJson(
      R"({"n_estimators": 50, "max_depth": null, "min_samples_leaf": 3, "max_features": "sqrt",
          "bootstrap": false, "max_samples": 0.5, "random_state": 7, "n_jobs": -1, "max_bins": 64,
          "criterion": "squared_error"})");
  REQUIRE(p.ok());
  CHECK(p->n_estimators == 50);
  CHECK(p->max_depth == -1);
  CHECK(p->min_samples_leaf == 3);
  CHECK(p->max_features_rule == MaxFeaturesRule::kSqrt);
  CHECK(p->FeaturesPerSplit(30) == 5);
  CHECK_FALSE(p->bootstrap);
  CHECK(p->max_samples == 0.5);
  CHECK(p->seed == 7);
  CHECK(p->threads == 0);
  CHECK(p->max_bins == 64);

  auto defaults = ForestParamsFromJson("{}");
  REQUIRE(defaults.ok());
  CHECK(defaults->n_estimators == 100);
  CHECK(defaults->FeaturesPerSplit(30) == 10);

  auto fraction =
      ForestParamsFromJson(R"({"max_features": 0.5, "seed": 3, "threads": 2, "max_depth": 12.0})");
  REQUIRE(fraction.ok());
  CHECK(fraction->FeaturesPerSplit(30) == 15);
  CHECK(fraction->seed == 3);
  CHECK(fraction->threads == 2);
  CHECK(fraction->max_depth == 12);
  CHECK(ForestParamsFromJson(R"({"max_features": "log2"})")->FeaturesPerSplit(30) == 4);
  CHECK(ForestParamsFromJson(R"({"max_features": null})")->FeaturesPerSplit(30) == 30);
  CHECK(ForestParamsFromJson(R"({"max_features": "all"})")->FeaturesPerSplit(30) == 30);

  auto unknown = ForestParamsFromJson(R"({"n_estimators": 10, "learning_rate": 0.1})");
  CHECK(unknown.status().code() == StatusCode::kInvalidArgument);
  CHECK(unknown.status().message().find("learning_rate") != std::string::npos);
  struct Bad {
    const char* json;
    const char* names;
  };
  for (const Bad& b :
       {Bad{R"({"n_estimators": 0})", "n_estimators"}, Bad{R"({"n_estimators": 2.5})", "n_estimators"},
        Bad{R"({"max_depth": "deep"})", "max_depth"}, Bad{R"({"max_features": 1.5})", "max_features"},
        Bad{R"({"max_features": "half"})", "max_features"}, Bad{R"({"bootstrap": 1})", "bootstrap"},
        Bad{R"({"max_samples": 0})", "max_samples"}, Bad{R"({"random_state": -1})", "random_state"},
        Bad{R"({"seed": 1, "random_state": 1})", "random_state"}, Bad{R"({"max_bins": 512})", "max_bins"},
        Bad{R"({"criterion": "friedman_mse"})", "criterion"}, Bad{R"([1, 2])", "object"},
        Bad{R"({"n_estimators": )", "invalid JSON"}}) {
    auto r = ForestParamsFromJson(b.json);
    CHECK_MESSAGE(r.status().code() == StatusCode::kInvalidArgument, b.json);
    CHECK_MESSAGE(r.status().message().find(b.names) != std::string::npos, r.status().message());
  }
}

}  // namespace
}  // namespace evolve::engines
