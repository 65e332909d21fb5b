#include "validity_summary.h"

#include <rapidjson/document.h>

#include "evolve/json.h"
#include "evolve/service/json_text.h"

namespace evolve::cli {
namespace {

// `check` as the core writes it (a Generation's "holdout" member), so that
// the summary carries exactly the fields of GET /runs/{id}/generations.
rapidjson::Value HoldoutValue(const HoldoutCheck& check, rapidjson::Document::AllocatorType& a) {
  rapidjson::Document doc(&a);
  const std::string text = ToJson(check);
  doc.Parse<rapidjson::kParseFullPrecisionFlag>(text.c_str(), text.size());  // every digit kept
  rapidjson::Value out(rapidjson::kObjectType);
  if (!doc.HasParseError() && doc.IsObject()) out.CopyFrom(doc, a);
  return out;
}

rapidjson::Value Optional(const std::optional<double>& v) {
  return v ? rapidjson::Value(*v) : rapidjson::Value(rapidjson::kNullType);
}

rapidjson::Value Text(const std::string& s, rapidjson::Document::AllocatorType& a) {
  return s.empty() ? rapidjson::Value(rapidjson::kNullType) : rapidjson::Value(s.c_str(), a);
}

}  // namespace

ValiditySummary SummarizeValidity(const Run& run, const std::vector<Generation>& generations) {
  ValiditySummary s;
  s.has_holdout = run.config.split.has_holdout();
  for (const Generation& g : generations) {
    if (g.selection && g.state == GenerationState::kEvaluated) {
      s.generation = g.generation;
      s.selection = g.selection;
    }
    if (g.selection) {
      s.research_end = g.selection->research_end;
      s.prior_looks = g.selection->prior_looks;
    }
    if (g.holdout) {
      s.holdout_generation = g.generation;
      s.holdout = g.holdout;
      if (g.holdout->decided) ++s.looks;
      if (g.holdout->result && !g.holdout->result->start_date.empty()) {
        s.holdout_first_date = g.holdout->result->start_date;
      }
    }
  }
  return s;
}

std::string ValiditySummaryJson(const ValiditySummary& s) {
  rapidjson::Document doc;
  auto& a = doc.GetAllocator();
  doc.SetObject();
  doc.AddMember("has_holdout", s.has_holdout, a);
  doc.AddMember("research_end", Text(s.research_end, a), a);
  doc.AddMember("holdout_first_date", Text(s.holdout_first_date, a), a);
  const SelectionStats* sel = s.selection ? &*s.selection : nullptr;
  doc.AddMember("generation", s.generation ? rapidjson::Value(*s.generation) : rapidjson::Value(), a);
  doc.AddMember("trials", sel ? rapidjson::Value(sel->trials) : rapidjson::Value(), a);
  doc.AddMember("prior_trials", sel ? rapidjson::Value(sel->prior_trials) : rapidjson::Value(), a);
  doc.AddMember("dsr", sel ? Optional(sel->dsr) : rapidjson::Value(), a);
  doc.AddMember("pbo", sel ? Optional(sel->pbo) : rapidjson::Value(), a);
  doc.AddMember("pbo_candidates", sel ? rapidjson::Value(sel->pbo_candidates) : rapidjson::Value(), a);
  doc.AddMember("holdout_looks", s.looks, a);
  doc.AddMember("prior_holdout_looks", s.prior_looks, a);
  rapidjson::Value holdout(rapidjson::kNullType);
  if (s.holdout) {
    holdout.SetObject();
    holdout.AddMember("generation", *s.holdout_generation, a);
    rapidjson::Value check = HoldoutValue(*s.holdout, a);
    for (auto& m : check.GetObject()) holdout.AddMember(m.name, m.value, a);
  }
  doc.AddMember("holdout", holdout, a);
  return service::JsonOut::Text(doc);
}

}  // namespace evolve::cli
