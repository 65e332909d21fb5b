// Collecting the FieldErrors of one document or struct: field paths, and the
// problems found so far. Shared by the JSON reader (json.cc), the parser
// (json_document.cc) and the value rules (validation.cc). Not installed.
#ifndef EVOLVE_SRC_FIELD_ERRORS_H_
#define EVOLVE_SRC_FIELD_ERRORS_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "evolve/status.h"
#include "evolve/validation.h"

namespace evolve::internal {

// The path of member `name` of the object at `path`: "config.sqn_min", or
// "symbol" at the top.
inline std::string FieldPath(const std::string& path, std::string_view name) {
  std::string out = path;
  if (!out.empty()) out += '.';
  out += name;
  return out;
}

// The path of element `index` of the array at `path`: "thresholds[2]".
inline std::string ItemPath(const std::string& path, std::size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

// The problems found in one document or struct, in the order found.
class Problems {
 public:
  // Returns false, so that readers and rules can `return Fail(...)`.
  bool Fail(std::string field, std::string message) {
    list_.push_back(FieldError{std::move(field), std::move(message)});
    return false;
  }

  // True when something at `path` or inside it (path.x, path[i]) was
  // reported: value rules skip such fields, so each gets one message.
  bool Has(const std::string& path) const {
    for (const FieldError& e : list_) {
      if (e.field.compare(0, path.size(), path) != 0) continue;
      if (e.field.size() == path.size() || e.field[path.size()] == '.' || e.field[path.size()] == '[') {
        return true;
      }
    }
    return false;
  }

  std::size_t size() const { return list_.size(); }
  const std::vector<FieldError>& list() const { return list_; }

  // FieldErrorsToStatus of the problems; when `errors` is given, they are
  // also appended to it.
  Status ToStatus(std::vector<FieldError>* errors) const {
    if (errors != nullptr) errors->insert(errors->end(), list_.begin(), list_.end());
    return FieldErrorsToStatus(list_);
  }

 private:
  std::vector<FieldError> list_;
};

}  // namespace evolve::internal

#endif  // EVOLVE_SRC_FIELD_ERRORS_H_
