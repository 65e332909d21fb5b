// The built-in engines' artifact format (model_artifact.h), the contract
// between the built-in trainer and simulator: both artifacts round-trip
// every field; a format 1 model still reads; an unknown version, another
// artifact's bytes, truncated bytes and corrupt bytes are refused with an
// error that says which, never a crash.
#include "model_artifact.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "evolve/clock.h"
#include "serialize.h"
#include "evolve/testing/fake_store.h"

namespace evolve::engines {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

BuiltinModel SampleModel() {
  BuiltinModel m;
  m.spec.symbol = "TTRC";
  m.spec.algorithm = "random_forest_regressor";
  m.spec.features = {"sma_20", "rsi_14"};
  m.spec.hyperparameters = R"({"n_estimators":10})";
  m.scheme = WalkForward{300, 50, 6};
  m.simdata_key = "simdata/abc";
  m.first_prediction = 2;
  m.scored_start = 3;
  m.holdout_start = 5;
  m.prediction = {kNaN, kNaN, 0.01, -0.02, 0.0, 1e-300, -0.5};
  m.importance.importance_type = "permutation";
  m.importance.importances = {{"sma_20", 0.25}, {"rsi_14", -0.125}};
  m.metrics = {{"refits", 3}, {"oos_r2", -0.001}};
  m.final_model = std::string("EVRF\0\x01 model bytes", 18);
  return m;
}

SimData SampleSimData() {
  SimData d;
  d.time = {-86400, 0, 86400, 1700000000};
  d.open = {1.0, 2.5, 3.0, 4.0};
  d.close = {1.5, 2.0, 3.5, 4.25};
  d.regimes["regime_gmm"] = {-1, 0, 1, 1};
  d.regimes["regime_vix"] = {-1, 3, 2, 0};
  return d;
}

// The payload of an encoded artifact (its envelope checked).
std::string PayloadOf(const std::string& bytes, const char* magic, uint32_t version) {
  auto envelope = ReadEnvelope(bytes, magic, version, "test");
  REQUIRE(envelope.ok());
  return std::string(envelope->payload);
}

TEST_CASE("model artifact: a model round-trips every field") {
  const BuiltinModel m = SampleModel();
  const std::string bytes = EncodeModel(m);
  CHECK(bytes.substr(0, 4) == "EVMB");
  auto back = DecodeModel(bytes);
  REQUIRE(back.ok());
  CHECK(back->spec == m.spec);
  CHECK(back->scheme.train_window == 300);
  CHECK(back->scheme.test_window == 50);
  CHECK(back->scheme.refit_every == 6);
  CHECK(back->simdata_key == m.simdata_key);
  CHECK(back->first_prediction == 2);
  CHECK(back->scored_start == 3);
  CHECK(back->holdout_start == 5);
  REQUIRE(back->prediction.size() == m.prediction.size());
  for (size_t i = 0; i < m.prediction.size(); ++i) {
    CHECK(std::isnan(back->prediction[i]) == std::isnan(m.prediction[i]));
    if (!std::isnan(m.prediction[i])) CHECK(back->prediction[i] == m.prediction[i]);
  }
  CHECK(back->importance.importance_type == "permutation");
  REQUIRE(back->importance.importances.size() == 2);
  CHECK(back->importance.importances[1].feature == "rsi_14");
  CHECK(back->importance.importances[1].importance == -0.125);
  CHECK(back->metrics == m.metrics);
  CHECK(back->final_model == m.final_model);
  // Encoding is deterministic: the same model gives the same bytes.
  CHECK(EncodeModel(*back) == bytes);
}

TEST_CASE("model artifact: simulation data round-trips every column") {
  const SimData d = SampleSimData();
  const std::string bytes = EncodeSimData(d);
  CHECK(bytes.substr(0, 4) == "EVSD");
  auto back = DecodeSimData(bytes);
  REQUIRE(back.ok());
  CHECK(back->time == d.time);
  CHECK(back->open == d.open);
  CHECK(back->close == d.close);
  CHECK(back->regimes == d.regimes);
  CHECK(EncodeSimData(*back) == bytes);
}

TEST_CASE("model artifact: a format 1 model reads as scoring everything from its first prediction") {
  // Format 1 is format 2 without the two split fields at the end.
  std::string payload = PayloadOf(EncodeModel(SampleModel()), kModelMagic, kModelFormat);
  payload.resize(payload.size() - 16);
  auto back = DecodeModel(WriteEnvelope(kModelMagic, 1, payload));
  REQUIRE(back.ok());
  CHECK(back->first_prediction == 2);
  CHECK(back->scored_start == 2);
  CHECK(back->holdout_start == back->prediction.size());
  CHECK(back->final_model == SampleModel().final_model);
}

TEST_CASE("model artifact: an unknown format version is refused") {
  const std::string payload = PayloadOf(EncodeModel(SampleModel()), kModelMagic, kModelFormat);
  auto model = DecodeModel(WriteEnvelope(kModelMagic, kModelFormat + 1, payload));
  REQUIRE_FALSE(model.ok());
  CHECK(model.status().code() == StatusCode::kInvalidArgument);
  CHECK(model.status().message().find("built-in model") != std::string::npos);
  CHECK(model.status().message().find("unsupported format version 3") != std::string::npos);
  CHECK_FALSE(DecodeModel(WriteEnvelope(kModelMagic, 0, payload)).ok());

  const std::string sim = PayloadOf(EncodeSimData(SampleSimData()), kSimDataMagic, kSimDataFormat);
  auto data = DecodeSimData(WriteEnvelope(kSimDataMagic, kSimDataFormat + 1, sim));
  REQUIRE_FALSE(data.ok());
  CHECK(data.status().message().find("simulation data") != std::string::npos);
  CHECK(data.status().message().find("unsupported format version 2") != std::string::npos);
}

TEST_CASE("model artifact: one artifact's bytes are not the other's") {
  auto model = DecodeModel(EncodeSimData(SampleSimData()));
  REQUIRE_FALSE(model.ok());
  CHECK(model.status().message().find("bad magic") != std::string::npos);
  auto data = DecodeSimData(EncodeModel(SampleModel()));
  REQUIRE_FALSE(data.ok());
  CHECK(data.status().message().find("bad magic") != std::string::npos);
  CHECK_FALSE(DecodeModel("").ok());
}

TEST_CASE("model artifact: every truncation is refused, none crashes") {
  for (const std::string& bytes : {EncodeModel(SampleModel()), EncodeSimData(SampleSimData())}) {
    const bool model = bytes.substr(0, 4) == "EVMB";
    for (size_t n = 0; n < bytes.size(); ++n) {
      const std::string cut = bytes.substr(0, n);
      const Status s = model ? DecodeModel(cut).status() : DecodeSimData(cut).status();
      REQUIRE_FALSE(s.ok());
      CHECK(s.code() == StatusCode::kInvalidArgument);
    }
  }
  auto cut = DecodeModel(EncodeModel(SampleModel()).substr(0, 40));
  REQUIRE_FALSE(cut.ok());
  CHECK(cut.status().message().find("truncated") != std::string::npos);
}

TEST_CASE("model artifact: corrupt bytes are refused with what is wrong") {
  SUBCASE("a flipped payload byte fails the checksum") {
    std::string bytes = EncodeModel(SampleModel());
    bytes[30] = static_cast<char>(bytes[30] ^ 0x10);
    auto model = DecodeModel(bytes);
    REQUIRE_FALSE(model.ok());
    CHECK(model.status().message().find("checksum mismatch") != std::string::npos);
  }
  SUBCASE("a payload cut short behind a valid checksum") {
    std::string payload = PayloadOf(EncodeModel(SampleModel()), kModelMagic, kModelFormat);
    payload.resize(payload.size() - 4);
    auto model = DecodeModel(WriteEnvelope(kModelMagic, kModelFormat, payload));
    REQUIRE_FALSE(model.ok());
    CHECK(model.status().message().find("truncated") != std::string::npos);
  }
  SUBCASE("bytes left over after the last field") {
    const std::string payload = PayloadOf(EncodeSimData(SampleSimData()), kSimDataMagic, kSimDataFormat);
    auto data = DecodeSimData(WriteEnvelope(kSimDataMagic, kSimDataFormat, payload + "x"));
    REQUIRE_FALSE(data.ok());
    CHECK(data.status().message().find("trailing bytes") != std::string::npos);
  }
  SUBCASE("a split outside the predictions") {
    BuiltinModel m = SampleModel();
    m.holdout_start = m.prediction.size() + 1;
    auto model = DecodeModel(EncodeModel(m));
    REQUIRE_FALSE(model.ok());
    CHECK(model.status().message() == "model artifact: corrupt prediction span");
    m = SampleModel();
    m.scored_start = m.first_prediction - 1;
    CHECK_FALSE(DecodeModel(EncodeModel(m)).ok());
  }
  SUBCASE("simulation data columns of different lengths") {
    SimData d = SampleSimData();
    d.close.pop_back();
    auto data = DecodeSimData(EncodeSimData(d));
    REQUIRE_FALSE(data.ok());
    CHECK(data.status().message() == "simulation data: columns of different lengths");
  }
}

TEST_CASE("model artifact: LoadModel names the model, and a missing one is not found") {
  testing::FakeStore store(*RealClock());
  auto missing = LoadModel(store, "mdl_none");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kNotFound);
  CHECK(missing.status().message().find("mdl_none is not a model of the built-in trainer") !=
        std::string::npos);

  REQUIRE(store.PutArtifact(ModelKey("mdl_a"), EncodeModel(SampleModel())).ok());
  auto loaded = LoadModel(store, "mdl_a");
  REQUIRE(loaded.ok());
  CHECK(loaded->importance.model_id == "mdl_a");
  CHECK(ModelKey("mdl_a") == "model/mdl_a");

  REQUIRE(store.PutArtifact(ModelKey("mdl_bad"), "EVMB garbage").ok());
  auto bad = LoadModel(store, "mdl_bad");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message().find("model mdl_bad") != std::string::npos);
}

}  // namespace
}  // namespace evolve::engines
