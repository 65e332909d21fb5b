// The built-in engines' artifact format (model_artifact.h): encoding,
// decoding and validation of the model, simulation-data, bars and
// training-part artifacts.
#include "model_artifact.h"

#include <utility>

#include "evolve/fingerprint.h"
#include "evolve/json.h"
#include "serialize.h"

namespace evolve::engines {
namespace {

// int8 labels as one length-prefixed byte string.
void WriteInt8s(BinaryWriter& w, const std::vector<int8_t>& v) {
  w.String(std::string_view(reinterpret_cast<const char*>(v.data()), v.size()));
}

Status ReadInt8s(BinaryReader& r, std::vector<int8_t>* v) {
  std::string bytes;
  EVOLVE_RETURN_IF_ERROR(r.String(&bytes));
  v->assign(bytes.begin(), bytes.end());
  return Status::Ok();
}

Status ReadSize(BinaryReader& r, size_t* v) {
  uint64_t u = 0;
  EVOLVE_RETURN_IF_ERROR(r.U64(&u));
  if (u > (uint64_t{1} << 40)) return InvalidArgumentError("corrupt: size " + std::to_string(u));
  *v = static_cast<size_t>(u);
  return Status::Ok();
}

// Reads the u64 sizes `fields` point to, in order.
Status ReadSizes(BinaryReader& r, std::initializer_list<size_t*> fields) {
  for (size_t* f : fields) EVOLVE_RETURN_IF_ERROR(ReadSize(r, f));
  return Status::Ok();
}

// Checks a training part's spans, facts and final model against each other.
Status CheckTrainingPart(const TrainingPart& p) {
  if (p.parts == 0 || p.part >= p.parts) return InvalidArgumentError("corrupt: part index out of range");
  if (p.first_prediction > p.scored_start || p.scored_start > p.holdout_start || p.holdout_start > p.bars)
    return InvalidArgumentError("corrupt prediction span");
  if (p.first_span > p.spans || p.outcomes.size() > p.spans - p.first_span)
    return InvalidArgumentError("corrupt: spans out of range");
  size_t next = p.first_prediction;
  for (const SpanOutcome& o : p.outcomes) {
    if (o.start < next || o.start >= o.end || o.end > p.bars || o.defined.size() != o.end - o.start ||
        o.raw.size() != o.defined.size())
      return InvalidArgumentError("corrupt: span of bars " + std::to_string(o.start) + " to " +
                                  std::to_string(o.end));
    next = o.end;
  }
  const bool holds_last = !p.outcomes.empty() && p.first_span + p.outcomes.size() == p.spans;
  if (holds_last == p.final_model.empty())
    return InvalidArgumentError(holds_last ? "corrupt: the part holding the last span has no final model"
                                           : "corrupt: a final model in a part without the last span");
  return Status::Ok();
}

}  // namespace

std::string EncodeSimData(const SimData& d) {
  EnvelopeWriter envelope(kSimDataMagic, kSimDataFormat, d.time.size() * (24 + d.regimes.size()) + 1024);
  BinaryWriter& w = envelope.payload();
  w.I64Vector(d.time);
  w.F64Vector(d.open);
  w.F64Vector(d.close);
  w.U64(d.regimes.size());
  for (const auto& [name, labels] : d.regimes) {
    w.String(name);
    WriteInt8s(w, labels);
  }
  return std::move(envelope).Finish();
}

Result<SimData> DecodeSimData(std::string_view bytes) {
  EVOLVE_ASSIGN_OR_RETURN(Envelope envelope,
                          ReadEnvelope(bytes, kSimDataMagic, kSimDataFormat, "simulation data"));
  BinaryReader r(envelope.payload);
  SimData d;
  EVOLVE_RETURN_IF_ERROR(r.I64Vector(&d.time));
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
  EnvelopeWriter envelope(kModelMagic, kModelFormat, m.prediction.size() * 8 + m.final_model.size() + 65536);
  BinaryWriter& w = envelope.payload();
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
  return std::move(envelope).Finish();
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

std::string EncodeBars(const Bars& b) {
  EnvelopeWriter envelope(kBarsMagic, kBarsFormat, b.symbol.size() + 64 + b.time.size() * 48);
  BinaryWriter& w = envelope.payload();
  w.String(b.symbol);
  w.Bool(b.intraday);
  w.I64Vector(b.time);
  for (const auto* column : {&b.open, &b.high, &b.low, &b.close, &b.volume}) w.F64Vector(*column);
  return std::move(envelope).Finish();
}

Result<Bars> DecodeBars(std::string_view bytes) {
  EVOLVE_ASSIGN_OR_RETURN(Envelope envelope, ReadEnvelope(bytes, kBarsMagic, kBarsFormat, "bars"));
  BinaryReader r(envelope.payload);
  Bars b;
  EVOLVE_RETURN_IF_ERROR(r.String(&b.symbol));
  EVOLVE_RETURN_IF_ERROR(r.Bool(&b.intraday));
  EVOLVE_RETURN_IF_ERROR(r.I64Vector(&b.time));
  for (auto* column : {&b.open, &b.high, &b.low, &b.close, &b.volume}) {
    EVOLVE_RETURN_IF_ERROR(r.F64Vector(column));
    if (column->size() != b.time.size()) return InvalidArgumentError("bars: columns of different lengths");
  }
  EVOLVE_RETURN_IF_ERROR(r.ExpectEnd());
  // Not stored: the spacing follows from the times (and the artifact's
  // bytes, its content address, stay what they were).
  b.bar_seconds = InferBarSeconds(b.time);
  return b;
}

std::string BarsKey(std::string_view encoded) { return "bars/" + Sha256Hex(encoded); }

std::string EncodeTrainingPart(const TrainingPart& p) {
  size_t bytes = p.plan.size() + p.final_model.size() + 1024;
  for (const SpanOutcome& o : p.outcomes) bytes += 64 + o.defined.size() * 9 + o.importance.size() * 8;
  EnvelopeWriter envelope(kTrainingPartMagic, kTrainingPartFormat, bytes);
  BinaryWriter& w = envelope.payload();
  w.String(p.plan);
  for (size_t v : {p.parts, p.part, p.bars, p.warmup, p.first_prediction, p.scored_start, p.holdout_start,
                   p.spans, p.first_span})
    w.U64(v);
  w.U64(p.outcomes.size());
  for (const SpanOutcome& o : p.outcomes) {
    w.U64(o.start);
    w.U64(o.end);
    w.String(std::string_view(o.defined.data(), o.defined.size()));
    w.F64Vector(o.raw);
    w.F64Vector(o.importance);
    w.U64(o.importance_rows);
  }
  w.String(p.final_model);
  return std::move(envelope).Finish();
}

Result<TrainingPart> DecodeTrainingPart(std::string_view bytes) {
  EVOLVE_ASSIGN_OR_RETURN(Envelope envelope,
                          ReadEnvelope(bytes, kTrainingPartMagic, kTrainingPartFormat, "training part"));
  BinaryReader r(envelope.payload);
  TrainingPart p;
  EVOLVE_RETURN_IF_ERROR(r.String(&p.plan));
  EVOLVE_RETURN_IF_ERROR(ReadSizes(r, {&p.parts, &p.part, &p.bars, &p.warmup, &p.first_prediction,
                                       &p.scored_start, &p.holdout_start, &p.spans, &p.first_span}));
  size_t n = 0;
  EVOLVE_RETURN_IF_ERROR(r.Count(uint64_t{1} << 32, 48, &n));
  p.outcomes.resize(n);
  for (SpanOutcome& o : p.outcomes) {
    std::string defined;
    EVOLVE_RETURN_IF_ERROR(ReadSizes(r, {&o.start, &o.end}));
    EVOLVE_RETURN_IF_ERROR(r.String(&defined));
    for (char c : defined) {
      if (c != 0 && c != 1)
        return InvalidArgumentError("training part: corrupt: a defined flag is not 0 or 1");
    }
    o.defined.assign(defined.begin(), defined.end());
    EVOLVE_RETURN_IF_ERROR(r.F64Vector(&o.raw));
    EVOLVE_RETURN_IF_ERROR(r.F64Vector(&o.importance));
    EVOLVE_RETURN_IF_ERROR(ReadSize(r, &o.importance_rows));
  }
  EVOLVE_RETURN_IF_ERROR(r.String(&p.final_model));
  EVOLVE_RETURN_IF_ERROR(r.ExpectEnd());
  Status checked = CheckTrainingPart(p);
  if (!checked.ok()) return checked.WithContext("training part");
  return p;
}

std::string TrainingPlanDigest(const TrainingTask& task) {
  ModelSpec spec = task.spec;
  spec.parent_model_id.clear();  // lineage only: the same model whoever its parent
  return Sha256Hex("evolve training plan 1\n" + ToJson(spec) + "\n" + task.inputs + "\n" +
                   std::to_string(task.parts));
}

std::string TrainingPartKey(const std::string& plan_digest, size_t part) {
  return "trainpart/" + Sha256Hex(plan_digest + "/" + std::to_string(part));
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

}  // namespace evolve::engines
