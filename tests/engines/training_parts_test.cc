// Training in parts (Trainer::PlanTraining, TrainPart, AssembleModel; docs/
// engines.md, "Training in parts"): the parts give the model Train gives,
// bit for bit, for any number of parts and threads; a worker with no data
// directory assembles it from the store alone; a part is deterministic; the
// artifacts a plan stores and the outputs an assembly reads are checked.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "bars_artifacts.h"
#include "engines/scratch_dir.h"
#include "evolve/clock.h"
#include "evolve/engines/bar_source.h"
#include "evolve/engines/bars.h"
#include "evolve/engines/builtin.h"
#include "evolve/engines/synthetic.h"
#include "evolve/testing/fake_store.h"
#include "model_artifact.h"

namespace evolve::engines {
namespace {

// An in-memory ArtifactStore whose blobs a test can count, erase and
// overwrite (a store that lost or damaged an artifact).
class EditableArtifacts final : public ArtifactStore {
 public:
  Status PutArtifact(const std::string& key, const std::string& bytes) override {
    if (key.empty()) return InvalidArgumentError("empty key");
    std::lock_guard<std::mutex> lock(mu_);
    ++puts_;
    blobs_.emplace(key, bytes);
    return Status::Ok();
  }
  Result<std::string> GetArtifact(const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = blobs_.find(key);
    if (it == blobs_.end()) return NotFoundError("no artifact " + key);
    return it->second;
  }
  void Erase(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    blobs_.erase(key);
  }
  void Overwrite(const std::string& key, const std::string& bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    blobs_[key] = bytes;
  }
  std::vector<std::string> Keys() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> keys;
    for (const auto& [key, bytes] : blobs_) keys.push_back(key);
    return keys;
  }
  int puts() {
    std::lock_guard<std::mutex> lock(mu_);
    return puts_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> blobs_;
  int puts_ = 0;
};

// Synthetic daily bars of SYN (with a planted signal) and MKT in a scratch
// directory.
struct Data {
  TempDir dir;
  std::shared_ptr<BarSource> bars;
  explicit Data(size_t n = 1500) {
    SyntheticOptions o;
    o.symbols = {"SYN", "MKT"};
    o.bars = n;
    o.signal_strength = 0.3;
    o.seed = 23;
    for (auto& [symbol, b] : GenerateSyntheticBars(o)) WriteBars(dir.path, b);
    bars = std::make_shared<BarSource>(dir.path.string());
  }
};

// Spans of 200 bars on 1500 bars: 6 or so, with a selection span and a
// holdout, and a reference symbol (the market of the regimes).
ModelSpec Spec(const std::string& algorithm = "RandomForest") {
  ModelSpec spec;
  spec.symbol = "SYN";
  spec.timeframe = "1d";
  spec.algorithm = algorithm;
  spec.features = {"ibs", "rsi_14", "return_1", "mkt_return_1", "atr_14", "day_of_week"};
  spec.reference_symbols = {"MKT"};
  spec.hyperparameters =
      algorithm == "RandomForest"
          ? R"({"n_estimators": 20, "max_depth": 5, "min_samples_leaf": 10, "random_state": 5})"
          : "{}";
  spec.data_options = R"({"train_window": 200, "test_window": 50})";
  spec.split.selection_fraction = 0.3;
  spec.split.holdout_fraction = 0.2;
  spec.parent_model_id = "mdl_parent";
  return spec;
}

BuiltinOptions Options(int threads, int parts) {
  BuiltinOptions options;
  options.threads = threads;
  options.training_parts = parts;
  options.importance_repeats = 3;
  return options;
}

// The task of part `part` of `plan` (or the assembly's, part_outputs set).
TrainingTask Task(const ModelSpec& spec, const TrainingPlan& plan, int part = 0) {
  TrainingTask task;
  task.spec = spec;
  task.parts = plan.parts;
  task.inputs = plan.inputs;
  task.part = part;
  return task;
}

// Every part of `plan` by `worker` (in reverse order: order must not
// matter), then the assembly task with their outputs.
TrainingTask TrainParts(Trainer& worker, const ModelSpec& spec, const TrainingPlan& plan) {
  TrainingTask assembly = Task(spec, plan);
  assembly.part_outputs.resize(static_cast<size_t>(plan.parts));
  for (int k = plan.parts - 1; k >= 0; --k) {
    auto output = worker.TrainPart(Task(spec, plan, k));
    REQUIRE_MESSAGE(output.ok(), output.status().ToString());
    CHECK(output->rfind("trainpart/", 0) == 0);
    assembly.part_outputs[static_cast<size_t>(k)] = *output;
  }
  return assembly;
}

// Spec() planned in 3 parts over its own store.
struct Planned {
  Data data;
  const ModelSpec spec = Spec();
  EditableArtifacts artifacts;
  std::unique_ptr<Trainer> trainer = NewBuiltinTrainer(data.bars, artifacts, Options(2, 3));
  TrainingPlan plan;

  Planned() {
    auto planned = trainer->PlanTraining(spec);
    REQUIRE_MESSAGE(planned.ok(), planned.status().ToString());
    plan = *planned;
  }
};

BuiltinModel Load(ArtifactStore& artifacts, const std::string& model_id) {
  auto model = LoadModel(artifacts, model_id);
  REQUIRE_MESSAGE(model.ok(), model.status().ToString());
  return *model;
}

bool SameBits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Everything of two models but their spec's lineage: predictions,
// importances, metrics (bit for bit), split, simulation data, final model.
void CheckSameModel(const BuiltinModel& a, const BuiltinModel& b) {
  CHECK(SameBits(a.prediction, b.prediction));
  REQUIRE(a.importance.importances.size() == b.importance.importances.size());
  for (size_t j = 0; j < a.importance.importances.size(); ++j) {
    CHECK(a.importance.importances[j].feature == b.importance.importances[j].feature);
    CHECK(SameBits(a.importance.importances[j].importance, b.importance.importances[j].importance));
  }
  CHECK(a.importance.importance_type == b.importance.importance_type);
  REQUIRE(a.metrics.size() == b.metrics.size());
  for (const auto& [name, value] : a.metrics) {
    CAPTURE(name);
    REQUIRE(b.metrics.count(name) == 1);
    CHECK(SameBits(value, b.metrics.at(name)));
  }
  CHECK(a.first_prediction == b.first_prediction);
  CHECK(a.scored_start == b.scored_start);
  CHECK(a.holdout_start == b.holdout_start);
  CHECK(a.simdata_key == b.simdata_key);
  CHECK(a.final_model == b.final_model);
  CHECK(!a.final_model.empty());
  CHECK(a.spec.features == b.spec.features);
}

TEST_CASE("training parts: the parts give Train's model bit for bit, whatever the parts and threads") {
  Data data;
  for (const char* algorithm : {"RandomForest", "elasticnet_regression"}) {
    CAPTURE(algorithm);
    const ModelSpec spec = Spec(algorithm);
    testing::FakeStore store(*RealClock());
    auto reference = NewBuiltinTrainer(data.bars, store, Options(1, 1));
    auto trained = reference->Train(spec);
    REQUIRE_MESSAGE(trained.ok(), trained.status().ToString());
    const int spans = static_cast<int>(trained->metrics.at("refits"));
    REQUIRE(spans >= 5);
    const BuiltinModel expected = Load(store, trained->model_id);
    for (int threads : {1, 2, 3}) {
      for (int parts : {1, 2, 3, 7, spans + 3}) {  // the last: more parts than spans, some empty
        CAPTURE(threads);
        CAPTURE(parts);
        // A store of its own: the parts' keys do not depend on the threads,
        // and a store keeps the first bytes written under a key.
        EditableArtifacts own;
        auto trainer = NewBuiltinTrainer(data.bars, own, Options(threads, parts));
        if (parts == 1) {
          auto again = trainer->Train(spec);
          REQUIRE(again.ok());
          CheckSameModel(Load(own, again->model_id), expected);
        }
        auto plan = trainer->PlanTraining(spec);
        REQUIRE_MESSAGE(plan.ok(), plan.status().ToString());
        CHECK(plan->parts == parts);
        auto model = trainer->AssembleModel(TrainParts(*trainer, spec, *plan));
        REQUIRE_MESSAGE(model.ok(), model.status().ToString());
        CHECK(model->model_id != trained->model_id);
        CHECK(model->metrics == trained->metrics);
        const BuiltinModel assembled = Load(own, model->model_id);
        CheckSameModel(assembled, expected);
        CHECK(assembled.spec.parent_model_id == "mdl_parent");
      }
    }
  }
}

TEST_CASE("training parts: a feature memory budget trains in passes and gives the same model bit for bit") {
  // Would catch a pass that drops or repeats a span at its edges, rows
  // offset wrongly within a pass, or the final model taken from a pass other
  // than the last span's.
  Data data;
  const ModelSpec spec = Spec();
  testing::FakeStore store(*RealClock());
  auto reference = NewBuiltinTrainer(data.bars, store, Options(2, 1));
  auto trained = reference->Train(spec);
  REQUIRE_MESSAGE(trained.ok(), trained.status().ToString());
  const BuiltinModel expected = Load(store, trained->model_id);
  const size_t row = spec.features.size() * sizeof(double);
  // Spans of 50 bars fitted on the 200 before them: one span a pass, four
  // (430 rows hold 200 + 4 x 50, not 200 + 5 x 50), about ten.
  for (size_t budget : {size_t{1}, 700 * row, 430 * row}) {
    CAPTURE(budget);
    BuiltinOptions options = Options(2, 3);
    options.feature_memory_bytes = budget;
    EditableArtifacts own;
    auto trainer = NewBuiltinTrainer(data.bars, own, options);
    auto again = trainer->Train(spec);
    REQUIRE_MESSAGE(again.ok(), again.status().ToString());
    CheckSameModel(Load(own, again->model_id), expected);
    auto plan = trainer->PlanTraining(spec);
    REQUIRE(plan.ok());
    auto model = trainer->AssembleModel(TrainParts(*trainer, spec, *plan));
    REQUIRE_MESSAGE(model.ok(), model.status().ToString());
    CheckSameModel(Load(own, model->model_id), expected);
  }
}

TEST_CASE(
    "training parts: a worker with no data directory assembles the same model from what the plan stored") {
  const ModelSpec spec = Spec();
  EditableArtifacts planned;  // what the stepping process's plan put in the store, nothing else
  testing::FakeStore reference_store(*RealClock());
  std::optional<TrainingPlan> plan;
  BuiltinModel expected;
  {
    Data data;
    auto reference = NewBuiltinTrainer(data.bars, reference_store, Options(2, 1));
    auto trained = reference->Train(spec);
    REQUIRE(trained.ok());
    expected = Load(reference_store, trained->model_id);
    auto stepper = NewBuiltinTrainer(data.bars, planned, Options(2, 3));
    auto p = stepper->PlanTraining(spec);
    REQUIRE_MESSAGE(p.ok(), p.status().ToString());
    plan = *p;
    // The bars of the symbol and of its reference, and nothing else.
    const std::vector<std::string> keys = planned.Keys();
    REQUIRE(keys.size() == 2);
    for (const auto& key : keys) {
      CHECK(key.rfind("bars/", 0) == 0);
      CHECK(plan->inputs.find(key) != std::string::npos);
    }
    // Planned again (the next generation): nothing is stored again.
    const int puts = planned.puts();
    auto again = stepper->PlanTraining(spec);
    REQUIRE(again.ok());
    CHECK(again->inputs == plan->inputs);
    CHECK(planned.puts() == puts);
  }  // the data directory is gone

  // Two workers, each with its own trainer and a bars cache that holds one
  // symbol's bars at most: the parts and the assembly on different ones.
  BuiltinOptions small = Options(1, 3);
  small.bars_cache_bytes = 1500 * 48 + 1000;
  auto worker_a = NewBuiltinWorkerTrainer(planned, small);
  auto worker_b = NewBuiltinWorkerTrainer(planned, Options(3, 3));
  TrainingTask assembly = Task(spec, *plan);
  for (int k = 0; k < plan->parts; ++k) {
    Trainer& worker = k % 2 == 0 ? *worker_a : *worker_b;
    auto output = worker.TrainPart(Task(spec, *plan, k));
    REQUIRE_MESSAGE(output.ok(), output.status().ToString());
    assembly.part_outputs.push_back(*output);
  }
  auto model = worker_a->AssembleModel(assembly);
  REQUIRE_MESSAGE(model.ok(), model.status().ToString());
  const BuiltinModel assembled = Load(planned, model->model_id);
  CheckSameModel(assembled, expected);
  // The simulation data too, byte for byte.
  CHECK(*planned.GetArtifact(assembled.simdata_key) == *reference_store.GetArtifact(expected.simdata_key));

  // The worker reads models from the store; it cannot train or plan.
  auto importance = worker_b->Importance(model->model_id);
  REQUIRE(importance.ok());
  CHECK(importance->importances.size() == spec.features.size());
  auto described = worker_b->DescribeModel(model->model_id);
  REQUIRE(described.ok());
  CHECK(described->features == spec.features);
  for (Status s : {worker_a->Train(spec).status(), worker_a->PlanTraining(spec).status()}) {
    CHECK(s.code() == StatusCode::kFailedPrecondition);
    CHECK(s.message().find("the built-in trainer of a worker has no data directory") != std::string::npos);
  }
}

TEST_CASE("training parts: a part run again, on any worker and threads, writes the same bytes") {
  Planned planned;
  const ModelSpec& spec = planned.spec;
  EditableArtifacts& artifacts = planned.artifacts;
  const TrainingPlan& plan = planned.plan;
  for (int k = 0; k < plan.parts; ++k) {
    CAPTURE(k);
    auto first = planned.trainer->TrainPart(Task(spec, plan, k));
    REQUIRE(first.ok());
    const std::string bytes = *artifacts.GetArtifact(*first);
    artifacts.Erase(*first);
    auto worker = NewBuiltinWorkerTrainer(artifacts, Options(1, 7));
    auto second = worker->TrainPart(Task(spec, plan, k));
    REQUIRE(second.ok());
    CHECK(*second == *first);
    CHECK(*artifacts.GetArtifact(*second) == bytes);
    // The same part of the same spec with another parent: the same part.
    ModelSpec child = spec;
    child.parent_model_id = "mdl_other";
    auto third = worker->TrainPart(Task(child, plan, k));
    REQUIRE(third.ok());
    CHECK(*third == *first);
  }
}

TEST_CASE("training parts: missing, corrupt and foreign part outputs are refused") {
  Planned planned;
  const ModelSpec& spec = planned.spec;
  EditableArtifacts& artifacts = planned.artifacts;
  Trainer* trainer = planned.trainer.get();
  const TrainingTask good = TrainParts(*trainer, spec, planned.plan);
  REQUIRE(trainer->AssembleModel(good).ok());
  auto refused = [&](const TrainingTask& task, const std::string& says) {
    auto model = trainer->AssembleModel(task);
    REQUIRE_FALSE(model.ok());
    CHECK(model.status().code() == StatusCode::kInvalidArgument);
    CHECK_MESSAGE(model.status().message().find(says) != std::string::npos, model.status().message());
  };

  SUBCASE("too few outputs") {
    TrainingTask task = good;
    task.part_outputs.pop_back();
    refused(task, "the plan has 3 parts, the task 2 outputs");
  }
  SUBCASE("outputs out of order") {
    TrainingTask task = good;
    std::swap(task.part_outputs[0], task.part_outputs[1]);
    refused(task, "part 0's output");
  }
  SUBCASE("an output that is not a part key") {
    TrainingTask task = good;
    task.part_outputs[2] = "mdl_123";
    refused(task, "'mdl_123' is not part 2 of this plan");
  }
  SUBCASE("the outputs of another plan: another spec") {
    ModelSpec other = spec;
    other.features.pop_back();
    TrainingTask task = good;
    task.spec = other;
    refused(task, "is not part 0 of this plan");
  }
  SUBCASE("the outputs of another plan: another number of parts") {
    auto four = NewBuiltinTrainer(planned.data.bars, artifacts, Options(2, 4));
    auto other_plan = four->PlanTraining(spec);
    REQUIRE(other_plan.ok());
    TrainingTask task = TrainParts(*four, spec, *other_plan);
    task.parts = 3;
    task.part_outputs.pop_back();
    refused(task, "is not part 0 of this plan");
  }
  SUBCASE("a part missing from the store") {
    artifacts.Erase(good.part_outputs[1]);
    refused(good, "part 1's output " + good.part_outputs[1] + " is not in the store");
  }
  SUBCASE("a corrupt part") {
    std::string bytes = *artifacts.GetArtifact(good.part_outputs[1]);
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x40);
    artifacts.Overwrite(good.part_outputs[1], bytes);
    refused(good, "checksum mismatch");
  }
  SUBCASE("a truncated part") {
    const std::string bytes = *artifacts.GetArtifact(good.part_outputs[1]);
    artifacts.Overwrite(good.part_outputs[1], bytes.substr(0, bytes.size() - 9));
    refused(good, "truncated");
  }
  SUBCASE("another part's bytes under a part's key") {
    artifacts.Overwrite(good.part_outputs[1], *artifacts.GetArtifact(good.part_outputs[0]));
    refused(good, "holds part 0 of 3, not part 1");
  }
  SUBCASE("a model's bytes under a part's key") {
    auto trained = trainer->Train(spec);
    REQUIRE(trained.ok());
    artifacts.Overwrite(good.part_outputs[0], *artifacts.GetArtifact("model/" + trained->model_id));
    refused(good, "not a serialised training part");
  }
  SUBCASE("inputs that are not this trainer's") {
    TrainingTask task = good;
    task.inputs = R"({"bars": "bars/x"})";
    refused(task, "training inputs: not the built-in trainer's plan");
  }
}

TEST_CASE("training parts: plans and parts check what they are given") {
  Data data;
  EditableArtifacts artifacts;
  auto trainer = NewBuiltinTrainer(data.bars, artifacts, Options(2, 3));
  const ModelSpec spec = Spec();

  SUBCASE("a plan checks the spec like Train, and stores nothing for a bad one") {
    ModelSpec bad = spec;
    bad.features.push_back("no_such_feature");
    auto plan = trainer->PlanTraining(bad);
    REQUIRE_FALSE(plan.ok());
    CHECK(plan.status().code() == StatusCode::kInvalidArgument);
    CHECK(plan.status().message() == "features: unknown feature 'no_such_feature' for SYN");
    CHECK(trainer->Train(bad).status() == plan.status());
    bad = spec;
    bad.algorithm = "gradient_boosting";
    CHECK(trainer->PlanTraining(bad).status().code() == StatusCode::kInvalidArgument);
    bad = spec;
    bad.features.clear();
    CHECK(trainer->PlanTraining(bad).status().message() == "features: must not be empty");
    bad = spec;
    bad.reference_symbols = {"MKT", "mkt"};
    CHECK(trainer->PlanTraining(bad).status().message() == "reference MKT given twice");
    CHECK(trainer->Train(bad).status() == trainer->PlanTraining(bad).status());
    bad = spec;
    bad.reference_symbols = {"NOPE"};
    CHECK(trainer->PlanTraining(bad).status().code() == StatusCode::kNotFound);
    CHECK(artifacts.Keys().empty());
  }
  SUBCASE("a part that is not in the plan, and inputs naming other bars") {
    auto plan = trainer->PlanTraining(spec);
    REQUIRE(plan.ok());
    for (int part : {-1, 3}) {
      auto output = trainer->TrainPart(Task(spec, *plan, part));
      CHECK(output.status().code() == StatusCode::kInvalidArgument);
    }
    ModelSpec swapped = spec;  // the plan's bars are SYN's and MKT's
    swapped.symbol = "MKT";
    swapped.reference_symbols = {"SYN"};
    swapped.features = {"ibs", "syn_return_1"};
    auto output = trainer->TrainPart(Task(swapped, *plan, 0));
    CHECK(output.status().code() == StatusCode::kInvalidArgument);
    CHECK(output.status().message().find("holds the bars of SYN, not MKT") != std::string::npos);
    TrainingTask garbage = Task(spec, *plan, 0);
    garbage.inputs = "[]";
    CHECK(trainer->TrainPart(garbage).status().code() == StatusCode::kInvalidArgument);
  }
  SUBCASE("bars missing from the store or not matching their key") {
    auto plan = trainer->PlanTraining(spec);
    REQUIRE(plan.ok());
    auto worker = NewBuiltinWorkerTrainer(artifacts, Options(1, 3));
    std::string bars_key;
    for (const auto& key : artifacts.Keys()) {
      if (plan->inputs.find("\"bars\":\"" + key + "\"") != std::string::npos) bars_key = key;
    }
    REQUIRE(!bars_key.empty());
    const std::string bytes = *artifacts.GetArtifact(bars_key);
    artifacts.Erase(bars_key);
    auto missing = worker->TrainPart(Task(spec, *plan, 0));
    CHECK(missing.status().code() == StatusCode::kNotFound);
    CHECK(missing.status().message().find(bars_key) != std::string::npos);
    std::string changed = bytes;
    changed[changed.size() / 2] = static_cast<char>(changed[changed.size() / 2] ^ 1);
    artifacts.Overwrite(bars_key, changed);
    auto corrupt = worker->TrainPart(Task(spec, *plan, 0));
    CHECK(corrupt.status().code() == StatusCode::kInvalidArgument);
    CHECK(corrupt.status().message().find("not the bars the key names") != std::string::npos);
  }
}

TEST_CASE("training parts: bars round-trip as artifacts and their cache keeps the most recently used") {
  SyntheticOptions o;
  o.symbols = {"AAA", "BBB", "CCC"};
  o.bars = 300;
  o.intraday = true;
  auto bars = GenerateSyntheticBars(o);
  EditableArtifacts artifacts;
  const size_t one = 300 * 48 + sizeof(Bars);
  BarsArtifacts store(artifacts, 2 * one);
  std::map<std::string, std::string> keys;
  for (const auto& [symbol, b] : bars) {
    auto key = store.Store(std::make_shared<const Bars>(b));
    REQUIRE(key.ok());
    keys[symbol] = *key;
  }
  CHECK(store.cached_bytes() == 2 * one);
  BarsArtifacts reader(artifacts, 2 * one);
  for (const auto& [symbol, b] : bars) {
    auto loaded = reader.Load(keys[symbol]);
    REQUIRE(loaded.ok());
    const Bars& l = **loaded;
    CHECK(l.symbol == symbol);
    CHECK(l.intraday);
    CHECK(l.time == b.time);
    CHECK(SameBits(l.open, b.open));
    CHECK(SameBits(l.high, b.high));
    CHECK(SameBits(l.low, b.low));
    CHECK(SameBits(l.close, b.close));
    CHECK(SameBits(l.volume, b.volume));
    CHECK(reader.cached_bytes() <= 2 * one);
  }
  // The same bars give the same key; other bars another.
  CHECK(BarsKey(EncodeBars(bars["AAA"])) == keys["AAA"]);
  CHECK(keys["AAA"] != keys["BBB"]);
  CHECK(reader.Load("model/x").status().code() == StatusCode::kInvalidArgument);
  const std::string bytes = EncodeBars(bars["AAA"]);
  CHECK(DecodeBars(bytes.substr(0, bytes.size() - 1)).status().code() == StatusCode::kInvalidArgument);
  CHECK(DecodeBars(EncodeSimData(SimData{})).status().message().find("bad magic") != std::string::npos);
}

TEST_CASE("training parts: a part round-trips, and a part whose spans do not fit is refused") {
  TrainingPart p;
  p.plan = "abc";
  p.parts = 3;
  p.part = 2;
  p.bars = 10;
  p.warmup = 2;
  p.first_prediction = 4;
  p.scored_start = 5;
  p.holdout_start = 8;
  p.spans = 2;
  p.first_span = 1;
  p.outcomes.push_back({7, 10, {1, 0, 1}, {0.5, std::nan(""), -0.25}, {0.125, -1.0}, 2});
  p.final_model = "EVRF model";
  auto decoded = DecodeTrainingPart(EncodeTrainingPart(p));
  REQUIRE_MESSAGE(decoded.ok(), decoded.status().ToString());
  CHECK(EncodeTrainingPart(*decoded) == EncodeTrainingPart(p));
  CHECK(decoded->outcomes[0].defined == std::vector<char>{1, 0, 1});
  CHECK(SameBits(decoded->outcomes[0].raw, p.outcomes[0].raw));

  auto refused = [](const TrainingPart& bad, const std::string& says) {
    auto d = DecodeTrainingPart(EncodeTrainingPart(bad));
    REQUIRE_FALSE(d.ok());
    CHECK(d.status().code() == StatusCode::kInvalidArgument);
    CHECK_MESSAGE(d.status().message().find(says) != std::string::npos, d.status().message());
  };
  TrainingPart bad = p;
  bad.final_model.clear();
  refused(bad, "the part holding the last span has no final model");
  bad = p;
  bad.first_span = 0;
  refused(bad, "a final model in a part without the last span");
  bad = p;
  bad.outcomes[0].raw.pop_back();
  refused(bad, "corrupt: span of bars 7 to 10");
  bad = p;
  bad.outcomes[0].end = 11;
  refused(bad, "corrupt: span of bars 7 to 11");
  bad = p;
  bad.part = 3;
  refused(bad, "part index out of range");
}

}  // namespace
}  // namespace evolve::engines
