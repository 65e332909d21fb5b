#include "serialize.h"

#include <cstring>

namespace evolve::engines {

uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : bytes) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

void BinaryWriter::U16(uint16_t v) {
  U8(static_cast<uint8_t>(v));
  U8(static_cast<uint8_t>(v >> 8));
}

void BinaryWriter::U32(uint32_t v) {
  for (int i = 0; i < 4; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
}

void BinaryWriter::U64(uint64_t v) {
  for (int i = 0; i < 8; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
}

void BinaryWriter::F64(double v) {
  uint64_t bits;
  static_assert(sizeof(bits) == sizeof(v), "double is not 64-bit");
  std::memcpy(&bits, &v, sizeof(bits));
  U64(bits);
}

void BinaryWriter::String(std::string_view s) {
  U64(s.size());
  Raw(s);
}

namespace {

// Whether the host stores integers and doubles as this format does
// (little-endian), so arrays copy as they are.
constexpr bool kLittleEndianHost = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

}  // namespace

void BinaryWriter::F64Vector(const std::vector<double>& v) {
  U64(v.size());
  if (kLittleEndianHost) {
    Raw(std::string_view(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(double)));
    return;
  }
  for (double d : v) F64(d);
}

void BinaryWriter::I64Vector(const std::vector<int64_t>& v) {
  U64(v.size());
  if (kLittleEndianHost) {
    Raw(std::string_view(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(int64_t)));
    return;
  }
  for (int64_t x : v) I64(x);
}

void BinaryWriter::PatchU64(size_t offset, uint64_t v) {
  for (int i = 0; i < 8; ++i) out_[offset + static_cast<size_t>(i)] = static_cast<char>(v >> (8 * i));
}

Status BinaryReader::Need(size_t n, const char* what) const {
  if (remaining() < n) {
    return InvalidArgumentError(std::string("truncated: ") + what + " needs " + std::to_string(n) +
                                " bytes at offset " + std::to_string(pos_) + ", " +
                                std::to_string(remaining()) + " left");
  }
  return Status::Ok();
}

Status BinaryReader::U8(uint8_t* v) {
  EVOLVE_RETURN_IF_ERROR(Need(1, "u8"));
  *v = static_cast<uint8_t>(bytes_[pos_++]);
  return Status::Ok();
}

Status BinaryReader::U16(uint16_t* v) {
  EVOLVE_RETURN_IF_ERROR(Need(2, "u16"));
  uint16_t r = 0;
  for (int i = 0; i < 2; ++i) r |= static_cast<uint16_t>(static_cast<uint8_t>(bytes_[pos_ + i]) << (8 * i));
  pos_ += 2;
  *v = r;
  return Status::Ok();
}

Status BinaryReader::U32(uint32_t* v) {
  EVOLVE_RETURN_IF_ERROR(Need(4, "u32"));
  uint32_t r = 0;
  for (int i = 0; i < 4; ++i) r |= static_cast<uint32_t>(static_cast<uint8_t>(bytes_[pos_ + i])) << (8 * i);
  pos_ += 4;
  *v = r;
  return Status::Ok();
}

Status BinaryReader::U64(uint64_t* v) {
  EVOLVE_RETURN_IF_ERROR(Need(8, "u64"));
  uint64_t r = 0;
  for (int i = 0; i < 8; ++i) r |= static_cast<uint64_t>(static_cast<uint8_t>(bytes_[pos_ + i])) << (8 * i);
  pos_ += 8;
  *v = r;
  return Status::Ok();
}

Status BinaryReader::I32(int32_t* v) {
  uint32_t u;
  EVOLVE_RETURN_IF_ERROR(U32(&u));
  *v = static_cast<int32_t>(u);
  return Status::Ok();
}

Status BinaryReader::I64(int64_t* v) {
  uint64_t u;
  EVOLVE_RETURN_IF_ERROR(U64(&u));
  *v = static_cast<int64_t>(u);
  return Status::Ok();
}

Status BinaryReader::F64(double* v) {
  uint64_t bits;
  EVOLVE_RETURN_IF_ERROR(U64(&bits));
  std::memcpy(v, &bits, sizeof(bits));
  return Status::Ok();
}

Status BinaryReader::Bool(bool* v) {
  uint8_t b;
  EVOLVE_RETURN_IF_ERROR(U8(&b));
  if (b > 1) return InvalidArgumentError("corrupt: boolean byte " + std::to_string(b));
  *v = b == 1;
  return Status::Ok();
}

Status BinaryReader::Count(uint64_t max, size_t min_bytes_each, size_t* count) {
  uint64_t n;
  EVOLVE_RETURN_IF_ERROR(U64(&n));
  if (n > max) {
    return InvalidArgumentError("corrupt: count " + std::to_string(n) + " exceeds " + std::to_string(max));
  }
  if (min_bytes_each > 0 && n > remaining() / min_bytes_each) {
    return InvalidArgumentError("truncated: " + std::to_string(n) + " elements of " +
                                std::to_string(min_bytes_each) + " bytes do not fit in the " +
                                std::to_string(remaining()) + " bytes left");
  }
  *count = static_cast<size_t>(n);
  return Status::Ok();
}

Status BinaryReader::String(std::string* v) {
  size_t n;
  EVOLVE_RETURN_IF_ERROR(Count(UINT64_MAX, 1, &n));
  v->assign(bytes_.data() + pos_, n);
  pos_ += n;
  return Status::Ok();
}

Status BinaryReader::F64Vector(std::vector<double>* v) {
  size_t n;
  EVOLVE_RETURN_IF_ERROR(Count(UINT64_MAX, 8, &n));
  v->resize(n);
  if (kLittleEndianHost) {
    if (n > 0) std::memcpy(v->data(), bytes_.data() + pos_, n * sizeof(double));
    pos_ += n * sizeof(double);
    return Status::Ok();
  }
  for (size_t i = 0; i < n; ++i) EVOLVE_RETURN_IF_ERROR(F64(&(*v)[i]));
  return Status::Ok();
}

Status BinaryReader::I64Vector(std::vector<int64_t>* v) {
  size_t n;
  EVOLVE_RETURN_IF_ERROR(Count(uint64_t{1} << 40, 8, &n));
  v->resize(n);
  if (kLittleEndianHost) {
    if (n > 0) std::memcpy(v->data(), bytes_.data() + pos_, n * sizeof(int64_t));
    pos_ += n * sizeof(int64_t);
    return Status::Ok();
  }
  for (auto& x : *v) EVOLVE_RETURN_IF_ERROR(I64(&x));
  return Status::Ok();
}

Status BinaryReader::ExpectEnd() const {
  if (!at_end()) {
    return InvalidArgumentError("corrupt: " + std::to_string(remaining()) + " unexpected trailing bytes");
  }
  return Status::Ok();
}

std::string WriteEnvelope(std::string_view magic, uint32_t version, std::string_view payload) {
  BinaryWriter w;
  w.Raw(magic);
  w.U32(version);
  w.U64(payload.size());
  w.Raw(payload);
  w.U64(Fnv1a64(payload));
  return w.Release();
}

EnvelopeWriter::EnvelopeWriter(std::string_view magic, uint32_t version, size_t payload_bytes) {
  w_.Reserve(magic.size() + 4 + 8 + payload_bytes + 8);
  w_.Raw(magic);
  w_.U32(version);
  w_.U64(0);  // the length, patched by Finish
  start_ = w_.size();
}

std::string EnvelopeWriter::Finish() && {
  const uint64_t length = w_.size() - start_;
  const uint64_t checksum = Fnv1a64(std::string_view(w_.bytes()).substr(start_));
  w_.PatchU64(start_ - 8, length);
  w_.U64(checksum);
  return w_.Release();
}

Result<Envelope> ReadEnvelope(std::string_view bytes, std::string_view magic, uint32_t max_version,
                              std::string_view what) {
  const std::string prefix = std::string(what) + ": ";
  if (bytes.size() < magic.size() || bytes.substr(0, magic.size()) != magic) {
    return InvalidArgumentError(prefix + "not a serialised " + std::string(what) + " (bad magic)");
  }
  BinaryReader r(bytes.substr(magic.size()));
  Envelope env;
  uint64_t length;
  uint64_t checksum;
  Status s = r.U32(&env.version);
  if (s.ok() && (env.version == 0 || env.version > max_version)) {
    return InvalidArgumentError(prefix + "unsupported format version " + std::to_string(env.version) +
                                " (this build reads versions 1 to " + std::to_string(max_version) + ")");
  }
  if (s.ok()) s = r.U64(&length);
  if (s.ok() && length > r.remaining()) {
    s = InvalidArgumentError("truncated: payload of " + std::to_string(length) + " bytes, " +
                             std::to_string(r.remaining()) + " left");
  }
  if (!s.ok()) return s.WithContext(std::string(what));
  const size_t payload_offset = magic.size() + 4 + 8;
  env.payload = bytes.substr(payload_offset, static_cast<size_t>(length));
  BinaryReader tail(bytes.substr(payload_offset + static_cast<size_t>(length)));
  s = tail.U64(&checksum);
  if (s.ok()) s = tail.ExpectEnd();
  if (!s.ok()) return s.WithContext(std::string(what));
  if (checksum != Fnv1a64(env.payload)) {
    return InvalidArgumentError(prefix + "corrupt: checksum mismatch");
  }
  return env;
}

}  // namespace evolve::engines
