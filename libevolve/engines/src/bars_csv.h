// What the directory reader asks of a CSV file before reading it whole.
#ifndef EVOLVE_ENGINES_BARS_CSV_H_
#define EVOLVE_ENGINES_BARS_CSV_H_

#include <string>
#include <string_view>

#include "evolve/engines/bars.h"
#include "evolve/status.h"

namespace evolve::engines {

// Whether the header at the start of `head` (the first lines of a file)
// has a symbol column, making the file a long one of many symbols.
// Errors: kInvalidArgument "file:line: ..." when the header cannot be read
// (as ParseBarsCsvFile would refuse it).
Result<bool> CsvHeaderHasSymbol(std::string_view head, const std::string& source_name,
                                const BarFormat& format);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_BARS_CSV_H_
