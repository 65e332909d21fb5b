// Internal helpers for human-readable messages. Not installed.
#ifndef EVOLVE_SRC_FORMAT_H_
#define EVOLVE_SRC_FORMAT_H_

#include <cstdio>
#include <string>

namespace evolve::internal {

// `v` with at most `digits` significant digits, as "%.*g" prints it:
// messages say "sqn 2.41 < min 3", not "2.410000 < 3.000000".
inline std::string FormatNumber(double v, int digits = 4) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

}  // namespace evolve::internal

#endif  // EVOLVE_SRC_FORMAT_H_
