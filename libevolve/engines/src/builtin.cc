#include "evolve/engines/builtin.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "evolve/engines/backtest.h"
#include "evolve/engines/bars.h"
#include "evolve/engines/dataset.h"
#include "evolve/engines/features.h"
#include "evolve/engines/forest.h"
#include "evolve/engines/importance.h"
#include "evolve/engines/linear.h"
#include "evolve/engines/phase_timing.h"
#include "evolve/engines/regimes.h"
#include "evolve/engines/serialize.h"
#include "evolve/evolution.h"
#include "evolve/fingerprint.h"
#include "evolve/json.h"
#include "evolve/log.h"

namespace evolve::engines {
namespace {

// Artifact envelopes (serialize.h): 4-byte magic and a format version.
constexpr char kModelMagic[] = "EVMB";  // evolve model, built-in
// Format 2 added the split (scored_start, holdout_start); format 1 models
// read as scoring everything from their first prediction.
constexpr uint32_t kModelFormat = 2;
constexpr char kSimDataMagic[] = "EVSD";  // evolve simulation data
constexpr uint32_t kSimDataFormat = 1;
const double kNaN = std::nan("");
constexpr double kDefaultElasticNetAlpha = 1e-5;

// ---------------------------------------------------------------- targets

enum class Target { kLogReturn, kPctChange, kLog, kNone };

Result<Target> ParseTarget(const std::string& name) {
  if (name == "log_return") return Target::kLogReturn;
  if (name == "pct_change") return Target::kPctChange;
  if (name == "log") return Target::kLog;
  if (name == "none") return Target::kNone;
  return InvalidArgumentError("target_transform: unknown transform '" + name +
                              "' (expected log_return, pct_change, log or none)");
}

// The training target of bar i: the next bar's close, transformed as the
// original training service defines the transforms.
double TargetValue(Target t, double close, double next_close) {
  switch (t) {
    case Target::kLogReturn:
      return std::log(next_close / close);
    case Target::kPctChange:
      return next_close / close - 1.0;
    case Target::kLog:
      return std::log(next_close);
    case Target::kNone:
      return next_close;
  }
  return kNaN;
}

// A prediction as an expected next-bar return, the unit of the simulator's
// thresholds, whatever the target.
double PredictedReturn(Target t, double prediction, double close) {
  switch (t) {
    case Target::kLogReturn:
    case Target::kPctChange:
      return prediction;
    case Target::kLog:
      return prediction - std::log(close);
    case Target::kNone:
      return prediction / close - 1.0;
  }
  return kNaN;
}

}  // namespace

Result<WalkForward> WalkForwardFrom(const std::string& data_options_json) {
  WalkForward wf;
  rapidjson::Document doc;
  doc.Parse(data_options_json.empty() ? "{}" : data_options_json.c_str());
  if (doc.HasParseError() || !doc.IsObject())
    return InvalidArgumentError("data_options: must be a JSON object");
  auto read = [&](const char* key, size_t minimum, size_t* out) -> Status {
    auto it = doc.FindMember(key);
    if (it == doc.MemberEnd() || it->value.IsNull()) return Status::Ok();
    const auto& v = it->value;
    if (!v.IsNumber() || v.GetDouble() != std::floor(v.GetDouble()) ||
        v.GetDouble() < static_cast<double>(minimum) || v.GetDouble() > 1e9) {
      return InvalidArgumentError("data_options." + std::string(key) +
                                  ": must be an integer >= " + std::to_string(minimum));
    }
    *out = static_cast<size_t>(v.GetDouble());
    return Status::Ok();
  };
  EVOLVE_RETURN_IF_ERROR(read("train_window", 2, &wf.train_window));
  EVOLVE_RETURN_IF_ERROR(read("test_window", 1, &wf.test_window));
  wf.refit_every = (wf.train_window + wf.test_window - 1) / wf.test_window;
  EVOLVE_RETURN_IF_ERROR(read("refit_every", 1, &wf.refit_every));
  return wf;
}

Result<SplitBars> ResolveSplit(const DataSplit& split, const std::vector<int64_t>& time,
                               size_t first_prediction) {
  SplitBars out;
  out.bars = time.size();
  out.first_prediction = first_prediction;
  const size_t n = time.size();
  auto describe = [&](size_t i) { return i < n ? FormatBarTime(time[i], false) : std::string("the end"); };
  if (!split.holdout_start.empty()) {
    auto start = ParseBarTime(split.holdout_start);
    if (!start.ok() || split.holdout_start.size() != 10) {
      return InvalidArgumentError("holdout_start: '" + split.holdout_start + "' is not a date YYYY-MM-DD");
    }
    out.holdout_start =
        static_cast<size_t>(std::lower_bound(time.begin(), time.end(), *start) - time.begin());
    if (out.holdout_start >= n) {
      return InvalidArgumentError("holdout_start: " + split.holdout_start + " is after the last bar (" +
                                  describe(n - 1) + ")");
    }
  } else {
    const auto held = static_cast<size_t>(std::llround(split.holdout_fraction * static_cast<double>(n)));
    out.holdout_start = n - std::min(n, held);
  }
  const std::string what = split.holdout_start.empty() ? "holdout_fraction" : "holdout_start";
  if (out.holdout_start < n && n - out.holdout_start < 2) {
    return InvalidArgumentError(what + ": the holdout would hold " + std::to_string(n - out.holdout_start) +
                                " bar; it needs at least 2");
  }
  if (out.holdout_start < first_prediction + 2) {
    return InvalidArgumentError(what + ": the holdout starts at bar " + std::to_string(out.holdout_start) +
                                " (" + describe(out.holdout_start) + "), but predictions start at bar " +
                                std::to_string(first_prediction) + " (" + describe(first_prediction) +
                                "): no research span is left (more bars, a later holdout or a shorter "
                                "data_options.train_window)");
  }
  const size_t research = out.holdout_start - first_prediction;
  out.scored_start =
      first_prediction +
      static_cast<size_t>(std::floor(split.selection_fraction * static_cast<double>(research)));
  if (split.selection_fraction > 0 && out.scored_start < first_prediction + 2) {
    return InvalidArgumentError("selection_fraction: the selection span would hold " +
                                std::to_string(out.scored_start - first_prediction) +
                                " bars of the research span's " + std::to_string(research) +
                                "; it needs at least 2");
  }
  if (out.holdout_start - out.scored_start < 2) {
    return InvalidArgumentError("selection_fraction: the scored span would hold " +
                                std::to_string(out.holdout_start - out.scored_start) +
                                " bars; it needs at least 2");
  }
  return out;
}

namespace {

// ------------------------------------------------------------- artifacts

// The simulation inputs of one symbol under one walk-forward scheme.
struct SimData {
  std::vector<int64_t> time;
  std::vector<double> open;
  std::vector<double> close;
  std::map<std::string, std::vector<int8_t>> regimes;
};

// A trained walk-forward model.
struct BuiltinModel {
  ModelSpec spec;
  WalkForward scheme;
  std::string simdata_key;
  size_t first_prediction = 0;  // bar index of the first out-of-sample prediction
  size_t scored_start = 0;      // SplitBars, over the simdata's bars
  size_t holdout_start = 0;
  std::vector<double> prediction;  // per bar of the simdata: expected next-bar return, NaN = none
  ImportanceReport importance;
  std::map<std::string, double> metrics;
  std::string final_model;  // the last refit, serialised, for predicting new data
};

// Vectors the serialiser has no call for: int64 as a count and values,
// int8 labels as one length-prefixed byte string.
void WriteInt64s(BinaryWriter& w, const std::vector<int64_t>& v) {
  w.U64(v.size());
  for (int64_t x : v) w.I64(x);
}

Status ReadInt64s(BinaryReader& r, std::vector<int64_t>* v) {
  size_t n = 0;
  EVOLVE_RETURN_IF_ERROR(r.Count(uint64_t{1} << 40, 8, &n));
  v->resize(n);
  for (auto& x : *v) EVOLVE_RETURN_IF_ERROR(r.I64(&x));
  return Status::Ok();
}

void WriteInt8s(BinaryWriter& w, const std::vector<int8_t>& v) {
  w.String(std::string_view(reinterpret_cast<const char*>(v.data()), v.size()));
}

Status ReadInt8s(BinaryReader& r, std::vector<int8_t>* v) {
  std::string bytes;
  EVOLVE_RETURN_IF_ERROR(r.String(&bytes));
  v->assign(bytes.begin(), bytes.end());
  return Status::Ok();
}

std::string EncodeSimData(const SimData& d) {
  BinaryWriter w;
  WriteInt64s(w, d.time);
  w.F64Vector(d.open);
  w.F64Vector(d.close);
  w.U64(d.regimes.size());
  for (const auto& [name, labels] : d.regimes) {
    w.String(name);
    WriteInt8s(w, labels);
  }
  return WriteEnvelope(kSimDataMagic, kSimDataFormat, w.Release());
}

Result<SimData> DecodeSimData(std::string_view bytes) {
  EVOLVE_ASSIGN_OR_RETURN(Envelope envelope,
                          ReadEnvelope(bytes, kSimDataMagic, kSimDataFormat, "simulation data"));
  BinaryReader r(envelope.payload);
  SimData d;
  EVOLVE_RETURN_IF_ERROR(ReadInt64s(r, &d.time));
  EVOLVE_RETURN_IF_ERROR(r.F64Vector(&d.open));
  EVOLVE_RETURN_IF_ERROR(r.F64Vector(&d.close));
  size_t n = 0;
  EVOLVE_RETURN_IF_ERROR(r.Count(64, 16, &n));
  for (size_t i = 0; i < n; ++i) {
    std::string name;
    std::vector<int8_t> labels;
    EVOLVE_RETURN_IF_ERROR(r.String(&name));
    EVOLVE_RETURN_IF_ERROR(ReadInt8s(r, &labels));
    d.regimes.emplace(std::move(name), std::move(labels));
  }
  EVOLVE_RETURN_IF_ERROR(r.ExpectEnd());
  if (d.open.size() != d.time.size() || d.close.size() != d.time.size()) {
    return InvalidArgumentError("simulation data: columns of different lengths");
  }
  return d;
}

std::string EncodeModel(const BuiltinModel& m) {
  BinaryWriter w;
  w.String(ToJson(m.spec));
  w.U64(m.scheme.train_window);
  w.U64(m.scheme.test_window);
  w.U64(m.scheme.refit_every);
  w.String(m.simdata_key);
  w.U64(m.first_prediction);
  w.F64Vector(m.prediction);
  w.String(m.importance.importance_type);
  w.U64(m.importance.importances.size());
  for (const auto& fi : m.importance.importances) {
    w.String(fi.feature);
    w.F64(fi.importance);
  }
  w.U64(m.metrics.size());
  for (const auto& [k, v] : m.metrics) {
    w.String(k);
    w.F64(v);
  }
  w.String(m.final_model);
  w.U64(m.scored_start);
  w.U64(m.holdout_start);
  return WriteEnvelope(kModelMagic, kModelFormat, w.Release());
}

Result<BuiltinModel> DecodeModel(std::string_view bytes) {
  EVOLVE_ASSIGN_OR_RETURN(Envelope envelope,
                          ReadEnvelope(bytes, kModelMagic, kModelFormat, "built-in model"));
  const bool format1 = envelope.version == 1;  // lacks only the split, at the end
  BinaryReader r(envelope.payload);
  BuiltinModel m;
  std::string spec_json;
  uint64_t u = 0;
  size_t n = 0;
  EVOLVE_RETURN_IF_ERROR(r.String(&spec_json));
  EVOLVE_ASSIGN_OR_RETURN(m.spec, ModelSpecFromJson(spec_json));
  EVOLVE_RETURN_IF_ERROR(r.U64(&u));
  m.scheme.train_window = u;
  EVOLVE_RETURN_IF_ERROR(r.U64(&u));
  m.scheme.test_window = u;
  EVOLVE_RETURN_IF_ERROR(r.U64(&u));
  m.scheme.refit_every = u;
  EVOLVE_RETURN_IF_ERROR(r.String(&m.simdata_key));
  EVOLVE_RETURN_IF_ERROR(r.U64(&u));
  m.first_prediction = u;
  EVOLVE_RETURN_IF_ERROR(r.F64Vector(&m.prediction));
  EVOLVE_RETURN_IF_ERROR(r.String(&m.importance.importance_type));
  EVOLVE_RETURN_IF_ERROR(r.Count(1 << 20, 16, &n));
  for (size_t i = 0; i < n; ++i) {
    FeatureImportance fi;
    EVOLVE_RETURN_IF_ERROR(r.String(&fi.feature));
    EVOLVE_RETURN_IF_ERROR(r.F64(&fi.importance));
    m.importance.importances.push_back(fi);
  }
  EVOLVE_RETURN_IF_ERROR(r.Count(1 << 10, 16, &n));
  for (size_t i = 0; i < n; ++i) {
    std::string k;
    double v = 0;
    EVOLVE_RETURN_IF_ERROR(r.String(&k));
    EVOLVE_RETURN_IF_ERROR(r.F64(&v));
    m.metrics[k] = v;
  }
  EVOLVE_RETURN_IF_ERROR(r.String(&m.final_model));
  if (format1) {
    m.scored_start = m.first_prediction;
    m.holdout_start = m.prediction.size();
  } else {
    EVOLVE_RETURN_IF_ERROR(r.U64(&u));
    m.scored_start = u;
    EVOLVE_RETURN_IF_ERROR(r.U64(&u));
    m.holdout_start = u;
  }
  EVOLVE_RETURN_IF_ERROR(r.ExpectEnd());
  if (m.first_prediction > m.scored_start || m.scored_start > m.holdout_start ||
      m.holdout_start > m.prediction.size())
    return InvalidArgumentError("model artifact: corrupt prediction span");
  return m;
}

std::string ModelKey(const std::string& model_id) { return "model/" + model_id; }

Result<BuiltinModel> LoadModel(ArtifactStore& artifacts, const std::string& model_id) {
  auto bytes = artifacts.GetArtifact(ModelKey(model_id));
  if (!bytes.ok()) {
    if (bytes.status().code() == StatusCode::kNotFound) {
      return NotFoundError("model " + model_id + " is not a model of the built-in trainer");
    }
    return bytes.status();
  }
  auto model = DecodeModel(*bytes);
  if (!model.ok()) return model.status().WithContext("model " + model_id);
  model->importance.model_id = model_id;
  return model;
}

// --------------------------------------------------------- feature source

class BuiltinFeatureSource final : public FeatureSource {
 public:
  explicit BuiltinFeatureSource(std::shared_ptr<BarDirectory> bars) : bars_(std::move(bars)) {}

  Result<std::vector<std::string>> ListSymbols() override { return bars_->Symbols(); }

  Result<std::vector<std::string>> ListFeatures(const std::string& symbol) override {
    EVOLVE_RETURN_IF_ERROR(bars_->Load(symbol).status());
    return FeatureNames({});
  }

  // SHA-256 of every column of the symbol's bars, then each reference's, in
  // order: any edited or appended bar changes it.
  Result<std::string> DataDigest(const std::string& symbol,
                                 const std::vector<std::string>& references) override {
    std::string input;
    std::vector<std::string> symbols = {symbol};
    symbols.insert(symbols.end(), references.begin(), references.end());
    for (size_t k = 0; k < symbols.size(); ++k) {
      auto loaded = bars_->Load(symbols[k]);
      if (!loaded.ok())
        return k == 0 ? loaded.status() : loaded.status().WithContext("reference symbol " + symbols[k]);
      const Bars& b = **loaded;
      input += std::to_string(k) + ":" + std::to_string(b.size()) + "|";
      auto append = [&input](const auto& v) {
        input.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(v[0]));
      };
      append(b.time);
      append(b.open);
      append(b.high);
      append(b.low);
      append(b.close);
      append(b.volume);
    }
    return "sha256:" + Sha256Hex(input);
  }

 private:
  std::shared_ptr<BarDirectory> bars_;
};

// ----------------------------------------------------------------- trainer

// One fitted model of any built-in algorithm.
class Regressor {
 public:
  virtual ~Regressor() = default;
  virtual Status Predict(const Matrix& x, std::vector<double>* out) const = 0;
  virtual Status Serialize(std::string* out) const = 0;
  // Permutation importance on (x, y), with the predictions of x it is based on.
  virtual Result<PermutationImportance> Permutation(const Matrix& x, const std::vector<double>& y,
                                                    const PermutationOptions& options) const = 0;
};

class ForestRegressor final : public Regressor {
 public:
  explicit ForestRegressor(RandomForest forest) : forest_(std::move(forest)) {}
  Status Predict(const Matrix& x, std::vector<double>* out) const override {
    return forest_.PredictBatch(x, out);
  }
  Status Serialize(std::string* out) const override { return forest_.Serialize(out); }
  Result<PermutationImportance> Permutation(const Matrix& x, const std::vector<double>& y,
                                            const PermutationOptions& options) const override {
    return ForestPermutationImportance(forest_, x, y, options);
  }

 private:
  RandomForest forest_;
};

class LinearRegressor final : public Regressor {
 public:
  explicit LinearRegressor(ElasticNet model) : model_(std::move(model)) {}
  Status Predict(const Matrix& x, std::vector<double>* out) const override {
    return model_.PredictBatch(x, out);
  }
  Status Serialize(std::string* out) const override { return model_.Serialize(out); }
  Result<PermutationImportance> Permutation(const Matrix& x, const std::vector<double>& y,
                                            const PermutationOptions& options) const override {
    return ComputePermutationImportance(
        [this](const Matrix& m, std::vector<double>* out) { return model_.PredictBatch(m, out); }, x, y,
        options);
  }

 private:
  ElasticNet model_;
};

// Fits one model of `algorithm` on (x, y) with `threads` threads (0: all
// cores); no model depends on the number of threads.
using FitFn = std::function<Result<std::unique_ptr<Regressor>>(const Matrix& x, const std::vector<double>& y,
                                                               int threads)>;

struct Fitter {
  FitFn fit;
  int threads = 0;  // for the whole walk-forward (0: all cores): the model's n_jobs, else the trainer's
};

Result<Fitter> MakeFitter(const ModelSpec& spec, const BuiltinOptions& options) {
  const std::string algorithm = CanonicalAlgorithm(spec.algorithm);
  if (algorithm == "random_forest_regressor") {
    EVOLVE_ASSIGN_OR_RETURN(ForestParams params, ForestParamsFromJson(spec.hyperparameters));
    if (params.threads == 0) params.threads = options.threads;
    const int threads = params.threads;
    return Fitter{[params](const Matrix& x, const std::vector<double>& y,
                           int fit_threads) mutable -> Result<std::unique_ptr<Regressor>> {
                    params.threads = fit_threads;
                    EVOLVE_ASSIGN_OR_RETURN(RandomForest forest, RandomForest::Fit(x, y, params));
                    return std::unique_ptr<Regressor>(new ForestRegressor(std::move(forest)));
                  },
                  threads};
  }
  if (algorithm == "elasticnet_regression" || algorithm == "linear_regression") {
    EVOLVE_ASSIGN_OR_RETURN(ElasticNetParams params, ElasticNetParamsFromJson(spec.hyperparameters));
    // sklearn's default alpha (1.0) shrinks every coefficient of a model of
    // next-bar returns (variance ~1e-4) to zero; unless the user chose one,
    // the built-in trainer uses a penalty on the scale of such targets.
    rapidjson::Document doc;
    doc.Parse(spec.hyperparameters.c_str());
    if (!doc.IsObject() || !doc.HasMember("alpha")) params.alpha = kDefaultElasticNetAlpha;
    if (algorithm == "linear_regression") params.alpha = 0.0;
    return Fitter{
        [params](const Matrix& x, const std::vector<double>& y, int) -> Result<std::unique_ptr<Regressor>> {
          EVOLVE_ASSIGN_OR_RETURN(ElasticNet model, ElasticNet::Fit(x, y, params));
          return std::unique_ptr<Regressor>(new LinearRegressor(std::move(model)));
        },
        options.threads};
  }
  return InvalidArgumentError("algorithm: unknown algorithm '" + spec.algorithm +
                              "' (built-in: RandomForest / random_forest_regressor, ElasticNet / "
                              "elasticnet_regression, LinearRegression / linear_regression)");
}

}  // namespace

Status ValidateBuiltinSplit(const ModelSpec& spec, const std::vector<int64_t>& time) {
  EVOLVE_ASSIGN_OR_RETURN(WalkForward scheme, WalkForwardFrom(spec.data_options));
  return ResolveSplit(spec.split, time, std::min(scheme.train_window, time.size())).status();
}

Status ValidateBuiltinSpec(const ModelSpec& spec) {
  EVOLVE_RETURN_IF_ERROR(MakeFitter(spec, BuiltinOptions{}).status());
  return WalkForwardFrom(spec.data_options).status();
}

namespace {

// The walk-forward spans from bar `first` to bar `n`, one fitted model each.
// Their length depends on the scheme only, so more bars only add spans.
std::vector<std::pair<size_t, size_t>> Spans(size_t first, size_t n, const WalkForward& scheme) {
  std::vector<std::pair<size_t, size_t>> spans;
  for (size_t start = first; start < n; start += scheme.span()) {
    spans.emplace_back(start, std::min(n, start + scheme.span()));
  }
  return spans;
}

// `column` of `frame` on the bars of `rows`, as a column-major matrix.
Matrix Gather(const std::vector<const std::vector<double>*>& columns, const std::vector<size_t>& rows) {
  Matrix m;
  m.rows = rows.size();
  m.cols = columns.size();
  m.data.resize(m.rows * m.cols);
  for (size_t j = 0; j < m.cols; ++j) {
    const std::vector<double>& c = *columns[j];
    double* out = m.data.data() + j * m.rows;
    for (size_t i = 0; i < rows.size(); ++i) out[i] = c[rows[i]];
  }
  return m;
}

// The close of `market` known at each bar of `bars`: the close of its last
// bar complete by the bar's own completion (CompleteAt), as the features
// align references. A daily market bar is known only at the end of its date,
// so a minute bar sees the previous day's close, never its own day's. NaN
// before the market's first complete bar.
std::vector<double> AlignClose(const Bars& market, const Bars& bars) {
  std::vector<double> out(bars.size(), kNaN);
  size_t k = 0;
  for (size_t i = 0; i < bars.size(); ++i) {
    const int64_t now = CompleteAt(bars.time[i], bars.intraday);
    while (k < market.size() && CompleteAt(market.time[k], market.intraday) <= now) ++k;
    if (k > 0) out[i] = market.close[k - 1];
  }
  return out;
}

// The first bar from which every column of `frame` that is ever defined is
// defined (a column defined nowhere, e.g. a volume feature of bars without
// volume, does not hold everything back: a model naming it fails to train).
size_t FrameWarmup(const FeatureFrame& frame) {
  size_t warmup = 0;
  for (const auto& column : frame.columns) {
    size_t i = 0;
    while (i < column.size() && !std::isfinite(column[i])) ++i;
    if (i < column.size()) warmup = std::max(warmup, i);
  }
  return warmup;
}

// What one walk-forward span leaves for the sequential sums after all spans.
struct SpanResult {
  Status status;
  std::vector<double> importance;  // per feature; empty when fewer than 2 test rows have a target
  size_t importance_rows = 0;
  std::unique_ptr<Regressor> fitted;  // the last span's model only
};

// Fits the model of the span [start, end) on [start - W, start - 1) (the row
// start - 1 is purged: its target is the close of the first test bar),
// writes its raw predictions for the span's defined rows to (*raw)[i], and
// its permutation importance (`repeats`, seed `index`: the span's 1-based
// position) on the rows before `importance_end` (the end of the selection
// span: never a bar a backtest scores) with a realised target to *out.
Status TrainSpan(std::pair<size_t, size_t> span, size_t index, const WalkForward& scheme, const FitFn& fit,
                 int threads, int repeats, const std::vector<const std::vector<double>*>& columns,
                 const std::vector<char>& defined, const std::vector<double>& y, size_t importance_end,
                 std::vector<double>* raw, SpanResult* out, bool keep_model) {
  const auto [start, end] = span;
  std::optional<ScopedEnginePhase> phase(EnginePhase::kFit);
  std::vector<size_t> train_rows;
  for (size_t i = start - scheme.train_window; i + 1 < start; ++i) {
    if (defined[i] && std::isfinite(y[i])) train_rows.push_back(i);
  }
  if (train_rows.size() < 2) {
    return InvalidArgumentError("data_options.train_window: too few defined rows to fit before bar " +
                                std::to_string(start));
  }
  std::vector<double> y_train;
  y_train.reserve(train_rows.size());
  for (size_t i : train_rows) y_train.push_back(y[i]);
  auto fitted = fit(Gather(columns, train_rows), y_train, threads);
  if (!fitted.ok()) return fitted.status().WithContext("fitting for bars from " + std::to_string(start));

  // Test rows that measure importance (a realised target, in the selection
  // span) and the rest.
  std::vector<size_t> scored, unscored;
  for (size_t i = start; i < end; ++i) {
    if (!defined[i]) continue;
    (i < importance_end && std::isfinite(y[i]) ? scored : unscored).push_back(i);
  }
  if (scored.size() >= 2) {
    // Importance predicts the scored rows as its baseline, bit for bit what
    // predicting them does: that is their prediction, not a second pass.
    phase.emplace(EnginePhase::kImportance);
    std::vector<double> y_test;
    y_test.reserve(scored.size());
    for (size_t i : scored) y_test.push_back(y[i]);
    PermutationOptions permutation;
    permutation.repeats = repeats;
    permutation.seed = index;
    permutation.threads = threads;
    EVOLVE_ASSIGN_OR_RETURN(PermutationImportance imp,
                            (*fitted)->Permutation(Gather(columns, scored), y_test, permutation));
    for (size_t k = 0; k < scored.size(); ++k) (*raw)[scored[k]] = imp.baseline[k];
    out->importance = std::move(imp.mean);
    out->importance_rows = scored.size();
  } else {
    unscored.insert(unscored.end(), scored.begin(), scored.end());
    std::sort(unscored.begin(), unscored.end());
  }
  if (!unscored.empty()) {
    phase.emplace(EnginePhase::kPredict);
    std::vector<double> p;
    EVOLVE_RETURN_IF_ERROR((*fitted)->Predict(Gather(columns, unscored), &p));
    for (size_t k = 0; k < unscored.size(); ++k) (*raw)[unscored[k]] = p[k];
  }
  if (keep_model) out->fitted = std::move(*fitted);
  return Status::Ok();
}

class BuiltinTrainer final : public Trainer {
 public:
  BuiltinTrainer(std::shared_ptr<BarDirectory> bars, ArtifactStore& artifacts, BuiltinOptions options)
      : bars_(std::move(bars)), artifacts_(artifacts), options_(std::move(options)) {}

  Result<TrainedModel> Train(const ModelSpec& spec) override {
    EVOLVE_ASSIGN_OR_RETURN(Fitter fitter, MakeFitter(spec, options_));
    EVOLVE_ASSIGN_OR_RETURN(Target target, ParseTarget(spec.target_transform));
    EVOLVE_ASSIGN_OR_RETURN(WalkForward scheme, WalkForwardFrom(spec.data_options));
    if (spec.features.empty()) return InvalidArgumentError("features: must not be empty");
    if (spec.target_col != "close") {
      return InvalidArgumentError("target_col: the built-in trainer predicts 'close', not '" +
                                  spec.target_col + "'");
    }
    EVOLVE_ASSIGN_OR_RETURN(std::shared_ptr<const Bars> bars, bars_->Load(spec.symbol));
    std::vector<std::shared_ptr<const Bars>> references;
    for (const auto& symbol : spec.reference_symbols) {
      auto ref = bars_->Load(symbol);
      if (!ref.ok()) return ref.status().WithContext("reference symbol " + symbol);
      references.push_back(*ref);
    }
    std::optional<ScopedEnginePhase> phase(EnginePhase::kFeatures);
    EVOLVE_ASSIGN_OR_RETURN(FeatureFrame frame, ComputeFeatures(*bars, references));
    phase.reset();

    std::vector<const std::vector<double>*> columns;
    for (const auto& name : spec.features) {
      int j = frame.Index(name);
      if (j < 0) return InvalidArgumentError("features: unknown feature '" + name + "' for " + spec.symbol);
      columns.push_back(&frame.columns[static_cast<size_t>(j)]);
    }
    const size_t n = bars->size();
    // A bar can be predicted when every feature is defined; it can be
    // trained on when its target (the next close) is defined too.
    std::vector<char> defined(n, 1);
    for (size_t i = 0; i < n; ++i) {
      for (const auto* c : columns) {
        if (!std::isfinite((*c)[i])) {
          defined[i] = 0;
          break;
        }
      }
    }
    std::vector<double> y(n, kNaN);
    for (size_t i = 0; i + 1 < n; ++i) y[i] = TargetValue(target, bars->close[i], bars->close[i + 1]);

    // The warm-up of every feature column the symbol has (not only this
    // model's): every model of the symbol then predicts, and is scored, from
    // the same bar, whatever its features.
    const size_t warmup = FrameWarmup(frame);
    const size_t first_test = warmup + scheme.train_window;
    if (first_test + 1 >= n) {
      return InvalidArgumentError("data_options.train_window: " + spec.symbol + " has " + std::to_string(n) +
                                  " bars; after a warm-up of " + std::to_string(warmup) +
                                  " and a training window of " + std::to_string(scheme.train_window) +
                                  " none is left to test on");
    }
    EVOLVE_ASSIGN_OR_RETURN(SplitBars split, ResolveSplit(spec.split, bars->time, first_test));
    // Importance is measured on the selection span only; without one, on the
    // research span (the scored bars: pruning then sees them).
    const size_t importance_end = split.scored_start > first_test ? split.scored_start : split.holdout_start;

    BuiltinModel model;
    model.spec = spec;
    model.scheme = scheme;
    model.first_prediction = first_test;
    model.scored_start = split.scored_start;
    model.holdout_start = split.holdout_start;
    model.prediction.assign(n, kNaN);

    // The spans are independent (each fits on its own window, with the
    // importance seed its 1-based position): they run in parallel, each
    // writing its raw predictions to its own rows of `raw` and its importance
    // to its own slot. Everything order-dependent (the sums of squares and of
    // importances) is then summed sequentially in span and row order, exactly
    // as one span after the other would, so the result does not depend on the
    // number of threads.
    const std::vector<std::pair<size_t, size_t>> spans = Spans(first_test, n, scheme);
    const int total_threads = ResolveThreads(fitter.threads, std::numeric_limits<size_t>::max());
    // Few spans (a long train_window on short data): threads within each model
    // instead; many: a whole span per thread, which also spares every fit,
    // prediction and importance the cost of starting its own threads.
    const int span_workers = spans.size() >= 2 * static_cast<size_t>(total_threads) ? total_threads : 1;
    const int model_threads = std::max(1, total_threads / span_workers);
    std::vector<double> raw(n, kNaN);  // model outputs, before PredictedReturn
    std::vector<SpanResult> results(spans.size());
    std::atomic<size_t> first_error{spans.size()};
    ParallelFor(spans.size(), span_workers, [&](size_t k, int) {
      if (first_error.load(std::memory_order_relaxed) < k) return;  // an earlier span failed: no use
      results[k].status =
          TrainSpan(spans[k], k + 1, scheme, fitter.fit, model_threads, options_.importance_repeats, columns,
                    defined, y, importance_end, &raw, &results[k], k + 1 == spans.size());
      if (!results[k].status.ok()) {
        size_t seen = first_error.load();
        while (k < seen && !first_error.compare_exchange_weak(seen, k)) {
        }
      }
    });
    if (first_error.load() < spans.size()) return results[first_error.load()].status;

    std::vector<double> importance_sum(columns.size(), 0.0);
    size_t importance_rows = 0;
    const size_t refits = spans.size();
    double sse = 0, sst = 0, oos_sum = 0;
    size_t oos_rows = 0;
    for (size_t k = 0; k < spans.size(); ++k) {
      for (size_t i = spans[k].first; i < spans[k].second; ++i) {
        if (!defined[i]) continue;
        model.prediction[i] = PredictedReturn(target, raw[i], bars->close[i]);
        if (std::isfinite(y[i])) {
          sse += (y[i] - raw[i]) * (y[i] - raw[i]);
          oos_sum += y[i];
          ++oos_rows;
        }
      }
      const SpanResult& r = results[k];
      for (size_t j = 0; j < r.importance.size(); ++j)
        importance_sum[j] += r.importance[j] * static_cast<double>(r.importance_rows);
      importance_rows += r.importance_rows;
    }
    const std::unique_ptr<Regressor>& last = results.back().fitted;
    const double oos_mean = oos_rows ? oos_sum / static_cast<double>(oos_rows) : 0.0;
    for (size_t i = first_test; i < n; ++i) {
      if (defined[i] && std::isfinite(y[i])) sst += (y[i] - oos_mean) * (y[i] - oos_mean);
    }

    if (importance_rows < 2) {
      return InvalidArgumentError(
          "selection_fraction: the selection span (bars " + std::to_string(first_test) + " to " +
          std::to_string(importance_end) + ") has " + std::to_string(importance_rows) +
          " rows to measure importance on; it needs at least 2 (a larger selection_fraction or more bars)");
    }
    model.importance.importance_type = "permutation";
    for (size_t j = 0; j < columns.size(); ++j) {
      double v = importance_rows ? importance_sum[j] / static_cast<double>(importance_rows) : 0.0;
      model.importance.importances.push_back({spec.features[j], v});
    }
    model.metrics["refits"] = static_cast<double>(refits);
    model.metrics["oos_rows"] = static_cast<double>(oos_rows);
    model.metrics["warmup_bars"] = static_cast<double>(warmup);
    model.metrics["importance_rows"] = static_cast<double>(importance_rows);
    model.metrics["scored_start_bar"] = static_cast<double>(split.scored_start);
    model.metrics["holdout_start_bar"] = static_cast<double>(split.holdout_start);
    if (sst > 0) model.metrics["oos_r2"] = 1.0 - sse / sst;
    if (oos_rows) model.metrics["oos_mse"] = sse / static_cast<double>(oos_rows);
    phase.emplace(EnginePhase::kSimData);
    EVOLVE_ASSIGN_OR_RETURN(model.simdata_key, StoreSimData(*bars, references, scheme));
    phase.emplace(EnginePhase::kModelStore);
    EVOLVE_RETURN_IF_ERROR(last->Serialize(&model.final_model));
    const std::string model_id = NewId("mdl_");
    EVOLVE_RETURN_IF_ERROR(artifacts_.PutArtifact(ModelKey(model_id), EncodeModel(model)));
    phase.reset();
    Log(LogLevel::kInfo, "model trained",
        {{"model_id", model_id},
         {"symbol", spec.symbol},
         {"features", std::to_string(spec.features.size())},
         {"refits", std::to_string(refits)},
         {"oos_rows", std::to_string(oos_rows)}});
    return TrainedModel{model_id, model.metrics};
  }

  Result<ImportanceReport> Importance(const std::string& model_id) override {
    EVOLVE_ASSIGN_OR_RETURN(BuiltinModel model, LoadModel(artifacts_, model_id));
    return model.importance;
  }

  Result<ModelSpec> DescribeModel(const std::string& model_id) override {
    EVOLVE_ASSIGN_OR_RETURN(BuiltinModel model, LoadModel(artifacts_, model_id));
    return model.spec;
  }

 private:
  // Writes the bars and regimes the simulator needs, once per symbol, market
  // and scheme (the key is a digest of all of them), and returns the key.
  //
  // The regime model is refitted on the same walk-forward scheme as the
  // models, counted from the first bar (not from a feature set's warm-up),
  // so every model of a symbol and scheme shares the same labels: the GMM for
  // a span is fitted on the train_window bars before it and labels the span.
  Result<std::string> StoreSimData(const Bars& bars,
                                   const std::vector<std::shared_ptr<const Bars>>& references,
                                   const WalkForward& scheme) {
    // The market for regimes: the first reference symbol, else the symbol.
    const Bars& market = references.empty() ? bars : *references[0];
    std::vector<double> market_close = AlignClose(market, bars);
    std::string digest_input = market.symbol + "|" + bars.symbol + "|" + std::to_string(scheme.train_window) +
                               "|" + std::to_string(scheme.test_window) + "|" +
                               std::to_string(scheme.refit_every) + "|";
    auto append = [&digest_input](const auto& v) {
      digest_input.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(v[0]));
    };
    append(bars.time);
    append(bars.open);
    append(bars.close);
    append(market_close);
    const std::string key = "simdata/" + Sha256Hex(digest_input);
    {
      // Written by this trainer already: every later generation of a run
      // lands here, without reading the blob back from the store.
      std::lock_guard<std::mutex> lock(simdata_mu_);
      if (simdata_written_.count(key) != 0) return key;
    }

    SimData data;
    data.time = bars.time;
    data.open = bars.open;
    data.close = bars.close;
    std::vector<RegimeSegment> segments;
    for (const auto& [start, end] : Spans(scheme.train_window, bars.size(), scheme)) {
      segments.push_back(RegimeSegment{start - scheme.train_window, start, start, end});
    }
    EVOLVE_ASSIGN_OR_RETURN(data.regimes["regime_gmm"], RegimeGmm(market_close, segments));
    data.regimes["regime_vix"] = RegimeVix(market_close);
    // Idempotent: another process may have written the same key first.
    EVOLVE_RETURN_IF_ERROR(artifacts_.PutArtifact(key, EncodeSimData(data)));
    std::lock_guard<std::mutex> lock(simdata_mu_);
    simdata_written_.insert(key);
    return key;
  }

  std::shared_ptr<BarDirectory> bars_;
  ArtifactStore& artifacts_;
  const BuiltinOptions options_;
  std::mutex simdata_mu_;
  std::set<std::string> simdata_written_;  // simdata keys this trainer stored; guarded by simdata_mu_
};

// --------------------------------------------------------------- simulator

// A model ready to simulate: one span of its predictions as backtest input.
struct Loaded {
  std::string symbol;
  std::string span;  // kSpanResearch, kSpanHoldout or kSpanAll
  BacktestBars bars;
  // |prediction| over the research span (every predicted bar before the
  // holdout), ascending: what threshold quantiles are taken of, whatever
  // span is simulated, so a holdout look trades the research threshold.
  std::vector<double> research_magnitudes;
};

// The q-quantile of ascending `sorted` by linear interpolation between order
// statistics (Hyndman and Fan 1996, definition 7, R's default).
double Quantile(const std::vector<double>& sorted, double q) {
  const double h = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted.back();
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[lo + 1] - sorted[lo]);
}

// The bars [from, to) a span of `model` scores (SplitBars in builtin.h).
Result<std::pair<size_t, size_t>> SpanBars(const BuiltinModel& model, const std::string& span,
                                           const std::string& model_id) {
  const size_t n = model.prediction.size();
  std::pair<size_t, size_t> range;
  if (span == kSpanResearch) {
    range = {model.scored_start, model.holdout_start};
  } else if (span == kSpanHoldout) {
    range = {model.holdout_start, n};
  } else if (span == kSpanAll || span.empty()) {
    range = {model.first_prediction, n};
  } else {
    return InvalidArgumentError("span: unknown span '" + span + "' (expected research, holdout or all)");
  }
  if (range.second - range.first < 1) {
    return InvalidArgumentError("span: model " + model_id + " has no " + span +
                                " span (it was trained with holdout_fraction 0 and no holdout_start)");
  }
  return range;
}

// Reads a built-in model and its simulation data from the store, cut to `span`.
Result<Loaded> LoadBacktestInput(ArtifactStore& artifacts, const std::string& model_id,
                                 const std::string& span) {
  EVOLVE_ASSIGN_OR_RETURN(BuiltinModel model, LoadModel(artifacts, model_id));
  auto bytes = artifacts.GetArtifact(model.simdata_key);
  if (!bytes.ok()) return bytes.status().WithContext("simulation data of model " + model_id);
  auto data = DecodeSimData(*bytes);
  if (!data.ok()) return data.status().WithContext("simulation data of model " + model_id);
  if (data->time.size() != model.prediction.size()) {
    return InternalError("model " + model_id + ": predictions do not match its simulation data");
  }
  EVOLVE_ASSIGN_OR_RETURN(auto range, SpanBars(model, span, model_id));
  Loaded loaded;
  loaded.symbol = model.spec.symbol;
  loaded.span = span.empty() ? kSpanAll : span;
  const auto from = static_cast<long>(range.first), to = static_cast<long>(range.second);
  auto cut = [from, to](const auto& v) {
    return std::decay_t<decltype(v)>(v.begin() + from, v.begin() + to);
  };
  loaded.bars.time = cut(data->time);
  loaded.bars.open = cut(data->open);
  loaded.bars.close = cut(data->close);
  loaded.bars.prediction = cut(model.prediction);
  for (const auto& [name, labels] : data->regimes) loaded.bars.regimes[name] = cut(labels);
  for (size_t i = model.first_prediction; i < model.holdout_start; ++i) {
    if (std::isfinite(model.prediction[i]))
      loaded.research_magnitudes.push_back(std::fabs(model.prediction[i]));
  }
  std::sort(loaded.research_magnitudes.begin(), loaded.research_magnitudes.end());
  return loaded;
}

class BuiltinSimulator final : public Simulator {
 public:
  BuiltinSimulator(ArtifactStore& artifacts, BuiltinOptions options)
      : artifacts_(artifacts), options_(std::move(options)) {}

  Result<SimulationResult> Simulate(const SimulationParams& params) override {
    return std::move(SimulateMany({params})[0]);
  }

  std::vector<Result<SimulationResult>> SimulateMany(const std::vector<SimulationParams>& params) override {
    std::vector<Result<SimulationResult>> results(params.size(),
                                                  Result<SimulationResult>(InternalError("unset")));
    // Entries that share a model and costs are one grid: one pass.
    std::map<std::tuple<std::string, std::string, double, double, double>, std::vector<size_t>> groups;
    for (size_t i = 0; i < params.size(); ++i) {
      const SimulationParams& p = params[i];
      groups[{p.model_id, p.span, p.fee_bps, p.slippage_bps, p.initial_cash}].push_back(i);
    }
    for (const auto& [key, members] : groups) {
      auto group = SimulateGroup(params, members);
      for (size_t k = 0; k < members.size(); ++k) {
        results[members[k]] =
            group.ok() ? Result<SimulationResult>((*group)[k]) : Result<SimulationResult>(group.status());
      }
    }
    return results;
  }

 private:
  Result<std::vector<SimulationResult>> SimulateGroup(const std::vector<SimulationParams>& params,
                                                      const std::vector<size_t>& members) {
    const SimulationParams& first = params[members[0]];
    EVOLVE_ASSIGN_OR_RETURN(std::shared_ptr<const Loaded> loaded, Load(first.model_id, first.span));
    std::vector<BacktestCell> cells;
    for (size_t i : members) {
      const SimulationParams& p = params[i];
      if (p.use_bot || p.enable_z_score_check || p.volatility_normalization) {
        return InvalidArgumentError(
            "use_bot, enable_z_score_check and volatility_normalization are not supported by the built-in "
            "simulator");
      }
      if (!EqualsIgnoreCase(p.ticker, loaded->symbol)) {
        return InvalidArgumentError("ticker: model " + p.model_id + " was trained on " + loaded->symbol +
                                    ", not " + p.ticker);
      }
      if (!std::isfinite(p.threshold)) return InvalidArgumentError("threshold: must be a finite number");
      double threshold = p.threshold;
      if (p.threshold_quantile) {
        const double q = *p.threshold_quantile;
        if (!(q >= 0 && q < 1)) return InvalidArgumentError("threshold_quantile: must be in [0, 1)");
        if (loaded->research_magnitudes.empty()) {
          return InvalidArgumentError("threshold_quantile: model " + p.model_id +
                                      " has no prediction in its research span");
        }
        threshold = Quantile(loaded->research_magnitudes, q);
      }
      cells.push_back(BacktestCell{threshold, p.regime.column, p.regime.allowed});
    }
    BacktestOptions options;
    options.fee_bps = first.fee_bps;
    options.slippage_bps = first.slippage_bps;
    options.initial_cash = first.initial_cash;
    ScopedEnginePhase phase(EnginePhase::kBacktest);
    std::vector<std::vector<BacktestTrade>> trades;
    EVOLVE_ASSIGN_OR_RETURN(std::vector<SimulationResult> results,
                            BacktestGrid(loaded->bars, cells, options, &trades));
    for (size_t k = 0; k < results.size(); ++k) {
      results[k].span = loaded->span;
      results[k].threshold = cells[k].threshold;
      AddSelectionFigures(loaded->bars, trades[k], &results[k]);
    }
    return results;
  }

  static bool EqualsIgnoreCase(const std::string& a, const std::string& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  }

  // A span of the model's backtest input, from the LRU cache or the artifact store.
  Result<std::shared_ptr<const Loaded>> Load(const std::string& model_id, const std::string& span) {
    const std::string key = model_id + "\n" + span;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = index_.find(key);
      if (it != index_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second);
        return it->second->second;
      }
    }
    ScopedEnginePhase phase(EnginePhase::kSimLoad);
    EVOLVE_ASSIGN_OR_RETURN(Loaded input, LoadBacktestInput(artifacts_, model_id, span));
    auto loaded = std::make_shared<Loaded>(std::move(input));

    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(key);
    if (it != index_.end()) return it->second->second;  // another thread loaded it meanwhile
    lru_.emplace_front(key, loaded);
    index_[key] = lru_.begin();
    while (lru_.size() > std::max<size_t>(1, options_.simulator_cache)) {
      index_.erase(lru_.back().first);
      lru_.pop_back();
    }
    return std::shared_ptr<const Loaded>(loaded);
  }

  ArtifactStore& artifacts_;
  const BuiltinOptions options_;
  std::mutex mu_;
  using Entry = std::pair<std::string, std::shared_ptr<const Loaded>>;
  std::list<Entry> lru_;                                     // most recent first; guarded by mu_
  std::map<std::string, std::list<Entry>::iterator> index_;  // guarded by mu_
};

}  // namespace

std::unique_ptr<FeatureSource> NewBuiltinFeatureSource(std::shared_ptr<BarDirectory> bars) {
  return std::make_unique<BuiltinFeatureSource>(std::move(bars));
}

std::unique_ptr<Trainer> NewBuiltinTrainer(std::shared_ptr<BarDirectory> bars, ArtifactStore& artifacts,
                                           const BuiltinOptions& options) {
  return std::make_unique<BuiltinTrainer>(std::move(bars), artifacts, options);
}

std::unique_ptr<Simulator> NewBuiltinSimulator(ArtifactStore& artifacts, const BuiltinOptions& options) {
  return std::make_unique<BuiltinSimulator>(artifacts, options);
}

Result<ModelPredictions> LoadModelPredictions(ArtifactStore& artifacts, const std::string& model_id) {
  EVOLVE_ASSIGN_OR_RETURN(BuiltinModel model, LoadModel(artifacts, model_id));
  auto bytes = artifacts.GetArtifact(model.simdata_key);
  if (!bytes.ok()) return bytes.status().WithContext("simulation data of model " + model_id);
  EVOLVE_ASSIGN_OR_RETURN(SimData data, DecodeSimData(*bytes));
  return ModelPredictions{std::move(data.time), std::move(model.prediction)};
}

Result<BacktestBars> LoadModelBacktestBars(ArtifactStore& artifacts, const std::string& model_id,
                                           const std::string& span) {
  EVOLVE_ASSIGN_OR_RETURN(Loaded loaded, LoadBacktestInput(artifacts, model_id, span));
  return std::move(loaded.bars);
}

Result<BuiltinEngines> NewBuiltinEngines(ArtifactStore& artifacts, const BuiltinOptions& options) {
  BuiltinEngines engines;
  engines.bars = std::make_shared<BarDirectory>(options.data_dir);
  EVOLVE_ASSIGN_OR_RETURN(std::vector<std::string> symbols, engines.bars->Symbols());
  if (symbols.empty())
    return NotFoundError("data directory " + options.data_dir + " holds no SYMBOL.csv file");
  engines.features = NewBuiltinFeatureSource(engines.bars);
  engines.trainer = NewBuiltinTrainer(engines.bars, artifacts, options);
  engines.simulator = NewBuiltinSimulator(artifacts, options);
  return engines;
}

}  // namespace evolve::engines
