#include "evolve/service/args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace evolve::service {
namespace {

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

}  // namespace

Result<Args> Args::Parse(const std::string& command, const std::vector<std::string>& argv,
                         const std::vector<OptionSpec>& specs, size_t max_positional) {
  std::map<std::string, const OptionSpec*> by_name;
  for (const OptionSpec& spec : specs) by_name[spec.name] = &spec;
  const std::string help_hint = " (see 'evolve " + command + " --help')";

  Args args;
  bool only_positional = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& word = argv[i];
    if (only_positional || word.size() < 2 || word.compare(0, 2, "--") != 0 || word == "-") {
      if (!only_positional && word.size() > 1 && word[0] == '-' && word != "-") {
        return InvalidArgumentError("unknown option " + word + help_hint);
      }
      if (args.positional_.size() == max_positional) {
        return InvalidArgumentError("unexpected argument '" + word + "'" + help_hint);
      }
      args.positional_.push_back(word);
      continue;
    }
    if (word == "--") {
      only_positional = true;
      continue;
    }
    std::string name = word.substr(2);
    std::optional<std::string> inline_value;
    const size_t eq = name.find('=');
    if (eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto spec = by_name.find(name);
    if (spec == by_name.end()) return InvalidArgumentError("unknown option --" + name + help_hint);
    if (args.values_.count(name) != 0) return InvalidArgumentError("option --" + name + " given twice");
    std::string value;
    if (spec->second->value_name.empty()) {
      if (inline_value.has_value()) return InvalidArgumentError("option --" + name + " takes no value");
    } else if (inline_value.has_value()) {
      value = *inline_value;
    } else if (i + 1 < argv.size()) {
      value = argv[++i];
    } else {
      return InvalidArgumentError("option --" + name + " needs a value (" + spec->second->value_name + ")");
    }
    args.values_[name] = value;
    args.given_.push_back(name);
  }
  return args;
}

std::optional<std::string> Args::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string OptionsHelp(const std::vector<OptionSpec>& specs) {
  size_t width = 0;
  std::vector<std::string> heads;
  for (const OptionSpec& spec : specs) {
    heads.push_back("--" + spec.name + (spec.value_name.empty() ? "" : " " + spec.value_name));
    width = std::max(width, heads.back().size());
  }
  std::string out;
  for (size_t i = 0; i < specs.size(); ++i) {
    out += "  " + heads[i] + std::string(width - heads[i].size() + 2, ' ') + specs[i].help + "\n";
  }
  return out;
}

Result<double> ParseDouble(const std::string& what, const std::string& text) {
  const std::string t = Trim(text);
  char* end = nullptr;
  errno = 0;
  const double v = t.empty() ? 0.0 : std::strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size() || errno == ERANGE || !std::isfinite(v)) {
    return InvalidArgumentError(what + ": '" + text + "' is not a number");
  }
  return v;
}

Result<int64_t> ParseInt(const std::string& what, const std::string& text) {
  const std::string t = Trim(text);
  char* end = nullptr;
  errno = 0;
  const long long v = t.empty() ? 0 : std::strtoll(t.c_str(), &end, 10);
  if (t.empty() || end != t.c_str() + t.size() || errno == ERANGE) {
    return InvalidArgumentError(what + ": '" + text + "' is not an integer");
  }
  return static_cast<int64_t>(v);
}

Result<int> IntOption(const Args& args, const char* name, int fallback, int min, int max) {
  std::optional<std::string> text = args.Get(name);
  if (!text.has_value()) return fallback;
  EVOLVE_ASSIGN_OR_RETURN(int64_t n, ParseInt(std::string("--") + name, *text));
  if (n < min || n > max) {
    return InvalidArgumentError("--" + std::string(name) + ": must be in [" + std::to_string(min) + ", " +
                                std::to_string(max) + "], got " + *text);
  }
  return static_cast<int>(n);
}

Result<std::vector<std::string>> ParseList(const std::string& what, const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string item = Trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (item.empty()) return InvalidArgumentError(what + ": empty item in '" + text + "'");
    items.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

}  // namespace evolve::service
