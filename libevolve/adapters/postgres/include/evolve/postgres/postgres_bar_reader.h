// The bars of a PostgreSQL table as a BarReader (evolve/engines/bar_source.h),
// for `--bars postgresql://...`: a BarsTable's rows under the same bar rules
// as a file's (engines::BarsFromTable).
//
// Thread-safety: as BarsTable (safe for concurrent calls).
#ifndef EVOLVE_POSTGRES_POSTGRES_BAR_READER_H_
#define EVOLVE_POSTGRES_POSTGRES_BAR_READER_H_

#include <memory>
#include <string>

#include "evolve/engines/bar_source.h"
#include "evolve/engines/bars.h"
#include "evolve/postgres/postgres_bars.h"
#include "evolve/status.h"

namespace evolve::postgres {

// Opens the table (BarsTable::Open) with `format.columns` naming its
// columns by role (time or date -> ts; symbol, open, high, low, close,
// volume, vwap, trade_count), and reads its rows with the rest of `format`.
// Errors: as BarsTable::Open; kInvalidArgument for a role a table does not
// take (time_of_day, adj_close: a table's adjusted prices are its own
// columns, named with --bars-columns close=adj_close).
Result<std::unique_ptr<engines::BarReader>> OpenPostgresBarReader(const std::string& url,
                                                                  BarsTableOptions options,
                                                                  engines::BarFormat format);

}  // namespace evolve::postgres

#endif  // EVOLVE_POSTGRES_POSTGRES_BAR_READER_H_
