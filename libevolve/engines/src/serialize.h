// Versioned little-endian binary encoding for the built-in models.
//
// Every serialised model is one envelope:
//
//   magic      4 bytes, names the model kind ("EVRF" forest, "EVEN" ElasticNet)
//   version    u32, the model's format version
//   length     u64, bytes of payload that follow
//   payload    `length` bytes, written with BinaryWriter
//   checksum   u64, FNV-1a of the payload
//
// Integers and doubles are little-endian whatever the host; strings and
// vectors are length-prefixed (u64). BinaryReader checks every read against
// the bytes left and fails with kInvalidArgument (never reads out of bounds,
// never allocates more than the input could hold), so truncated or corrupted
// bytes give a clear error instead of a crash.
//
// Thread-safety: writers and readers are single-threaded values.
#ifndef EVOLVE_ENGINES_SERIALIZE_H_
#define EVOLVE_ENGINES_SERIALIZE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "evolve/status.h"

namespace evolve::engines {

// FNV-1a 64-bit hash of `bytes` (the envelope checksum).
uint64_t Fnv1a64(std::string_view bytes);

// Appends little-endian values to a byte string.
class BinaryWriter {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(uint16_t v);
  void U32(uint32_t v);
  void U64(uint64_t v);
  void I32(int32_t v) { U32(static_cast<uint32_t>(v)); }
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void F64(double v);
  void Bool(bool v) { U8(v ? 1 : 0); }
  // u64 length, then the bytes.
  void String(std::string_view s);
  // u64 count, then each element.
  void F64Vector(const std::vector<double>& v);
  void I64Vector(const std::vector<int64_t>& v);
  // Raw bytes, no prefix.
  void Raw(std::string_view bytes) { out_.append(bytes.data(), bytes.size()); }
  // Room for `bytes` in all: a writer of a large payload that knows its
  // size allocates it once (no doubling, no copy on growth).
  void Reserve(size_t bytes) { out_.reserve(bytes); }
  // Overwrites the u64 at `offset` (written before).
  void PatchU64(size_t offset, uint64_t v);

  size_t size() const { return out_.size(); }
  const std::string& bytes() const { return out_; }
  std::string Release() { return std::move(out_); }

 private:
  std::string out_;
};

// Reads what BinaryWriter wrote, bounds-checked. Each method returns
// kInvalidArgument ("truncated: ...") when fewer bytes are left than needed.
class BinaryReader {
 public:
  explicit BinaryReader(std::string_view bytes) : bytes_(bytes) {}

  Status U8(uint8_t* v);
  Status U16(uint16_t* v);
  Status U32(uint32_t* v);
  Status U64(uint64_t* v);
  Status I32(int32_t* v);
  Status I64(int64_t* v);
  Status F64(double* v);
  // Fails on any byte other than 0 or 1.
  Status Bool(bool* v);
  Status String(std::string* v);
  Status F64Vector(std::vector<double>* v);
  Status I64Vector(std::vector<int64_t>* v);
  // A u64 element count that must be <= `max` and whose elements, at
  // `min_bytes_each`, must fit in what is left (guards allocations).
  Status Count(uint64_t max, size_t min_bytes_each, size_t* count);

  size_t remaining() const { return bytes_.size() - pos_; }
  bool at_end() const { return pos_ == bytes_.size(); }
  // kInvalidArgument when bytes are left over (a corrupt length somewhere).
  Status ExpectEnd() const;

 private:
  Status Need(size_t n, const char* what) const;

  std::string_view bytes_;
  size_t pos_ = 0;
};

// Wraps `payload` in the envelope described above.
std::string WriteEnvelope(std::string_view magic, uint32_t version, std::string_view payload);

// An envelope written in one buffer: the header now, the payload through
// payload(), the length and checksum by Finish. The bytes are
// WriteEnvelope's for the same payload, without the payload's copy, which
// for the bars and simulation data of a long series is gigabytes.
// `payload_bytes` (the payload's size, or an estimate) is reserved at once.
class EnvelopeWriter {
 public:
  EnvelopeWriter(std::string_view magic, uint32_t version, size_t payload_bytes = 0);
  BinaryWriter& payload() { return w_; }
  std::string Finish() &&;

 private:
  BinaryWriter w_;
  size_t start_;  // offset of the payload
};

// An envelope's payload and version once magic, version, length and
// checksum are checked.
struct Envelope {
  uint32_t version = 0;
  std::string_view payload;  // points into the bytes given to ReadEnvelope
};

// Checks `bytes` is an envelope of kind `magic` whose version is in
// [1, max_version]. Errors (kInvalidArgument): wrong magic ("not a <what>"),
// unsupported version, truncated, trailing bytes, checksum mismatch.
// `what` names the model kind in messages ("random forest").
Result<Envelope> ReadEnvelope(std::string_view bytes, std::string_view magic, uint32_t max_version,
                              std::string_view what);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_SERIALIZE_H_
