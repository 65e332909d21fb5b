// A focused reader of flat Parquet files into a BarTable: what bar files
// need, on no library but Debian's decompressors (docs/dependencies.md says
// why not Apache Arrow).
//
// What it reads:
//   * Flat schemas: REQUIRED and OPTIONAL columns (nulls in
//     TableColumn::present). A repeated or nested column is an error naming
//     it.
//   * The footer and page headers in Thrift's compact protocol (decoded here).
//   * Data pages V1 and V2 and dictionary pages, in any number of row groups
//     and pages.
//   * Encodings: PLAIN, PLAIN_DICTIONARY / RLE_DICTIONARY, RLE (definition
//     levels, booleans), DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY,
//     DELTA_BYTE_ARRAY and BYTE_STREAM_SPLIT: everything DuckDB and arrow-rs
//     write for these types (tests/engines/fixtures/parquet/README.md).
//   * Codecs: UNCOMPRESSED, SNAPPY, GZIP, ZSTD (LZ4, LZ4_RAW, BROTLI, LZO
//     are errors naming the codec and the column).
//   * Types, by logical (or legacy converted) type, else physical type:
//       TIMESTAMP(MILLIS|MICROS|NANOS) -> kTimestamp, per_second 1000 / 10^6
//         / 10^9, utc = isAdjustedToUTC (legacy TIMESTAMP_MILLIS/MICROS:
//         utc); INT96 (legacy Impala/Spark) -> kTimestamp in ns, utc;
//       DATE -> kDate;
//       DECIMAL (INT32, INT64, BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY) -> kDouble,
//         unscaled / 10^scale (so 17537 at scale 2 is exactly the double of
//         "175.37");
//       INT(8|16|32|64, signed or not), plain INT32 / INT64, BOOLEAN (0/1)
//         -> kInt64 (a UINT64 above INT64_MAX is an error);
//       FLOAT, DOUBLE -> kDouble (a FLOAT is widened exactly);
//       STRING / UTF8 / ENUM / JSON, plain BYTE_ARRAY and
//         FIXED_LEN_BYTE_ARRAY -> kString (the bytes as they are).
//     TIME, INTERVAL, UUID, FLOAT16 and other types are errors naming the
//     type and the column.
//   * A null's slot holds 0 (ints), NaN (doubles) or "" (strings).
//
// Hostile input: every offset, length and count read from the file is
// checked against the bytes that hold it; what a file may make us allocate
// is capped at 1024 times its size (at least 64 MiB), since Parquet's run
// lengths let a few bytes claim any number of values. Every failure is
// kInvalidArgument naming the file (and the column, row group and page
// where there is one); nothing crashes, nothing reads out of bounds.
//
// Thread-safety: the functions are reentrant.
#ifndef EVOLVE_ENGINES_PARQUET_READER_H_
#define EVOLVE_ENGINES_PARQUET_READER_H_

#include <string>
#include <string_view>
#include <vector>

#include "evolve/engines/bar_table.h"
#include "evolve/status.h"

namespace evolve::engines {

// True when `head` starts with Parquet's magic "PAR1".
bool LooksLikeParquet(std::string_view head);

// Reads every column of a flat Parquet file held in `bytes`. `source_name`
// names the file in messages. Columns keep the file's order and names.
// Errors: kInvalidArgument naming the file and the problem (not Parquet,
// truncated, a nested schema naming the column, an unsupported codec,
// encoding or type naming it and the column, corrupt data).
Result<BarTable> ReadParquet(std::string_view bytes, const std::string& source_name);

// The column names of the file in `bytes` (the whole file), from its footer
// alone: a cheap check of what a file holds. Errors: as ReadParquet, for the
// footer (a nested column is an error here too).
Result<std::vector<std::string>> ReadParquetColumnNames(std::string_view bytes,
                                                        const std::string& source_name);

// One line per column: its name, physical and logical type, codecs, and the
// pages of every row group by kind and encoding ("DATA_PAGE_V2/PLAIN x3"),
// read from the page headers without decoding values: what a writer
// actually emitted (the tests check the fixtures with it; useful to
// diagnose a user's file). Errors: as ReadParquet, for the headers.
Result<std::string> DescribeParquet(std::string_view bytes, const std::string& source_name);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_PARQUET_READER_H_
