// Decompression of gzip, zstd and snappy data: blocks of known size (a
// Parquet page) and whole files of unknown size (a .csv.gz or .csv.zst bar
// file), on Debian's zlib, libzstd and libsnappy.
//
// Every error is a Status, never an exception or a crash: corrupt,
// truncated or oversized input gives kInvalidArgument (or kResourceExhausted
// for a file that would decompress beyond the caller's cap), and no output
// is allocated beyond the size the caller allows.
//
// Thread-safety: the functions are reentrant (each call has its own
// decompression state).
#ifndef EVOLVE_ENGINES_DECOMPRESS_H_
#define EVOLVE_ENGINES_DECOMPRESS_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "evolve/status.h"

namespace evolve::engines {

enum class Codec { kNone, kSnappy, kGzip, kZstd };

// "none", "snappy", "gzip", "zstd".
const char* CodecName(Codec codec);

// Decompresses a block whose decompressed size is known (a Parquet page):
// kNone copies; kSnappy is a raw snappy block; kGzip is gzip (RFC 1952) or
// zlib (RFC 1950) data, members concatenated allowed; kZstd is one or more
// zstd frames.
// Errors: kInvalidArgument when the data is corrupt or truncated, or its
// decompressed size differs from `uncompressed_size`.
Result<std::string> DecompressBlock(Codec codec, std::string_view in, size_t uncompressed_size);

// The same into `*out` (resized to `uncompressed_size`), reusing its
// capacity: the Parquet reader decompresses every page into one buffer.
Status DecompressBlockInto(Codec codec, std::string_view in, size_t uncompressed_size, std::string* out);

// Decompresses a whole file of unknown decompressed size: gzip (several
// members concatenated too; trailing zero bytes, as tar pads, are ignored),
// zstd (several frames too, with or without a content size; skippable
// frames are skipped), a raw snappy block, or kNone (a copy).
// Errors: kInvalidArgument naming `source_name` when the data is corrupt or
// truncated; kResourceExhausted naming it when the output would exceed
// `max_bytes`.
Result<std::string> DecompressFile(Codec codec, std::string_view in, const std::string& source_name,
                                   size_t max_bytes);

// kGzip for data starting with gzip's magic (1f 8b), kZstd for zstd's
// (28 b5 2f fd), else kNone: for naming a file whose extension lies.
Codec SniffCodec(std::string_view head);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_DECOMPRESS_H_
