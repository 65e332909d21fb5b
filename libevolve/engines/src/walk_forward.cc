// The walk-forward scheme and split resolution of the built-in trainer
// (walk_forward.h, builtin.h): data_options to a scheme, the scheme to
// spans, a DataSplit to bar indices.
#include "walk_forward.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <string>

#include "evolve/engines/bars.h"

namespace evolve::engines {

Result<WalkForward> WalkForwardFrom(const std::string& data_options_json) {
  WalkForward wf;
  rapidjson::Document doc;
  doc.Parse(data_options_json.empty() ? "{}" : data_options_json.c_str());
  if (doc.HasParseError() || !doc.IsObject())
    return InvalidArgumentError("data_options: must be a JSON object");
  // Unknown keys are refused like unknown hyperparameters: a misspelt
  // "trian_window" would otherwise leave the default in force unnoticed.
  static constexpr const char* kKeys[] = {"train_window", "test_window", "refit_every"};
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    const std::string key(it->name.GetString(), it->name.GetStringLength());
    if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys)) {
      return InvalidArgumentError("data_options." + key +
                                  ": unknown option (the built-in trainer takes train_window, test_window "
                                  "and refit_every)");
    }
  }
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

std::vector<std::pair<size_t, size_t>> WalkForwardSpans(size_t first, size_t n, const WalkForward& scheme) {
  std::vector<std::pair<size_t, size_t>> spans;
  for (size_t start = first; start < n; start += scheme.span()) {
    spans.emplace_back(start, std::min(n, start + scheme.span()));
  }
  return spans;
}

}  // namespace evolve::engines
