#include "run_config.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "evolve/json.h"
#include "evolve/service/json_text.h"
#include "evolve/service/settings.h"

namespace evolve::cli {

using service::Args;
using service::OptionSpec;
using service::ParseDouble;
using service::ParseInt;
using service::ParseList;

namespace {

// How an option's text becomes the field's JSON value.
// kNullableNumber: a number, or "none" for null (a check that is off).
// kThresholds: numbers and quantiles "qNN" (q90 = 0.9), split into
// thresholds and threshold_quantiles.
enum class Kind { kString, kInt, kNumber, kNullableNumber, kStringList, kNumberList, kThresholds, kJson };

struct FieldOption {
  const char* option;
  const char* field;  // in the POST /evolve body; "pruning.strategy" for a nested one
  Kind kind;
  const char* value_name;
  // "{default}" stands for the field's default, taken from
  // EvolutionConfig{} (HelpText): no default is restated here.
  const char* help;
};

const std::vector<FieldOption>& FieldOptions() {
  static const std::vector<FieldOption> options = {
      {"symbol", "symbol", Kind::kString, "S",
       "symbol to evolve (default TTRC, or the data dir's only symbol)"},
      {"algorithm", "algorithm", Kind::kString, "NAME",
       "RandomForest, elasticnet_regression, ... (default {default})"},
      {"target-col", "target_col", Kind::kString, "COL", "column the model predicts (default {default})"},
      {"target-transform", "target_transform", Kind::kString, "T",
       "none | log_return | log | pct_change (default {default})"},
      {"generations", "max_generations", Kind::kInt, "N",
       "maximum generations (default $DEFAULT_MAX_GENERATIONS or {default})"},
      {"timeframe", "timeframe", Kind::kString, "TF",
       "bar timeframe label (default: 1d for daily bars, else {default})"},
      {"data-options", "data_options", Kind::kJson, "JSON",
       "data options object, e.g. '{\"train_window\":500}'"},
      {"seed-features", "seed_features", Kind::kStringList, "A,B", "generation 0 features (default: all)"},
      {"seed-model-id", "seed_model_id", Kind::kString, "ID", "start from this trained model"},
      {"reference-symbols", "reference_symbols", Kind::kStringList, "A,B",
       "symbols whose features are added"},
      {"thresholds", "thresholds", Kind::kThresholds, "a,b,qNN",
       "prediction thresholds, in return units or as quantiles of the research span's |predictions| (q90) "
       "(default {default})"},
      {"regimes", "regime_configs", Kind::kJson, "JSON", "regime filters, e.g. '[{},{\"regime_gmm\":[0]}]'"},
      {"sqn-min", "sqn_min", Kind::kNumber, "X", "Holy Grail SQN range, low end (default {default})"},
      {"sqn-max", "sqn_max", Kind::kNumber, "X", "SQN high end (default {default})"},
      {"profit-factor-min", "profit_factor_min", Kind::kNumber, "X",
       "profit factor low end (default {default})"},
      {"profit-factor-max", "profit_factor_max", Kind::kNumber, "X",
       "profit factor high end (default {default})"},
      {"trade-count-min", "trade_count_min", Kind::kInt, "N", "fewest trades (default {default})"},
      {"trade-count-max", "trade_count_max", Kind::kInt, "N", "most trades (default {default})"},
      {"weekly-consistency-max", "weekly_consistency_max", Kind::kNumber, "X",
       "weekly consistency must be below (default {default})"},
      {"hyperparameters", "hyperparameters", Kind::kJson, "JSON", "model hyperparameters object"},
      {"pruning", "pruning", Kind::kJson, "JSON", "pruning object {strategy, fraction, min_importance}"},
      {"pruning-strategy", "pruning.strategy", Kind::kString, "S",
       "non_positive | keep_top_fraction | threshold (default {default})"},
      {"pruning-fraction", "pruning.fraction", Kind::kNumber, "X",
       "keep_top_fraction: fraction kept (default {default})"},
      {"pruning-min-importance", "pruning.min_importance", Kind::kNumber, "X",
       "threshold: prune importance <= X (default {default})"},
      {"initial-cash", "initial_cash", Kind::kNumber, "X", "simulation starting cash (default {default})"},
      {"fee-bps", "fee_bps", Kind::kNumber, "X", "fee per side, basis points (default {default})"},
      {"slippage-bps", "slippage_bps", Kind::kNumber, "X",
       "slippage per side, basis points (default {default})"},
      {"holdout-fraction", "holdout_fraction", Kind::kNumber, "X",
       "last fraction of the bars held out (default {default}; 0: none)"},
      {"holdout-start", "holdout_start", Kind::kString, "DATE",
       "the holdout starts at this date YYYY-MM-DD (replaces --holdout-fraction)"},
      {"selection-fraction", "selection_fraction", Kind::kNumber, "X",
       "research span share where pruning measures importance (default {default})"},
      {"holdout-sqn-min", "holdout_sqn_min", Kind::kNumber, "X",
       "holdout confirmation: SQN at least (default {default})"},
      {"holdout-excess-return-min", "holdout_excess_return_min", Kind::kNullableNumber, "X|none",
       "holdout: exposure-matched excess return %, at least (default {default})"},
      {"holdout-excess-sqn-min", "holdout_excess_sqn_min", Kind::kNullableNumber, "X|none",
       "holdout: excess SQN at least (default {default})"},
      {"holdout-looks", "holdout_looks", Kind::kInt, "N",
       "finalists a run may take to the holdout (default {default})"},
      {"excess-return-min", "excess_return_min", Kind::kNullableNumber, "X|none",
       "research: exposure-matched excess return %, at least (default {default})"},
      {"max-drawdown-max", "max_drawdown_max", Kind::kNullableNumber, "X|none",
       "research: max drawdown %, at most (default {default})"},
      {"dsr-min", "dsr_min", Kind::kNullableNumber, "X|none",
       "finalist: deflated Sharpe ratio at least, 0..1 (default {default})"},
      {"pbo-max", "pbo_max", Kind::kNullableNumber, "X|none",
       "finalist: probability of backtest overfitting at most, 0..1 (default {default})"},
  };
  return options;
}

// A default value as an option takes it: 3 for 3.0, "none" for null,
// "a,b" for a list.
std::string OptionText(const rapidjson::Value& v) {
  if (v.IsNull()) return "none";
  if (v.IsString()) return v.GetString();
  if (v.IsNumber()) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.15g", v.GetDouble());
    return text;
  }
  if (v.IsArray()) {
    std::string out;
    for (const rapidjson::Value& item : v.GetArray()) out += (out.empty() ? "" : ",") + OptionText(item);
    return out;
  }
  return service::JsonOut::Text(v);
}

// `o`'s help with "{default}" replaced by the default of its field: the field's
// value in ToJson(EvolutionConfig{}), the one source of the defaults.
std::string HelpText(const FieldOption& o) {
  static const rapidjson::Document defaults = [] {
    rapidjson::Document d;
    const std::string json = ToJson(EvolutionConfig{});
    d.Parse(json.c_str(), json.size());
    return d;
  }();
  std::string help = o.help;
  static const std::string kDefault = "{default}";
  const size_t at = help.find(kDefault);
  if (at == std::string::npos) return help;
  const std::string field = o.field;
  const size_t dot = field.find('.');
  const rapidjson::Value* value =
      rapidjson::Pointer(
          "/" + (dot == std::string::npos ? field : field.substr(0, dot) + "/" + field.substr(dot + 1)))
          .Get(defaults);
  return help.replace(at, kDefault.size(), value != nullptr ? OptionText(*value) : "?");
}

std::string JsonErrorText(const rapidjson::Document& doc) {
  return std::string(rapidjson::GetParseError_En(doc.GetParseError())) + " at offset " +
         std::to_string(doc.GetErrorOffset());
}

Status SetField(rapidjson::Document& body, const FieldOption& o, const std::string& text) {
  auto& a = body.GetAllocator();
  const std::string what = std::string("--") + o.option;
  rapidjson::Value value;
  switch (o.kind) {
    case Kind::kString:
      value.SetString(text.c_str(), static_cast<rapidjson::SizeType>(text.size()), a);
      break;
    case Kind::kInt: {
      EVOLVE_ASSIGN_OR_RETURN(int64_t v, ParseInt(what, text));
      value.SetInt64(v);
      break;
    }
    case Kind::kNumber: {
      EVOLVE_ASSIGN_OR_RETURN(double v, ParseDouble(what, text));
      value.SetDouble(v);
      break;
    }
    case Kind::kNullableNumber: {
      if (text == "none") break;  // null
      EVOLVE_ASSIGN_OR_RETURN(double v, ParseDouble(what, text));
      value.SetDouble(v);
      break;
    }
    case Kind::kThresholds: {
      EVOLVE_ASSIGN_OR_RETURN(std::vector<std::string> items, ParseList(what, text));
      value.SetArray();
      rapidjson::Value quantiles(rapidjson::kArrayType);
      for (const std::string& s : items) {
        if (!s.empty() && (s[0] == 'q' || s[0] == 'Q')) {
          EVOLVE_ASSIGN_OR_RETURN(double percent, ParseDouble(what + " (quantile " + s + ")", s.substr(1)));
          quantiles.PushBack(rapidjson::Value(percent / 100.0), a);
        } else {
          EVOLVE_ASSIGN_OR_RETURN(double v, ParseDouble(what, s));
          value.PushBack(rapidjson::Value(v), a);
        }
      }
      auto q = body.FindMember("threshold_quantiles");
      if (q != body.MemberEnd()) {
        q->value = quantiles;
      } else {
        body.AddMember("threshold_quantiles", quantiles, a);
      }
      break;
    }
    case Kind::kStringList: {
      EVOLVE_ASSIGN_OR_RETURN(std::vector<std::string> items, ParseList(what, text));
      value.SetArray();
      for (const std::string& s : items) {
        value.PushBack(rapidjson::Value(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), a), a);
      }
      break;
    }
    case Kind::kNumberList: {
      EVOLVE_ASSIGN_OR_RETURN(std::vector<std::string> items, ParseList(what, text));
      value.SetArray();
      for (const std::string& s : items) {
        EVOLVE_ASSIGN_OR_RETURN(double v, ParseDouble(what, s));
        value.PushBack(rapidjson::Value(v), a);
      }
      break;
    }
    case Kind::kJson: {
      rapidjson::Document parsed(&a);
      parsed.Parse(text.c_str(), text.size());
      if (parsed.HasParseError())
        return InvalidArgumentError(what + ": not valid JSON: " + JsonErrorText(parsed));
      value.CopyFrom(parsed, a);
      break;
    }
  }
  std::string field = o.field;
  rapidjson::Value* target = &body;
  const size_t dot = field.find('.');
  if (dot != std::string::npos) {
    const std::string parent = field.substr(0, dot);
    field = field.substr(dot + 1);
    auto it = body.FindMember(parent.c_str());
    if (it == body.MemberEnd()) {
      body.AddMember(rapidjson::Value(parent.c_str(), a), rapidjson::Value(rapidjson::kObjectType), a);
      it = body.FindMember(parent.c_str());
    }
    if (!it->value.IsObject()) {
      return InvalidArgumentError(what + ": " + parent + " is not an object in the configuration");
    }
    target = &it->value;
  }
  auto existing = target->FindMember(field.c_str());
  if (existing != target->MemberEnd()) {
    existing->value = value;
  } else {
    target->AddMember(rapidjson::Value(field.c_str(), a), value, a);
  }
  return Status::Ok();
}

}  // namespace

const std::vector<OptionSpec>& RunConfigOptions() {
  static const std::vector<OptionSpec> specs = [] {
    std::vector<OptionSpec> out = {
        {"config", "FILE", "a POST /evolve JSON body; options below override its fields"}};
    for (const FieldOption& o : FieldOptions()) out.push_back({o.option, o.value_name, HelpText(o)});
    return out;
  }();
  return specs;
}

bool IsRunConfigOption(const std::string& name) {
  for (const OptionSpec& spec : RunConfigOptions()) {
    if (spec.name == name) return true;
  }
  return false;
}

std::string OptionForField(const std::string& field) {
  const size_t end = field.find_first_of(".[");
  const std::string top = field.substr(0, end);
  if (top == "threshold_quantiles") return "thresholds";  // --thresholds qNN
  std::string best;
  for (const FieldOption& o : FieldOptions()) {
    const std::string f = o.field;
    if (f == field) return o.option;
    if (f == top) best = o.option;
  }
  return best;
}

Result<std::string> RunRequestJson(const Args& args, const DefaultSymbolFn& default_symbol) {
  rapidjson::Document body;
  body.SetObject();
  if (std::optional<std::string> path = args.Get("config")) {
    std::ifstream in(*path, std::ios::binary);
    if (!in) return InvalidArgumentError("--config: cannot read " + *path);
    std::stringstream text;
    text << in.rdbuf();
    const std::string s = text.str();
    body.Parse(s.c_str(), s.size());
    if (body.HasParseError()) return InvalidArgumentError(*path + ": not valid JSON: " + JsonErrorText(body));
    if (!body.IsObject())
      return InvalidArgumentError(*path + ": must be a JSON object (a POST /evolve body)");
  }
  for (const FieldOption& o : FieldOptions()) {
    if (std::optional<std::string> text = args.Get(o.option))
      EVOLVE_RETURN_IF_ERROR(SetField(body, o, *text));
  }
  if (default_symbol && !body.HasMember("symbol")) {
    EVOLVE_ASSIGN_OR_RETURN(std::string symbol, default_symbol());
    body.AddMember("symbol", rapidjson::Value(symbol.c_str(), body.GetAllocator()), body.GetAllocator());
  }
  return service::JsonOut::Text(body);
}

Result<EvolutionConfig> RunConfigFromArgs(const Args& args, const DefaultSymbolFn& default_symbol,
                                          int default_max_generations, bool* timeframe_given) {
  EVOLVE_ASSIGN_OR_RETURN(std::string json, RunRequestJson(args, default_symbol));
  if (timeframe_given != nullptr) {
    rapidjson::Document body;
    body.Parse(json.c_str(), json.size());
    *timeframe_given = body.IsObject() && body.HasMember("timeframe");
  }
  std::vector<FieldError> errors;
  auto config = EvolutionConfigFromJson(json, &errors, default_max_generations);
  if (config.ok()) return config;
  if (errors.empty()) return config.status();
  std::string message = "invalid run configuration: ";
  for (size_t i = 0; i < errors.size(); ++i) {
    const FieldError& e = errors[i];
    const std::string option = OptionForField(e.field);
    message += (i ? "; " : "") + (e.field.empty() ? std::string("body") : e.field) +
               (option.empty() ? "" : " (--" + option + ")") + ": " + e.message;
  }
  return InvalidArgumentError(message);
}

Result<int> DefaultMaxGenerations() {
  const std::string v = service::Env("DEFAULT_MAX_GENERATIONS");
  if (v.empty()) return EvolutionConfig{}.max_generations;
  auto n = ParseInt("DEFAULT_MAX_GENERATIONS", v);
  if (!n.ok() || *n < 1 || *n > 1000) {
    return InvalidArgumentError("DEFAULT_MAX_GENERATIONS: '" + v + "' is not an integer in [1, 1000]");
  }
  return static_cast<int>(*n);
}

}  // namespace evolve::cli
