// The schema migrations of sql/sqlite/, compiled in (see CMakeLists.txt).
#ifndef EVOLVE_SQLITE_MIGRATIONS_H_
#define EVOLVE_SQLITE_MIGRATIONS_H_

#include <vector>

namespace evolve::sqlite {

struct Migration {
  int version;       // the NNNN of NNNN_what.sql
  const char* name;  // the file name
  const char* sql;   // one or more statements
};

// In version order, without gaps (checked on open).
const std::vector<Migration>& Migrations();

}  // namespace evolve::sqlite

#endif  // EVOLVE_SQLITE_MIGRATIONS_H_
