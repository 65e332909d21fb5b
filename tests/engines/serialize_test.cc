// The binary encoding of the built-in models: byte layout, bounds-checked
// reading and the versioned, checksummed envelope.
#include "serialize.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace evolve::engines {
namespace {

TEST_CASE("serialize: values are little-endian and round-trip") {
  BinaryWriter w;
  w.U32(0x01020304u);
  const std::string& b = w.bytes();
  REQUIRE(b.size() == 4);
  CHECK(static_cast<uint8_t>(b[0]) == 0x04);
  CHECK(static_cast<uint8_t>(b[3]) == 0x01);

  w.U8(0xab);
  w.U16(0xbeef);
  w.U64(0x0102030405060708ull);
  w.I32(-7);
  w.I64(std::numeric_limits<int64_t>::min());
  w.F64(-0.1);
  w.F64(std::numeric_limits<double>::infinity());
  w.Bool(true);
  w.String("héllo");
  w.F64Vector({1.5, -2.25});
  BinaryReader r(w.bytes());
  uint32_t u32 = 0;
  uint8_t u8 = 0;
  uint16_t u16 = 0;
  uint64_t u64 = 0;
  int32_t i32 = 0;
  int64_t i64 = 0;
  double d1 = 0;
  double d2 = 0;
  bool flag = false;
  std::string s;
  std::vector<double> v;
  REQUIRE(r.U32(&u32).ok());
  REQUIRE(r.U8(&u8).ok());
  REQUIRE(r.U16(&u16).ok());
  REQUIRE(r.U64(&u64).ok());
  REQUIRE(r.I32(&i32).ok());
  REQUIRE(r.I64(&i64).ok());
  REQUIRE(r.F64(&d1).ok());
  REQUIRE(r.F64(&d2).ok());
  REQUIRE(r.Bool(&flag).ok());
  REQUIRE(r.String(&s).ok());
  REQUIRE(r.F64Vector(&v).ok());
  CHECK(r.ExpectEnd().ok());
  CHECK(u32 == 0x01020304u);
  CHECK(u8 == 0xab);
  CHECK(u16 == 0xbeef);
  CHECK(u64 == 0x0102030405060708ull);
  CHECK(i32 == -7);
  CHECK(i64 == std::numeric_limits<int64_t>::min());
  CHECK(d1 == -0.1);
  CHECK(std::isinf(d2));
  CHECK(flag);
  CHECK(s == "héllo");
  CHECK(v == std::vector<double>{1.5, -2.25});
}

TEST_CASE("serialize: reading past the end fails cleanly") {
  BinaryWriter w;
  w.U16(5);
  BinaryReader r(w.bytes());
  uint32_t v = 0;
  const Status s = r.U32(&v);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("truncated") != std::string::npos);

  // A length prefix larger than the bytes left is refused before any
  // allocation.
  BinaryWriter huge;
  huge.U64(uint64_t{1} << 60);
  BinaryReader hr(huge.bytes());
  std::vector<double> out;
  CHECK(hr.F64Vector(&out).code() == StatusCode::kInvalidArgument);
  BinaryReader hr2(huge.bytes());
  std::string str;
  CHECK(hr2.String(&str).code() == StatusCode::kInvalidArgument);

  size_t count = 0;
  BinaryWriter small;
  small.U64(10);
  BinaryReader cr(small.bytes());
  CHECK(cr.Count(5, 0, &count).code() == StatusCode::kInvalidArgument);

  BinaryWriter bad_bool;
  bad_bool.U8(2);
  BinaryReader br(bad_bool.bytes());
  bool b = false;
  CHECK(br.Bool(&b).code() == StatusCode::kInvalidArgument);

  BinaryWriter extra;
  extra.U8(1);
  extra.U8(2);
  BinaryReader er(extra.bytes());
  uint8_t x = 0;
  REQUIRE(er.U8(&x).ok());
  CHECK(er.ExpectEnd().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("serialize: the envelope checks magic, version, length and checksum") {
  const std::string payload = "some model bytes";
  const std::string env = WriteEnvelope("TEST", 2, payload);
  REQUIRE(env.size() == 4 + 4 + 8 + payload.size() + 8);

  auto ok = ReadEnvelope(env, "TEST", 3, "test model");
  REQUIRE(ok.ok());
  CHECK(ok->version == 2);
  CHECK(ok->payload == payload);

  auto wrong_magic = ReadEnvelope(env, "EVRF", 3, "random forest");
  CHECK(wrong_magic.status().code() == StatusCode::kInvalidArgument);
  CHECK(wrong_magic.status().message().find("bad magic") != std::string::npos);

  auto too_new = ReadEnvelope(env, "TEST", 1, "test model");
  CHECK(too_new.status().code() == StatusCode::kInvalidArgument);
  CHECK(too_new.status().message().find("unsupported format version 2") != std::string::npos);

  std::string zero_version = env;
  zero_version[4] = 0;
  CHECK(ReadEnvelope(zero_version, "TEST", 3, "m").status().message().find("version 0") != std::string::npos);

  // Every truncation is an error, never a crash.
  for (size_t len = 0; len < env.size(); ++len) {
    auto r = ReadEnvelope(std::string_view(env).substr(0, len), "TEST", 3, "m");
    CHECK_MESSAGE(r.status().code() == StatusCode::kInvalidArgument, "length " << len);
  }

  std::string flipped = env;
  flipped[20] ^= 0x10;  // inside the payload
  auto corrupt = ReadEnvelope(flipped, "TEST", 3, "m");
  CHECK(corrupt.status().code() == StatusCode::kInvalidArgument);
  CHECK(corrupt.status().message().find("checksum") != std::string::npos);

  auto trailing = ReadEnvelope(env + "x", "TEST", 3, "m");
  CHECK(trailing.status().code() == StatusCode::kInvalidArgument);

  CHECK(Fnv1a64("") == 0xcbf29ce484222325ULL);
  CHECK(Fnv1a64("a") == 0xaf63dc4c8601ec8cULL);
}

TEST_CASE(
    "serialize: arrays are little-endian element by element, and an envelope written in place is "
    "WriteEnvelope's") {
  // Would catch the bulk copy of arrays writing another layout than U64/F64
  // one value at a time, or EnvelopeWriter patching the wrong length or
  // checksumming the header.
  const std::vector<double> doubles = {1.5, -0.0, std::numeric_limits<double>::quiet_NaN(), 1e300};
  const std::vector<int64_t> ints = {0, -1, int64_t{1} << 40, -(int64_t{1} << 62)};
  BinaryWriter bulk, single;
  bulk.F64Vector(doubles);
  bulk.I64Vector(ints);
  single.U64(doubles.size());
  for (double d : doubles) single.F64(d);
  single.U64(ints.size());
  for (int64_t x : ints) single.I64(x);
  CHECK(bulk.bytes() == single.bytes());
  BinaryReader r(bulk.bytes());
  std::vector<double> d;
  std::vector<int64_t> i;
  REQUIRE(r.F64Vector(&d).ok());
  REQUIRE(r.I64Vector(&i).ok());
  CHECK(r.at_end());
  CHECK(i == ints);
  REQUIRE(d.size() == doubles.size());
  CHECK(d[0] == 1.5);
  CHECK(std::signbit(d[1]));
  CHECK(std::isnan(d[2]));
  CHECK(d[3] == 1e300);
  BinaryReader short_read(std::string_view(bulk.bytes()).substr(0, 8 + 8 * 3));
  CHECK(short_read.F64Vector(&d).code() == StatusCode::kInvalidArgument);

  for (size_t reserve : {size_t{0}, size_t{3}, size_t{1000}}) {
    EnvelopeWriter envelope("EVXX", 7, reserve);
    envelope.payload().String("payload");
    envelope.payload().F64Vector(doubles);
    CHECK(std::move(envelope).Finish() == WriteEnvelope("EVXX", 7, [&] {
            BinaryWriter w;
            w.String("payload");
            w.F64Vector(doubles);
            return w.Release();
          }()));
  }
  EnvelopeWriter empty("EVXX", 1);
  const std::string bytes = std::move(empty).Finish();
  auto read = ReadEnvelope(bytes, "EVXX", 1, "thing");
  REQUIRE(read.ok());
  CHECK(read->payload.empty());
}

}  // namespace
}  // namespace evolve::engines
