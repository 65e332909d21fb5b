// Command-line arguments of the binaries (`evolve` and its sub-commands,
// evolve-worker, evolve-engines): `--name value`, `--name=value` and
// `--flag`, checked against the options a command declares, plus positional
// arguments.
#ifndef EVOLVE_SERVICE_ARGS_H_
#define EVOLVE_SERVICE_ARGS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "evolve/status.h"

namespace evolve::service {

struct OptionSpec {
  std::string name;  // without the leading "--"
  std::string value_name;  // empty: a flag that takes no value
  std::string help;
};

class Args {
 public:
  // Parses `argv` (the words after the sub-command). Errors
  // (kInvalidArgument, message naming the option): an option not in `specs`,
  // an option given twice, a missing value, a value given to a flag, more
  // positional arguments than `max_positional`.
  static Result<Args> Parse(const std::string& command, const std::vector<std::string>& argv,
                            const std::vector<OptionSpec>& specs, size_t max_positional);

  bool Has(const std::string& name) const { return values_.count(name) != 0; }
  // The value of an option that takes one, if given.
  std::optional<std::string> Get(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }
  // Options in the order given (for "--resume takes no run options").
  const std::vector<std::string>& given() const { return given_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> given_;
  std::vector<std::string> positional_;
};

// "  --name VALUE   help" lines for a usage text.
std::string OptionsHelp(const std::vector<OptionSpec>& specs);

// Strict number parsing for option values: the whole text must be the
// number. Errors name `what` (e.g. "--sqn-min").
Result<double> ParseDouble(const std::string& what, const std::string& text);
Result<int64_t> ParseInt(const std::string& what, const std::string& text);
// "a,b,c" -> {"a", "b", "c"}, items trimmed; an empty item is an error.
Result<std::vector<std::string>> ParseList(const std::string& what, const std::string& text);

// The integer option --`name` in [min, max]; `fallback` when not given.
// Errors: kInvalidArgument "--name: must be in [min, max], got TEXT".
Result<int> IntOption(const Args& args, const char* name, int fallback, int min, int max);

}  // namespace evolve::service

#endif  // EVOLVE_SERVICE_ARGS_H_
