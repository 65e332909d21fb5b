// Decompression: round trips through zlib, zstd and snappy's own
// compressors, concatenated gzip members and zstd frames, the size cap, and
// corrupt or truncated input (errors, never a crash).
#include "decompress.h"

#include <doctest/doctest.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include <random>
#include <string>

namespace evolve::engines {
namespace {

// Bar-like CSV text: compressible, but not trivially.
std::string SampleText(size_t rows, uint64_t seed = 7) {
  std::mt19937_64 rng(seed);
  std::string text = "Datetime,Open,High,Low,Close,Volume\n";
  for (size_t i = 0; i < rows; ++i) {
    text += "2024-03-04 14:" + std::to_string(10 + i % 50) + ":00," + std::to_string(100 + rng() % 900) +
            "." + std::to_string(rng() % 100) + ",101.5,99.25,100.75," + std::to_string(rng() % 100000) +
            "\n";
  }
  return text;
}

// gzip (windowBits 15 + 16) or zlib (15) by zlib's deflate.
std::string Deflate(const std::string& in, int window_bits = 15 + 16) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&zs, in.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string Zstd(const std::string& in, bool with_size = true) {
  if (with_size) {
    std::string out(ZSTD_compressBound(in.size()), '\0');
    size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
    REQUIRE_FALSE(ZSTD_isError(n));
    out.resize(n);
    return out;
  }
  // Streaming, as `zstd` from a pipe: no content size in the frame header.
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  std::string out(ZSTD_compressBound(in.size()) + 64, '\0');
  ZSTD_inBuffer inb{in.data(), in.size(), 0};
  ZSTD_outBuffer outb{out.data(), out.size(), 0};
  size_t left = 0;
  do {
    left = ZSTD_compressStream2(cctx, &outb, &inb, ZSTD_e_end);
    REQUIRE_FALSE(ZSTD_isError(left));
  } while (left != 0);
  ZSTD_freeCCtx(cctx);
  out.resize(outb.pos);
  return out;
}

std::string Snappy(const std::string& in) {
  std::string out(snappy_max_compressed_length(in.size()), '\0');
  size_t n = out.size();
  REQUIRE(snappy_compress(in.data(), in.size(), out.data(), &n) == SNAPPY_OK);
  out.resize(n);
  return out;
}

TEST_CASE("decompress: blocks round-trip through zlib zstd and snappy") {
  for (size_t rows : {0, 1, 100, 20000}) {
    CAPTURE(rows);
    const std::string text = SampleText(rows);
    auto none = DecompressBlock(Codec::kNone, text, text.size());
    REQUIRE(none.ok());
    CHECK(*none == text);
    auto gz = DecompressBlock(Codec::kGzip, Deflate(text), text.size());
    REQUIRE(gz.ok());
    CHECK(*gz == text);
    auto zlib = DecompressBlock(Codec::kGzip, Deflate(text, 15), text.size());  // zlib headers too
    REQUIRE(zlib.ok());
    CHECK(*zlib == text);
    auto zs = DecompressBlock(Codec::kZstd, Zstd(text), text.size());
    REQUIRE(zs.ok());
    CHECK(*zs == text);
    auto sn = DecompressBlock(Codec::kSnappy, Snappy(text), text.size());
    REQUIRE(sn.ok());
    CHECK(*sn == text);
  }
}

TEST_CASE("decompress: a block whose size differs from the declared one is refused") {
  const std::string text = SampleText(200);
  for (Codec codec : {Codec::kNone, Codec::kGzip, Codec::kZstd, Codec::kSnappy}) {
    CAPTURE(CodecName(codec));
    const std::string packed = codec == Codec::kGzip     ? Deflate(text)
                               : codec == Codec::kZstd   ? Zstd(text)
                               : codec == Codec::kSnappy ? Snappy(text)
                                                         : text;
    for (size_t size : {text.size() - 1, text.size() + 1, size_t{0}}) {
      auto r = DecompressBlock(codec, packed, size);
      CHECK(r.status().code() == StatusCode::kInvalidArgument);
    }
  }
}

TEST_CASE("decompress: corrupt and truncated blocks are errors") {
  const std::string text = SampleText(500);
  for (Codec codec : {Codec::kGzip, Codec::kZstd, Codec::kSnappy}) {
    CAPTURE(CodecName(codec));
    const std::string packed = codec == Codec::kGzip   ? Deflate(text)
                               : codec == Codec::kZstd ? Zstd(text)
                                                       : Snappy(text);
    // Truncated anywhere.
    for (size_t keep = 0; keep < packed.size(); keep += 1 + packed.size() / 97) {
      auto r = DecompressBlock(codec, packed.substr(0, keep), text.size());
      CHECK(r.status().code() == StatusCode::kInvalidArgument);
    }
    // Bytes flipped anywhere: an error or (snappy has no checksum) other
    // bytes, never a crash.
    for (size_t at = 0; at < packed.size(); at += 1 + packed.size() / 211) {
      std::string bad = packed;
      bad[at] = static_cast<char>(bad[at] ^ 0x5a);
      auto r = DecompressBlock(codec, bad, text.size());
      if (!r.ok()) CHECK(r.status().code() == StatusCode::kInvalidArgument);
    }
  }
  // gzip's CRC catches a flipped byte in the deflate data.
  std::string gz = Deflate(text);
  gz[gz.size() / 2] = static_cast<char>(gz[gz.size() / 2] ^ 0x01);
  CHECK(DecompressBlock(Codec::kGzip, gz, text.size()).status().code() == StatusCode::kInvalidArgument);
  // A snappy header that claims far more than its bytes could expand to.
  const std::string lie("\xff\xff\xff\x7f\x00", 5);
  auto r = DecompressBlock(Codec::kSnappy, lie, 0x0fffffff);
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("decompress: files of several gzip members or zstd frames") {
  const std::string a = SampleText(3000, 1), b = SampleText(10, 2), c = SampleText(5000, 3);
  auto gz = DecompressFile(Codec::kGzip, Deflate(a) + Deflate(b) + Deflate(c), "bars.csv.gz", 1 << 30);
  REQUIRE(gz.ok());
  CHECK(*gz == a + b + c);
  // Trailing zeros (tar's padding) are ignored.
  auto padded = DecompressFile(Codec::kGzip, Deflate(a) + std::string(512, '\0'), "bars.csv.gz", 1 << 30);
  REQUIRE(padded.ok());
  CHECK(*padded == a);
  // Frames with and without a content size, mixed.
  auto zs = DecompressFile(Codec::kZstd, Zstd(a) + Zstd(b, false) + Zstd(c), "bars.csv.zst", 1 << 30);
  REQUIRE(zs.ok());
  CHECK(*zs == a + b + c);
  auto unsized = DecompressFile(Codec::kZstd, Zstd(c, false), "bars.csv.zst", 1 << 30);
  REQUIRE(unsized.ok());
  CHECK(*unsized == c);
  // A big, very compressible file: many doublings of the output buffer.
  const std::string big(20 << 20, 'x');
  auto many = DecompressFile(Codec::kGzip, Deflate(big), "big.csv.gz", size_t{1} << 30);
  REQUIRE(many.ok());
  CHECK(*many == big);
  auto snappy = DecompressFile(Codec::kSnappy, Snappy(a), "bars.snappy", 1 << 30);
  REQUIRE(snappy.ok());
  CHECK(*snappy == a);
  auto none = DecompressFile(Codec::kNone, a, "bars.csv", 1 << 30);
  REQUIRE(none.ok());
  CHECK(*none == a);
  // Empty content is fine when it is a valid stream.
  auto empty = DecompressFile(Codec::kGzip, Deflate(""), "empty.csv.gz", 100);
  REQUIRE(empty.ok());
  CHECK(empty->empty());
}

TEST_CASE("decompress: the size cap fires at one byte over") {
  const std::string text = SampleText(4000);
  for (Codec codec : {Codec::kGzip, Codec::kZstd, Codec::kSnappy, Codec::kNone}) {
    CAPTURE(CodecName(codec));
    const std::string packed = codec == Codec::kGzip     ? Deflate(text)
                               : codec == Codec::kZstd   ? Zstd(text)
                               : codec == Codec::kSnappy ? Snappy(text)
                                                         : text;
    auto exact = DecompressFile(codec, packed, "bars.csv.x", text.size());
    REQUIRE(exact.ok());
    CHECK(*exact == text);
    auto over = DecompressFile(codec, packed, "bars.csv.x", text.size() - 1);
    CHECK(over.status().code() == StatusCode::kResourceExhausted);
    CHECK(over.status().message().find("bars.csv.x") != std::string::npos);
  }
  // Without a content size in the frame, the cap fires while decoding.
  auto unsized = DecompressFile(Codec::kZstd, Zstd(text, false), "u.zst", 1000);
  CHECK(unsized.status().code() == StatusCode::kResourceExhausted);
  // A gzip bomb: 64 MiB of zeros in about 64 KB, capped at 1 MiB.
  const std::string zeros(64 << 20, '\0');
  const std::string bomb = Deflate(zeros);
  CHECK(bomb.size() < (1 << 20));
  auto r = DecompressFile(Codec::kGzip, bomb, "bomb.csv.gz", 1 << 20);
  CHECK(r.status().code() == StatusCode::kResourceExhausted);
}

TEST_CASE("decompress: corrupt or truncated files name the file") {
  const std::string text = SampleText(3000);
  const std::string gz = Deflate(text);
  auto cut = DecompressFile(Codec::kGzip, gz.substr(0, gz.size() / 2), "cut.csv.gz", 1 << 30);
  CHECK(cut.status().code() == StatusCode::kInvalidArgument);
  CHECK(cut.status().message().find("cut.csv.gz: truncated gzip") == 0);
  // Cut inside the trailer (CRC, size) too.
  auto no_trailer = DecompressFile(Codec::kGzip, gz.substr(0, gz.size() - 3), "t.csv.gz", 1 << 30);
  CHECK(no_trailer.status().code() == StatusCode::kInvalidArgument);
  std::string flipped = gz;
  flipped[gz.size() / 3] = static_cast<char>(flipped[gz.size() / 3] ^ 0x10);
  auto bad = DecompressFile(Codec::kGzip, flipped, "bad.csv.gz", 1 << 30);
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message().find("bad.csv.gz: ") == 0);
  auto garbage = DecompressFile(Codec::kGzip, gz + "garbage", "g.csv.gz", 1 << 30);
  CHECK(garbage.status().code() == StatusCode::kInvalidArgument);
  CHECK(DecompressFile(Codec::kGzip, "", "e.csv.gz", 100).status().code() == StatusCode::kInvalidArgument);
  CHECK(DecompressFile(Codec::kGzip, "not gzip at all", "n.csv.gz", 100).status().code() ==
        StatusCode::kInvalidArgument);

  const std::string zs = Zstd(text);
  for (bool with_size : {true, false}) {
    const std::string z = with_size ? zs : Zstd(text, false);
    auto zcut = DecompressFile(Codec::kZstd, z.substr(0, z.size() - 5), "cut.csv.zst", 1 << 30);
    CHECK(zcut.status().code() == StatusCode::kInvalidArgument);
    CHECK(zcut.status().message().find("cut.csv.zst: ") == 0);
  }
  CHECK(DecompressFile(Codec::kZstd, zs + "junk", "j.csv.zst", 1 << 30).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(DecompressFile(Codec::kZstd, "", "e.csv.zst", 100).status().code() == StatusCode::kInvalidArgument);
  // Flipped bytes anywhere: an error or other bytes, never a crash.
  for (const std::string* packed : {&gz, &zs}) {
    for (size_t at = 0; at < packed->size(); at += 1 + packed->size() / 301) {
      std::string b = *packed;
      b[at] = static_cast<char>(b[at] ^ 0xa5);
      auto r = DecompressFile(packed == &gz ? Codec::kGzip : Codec::kZstd, b, "f", 1 << 30);
      if (!r.ok()) {
        CHECK((r.status().code() == StatusCode::kInvalidArgument ||
               r.status().code() == StatusCode::kResourceExhausted));
      }
    }
  }
  CHECK(DecompressFile(Codec::kSnappy, "\x05", "s.snappy", 100).status().code() ==
        StatusCode::kInvalidArgument);
}

TEST_CASE("decompress: codecs sniffed from magic bytes") {
  CHECK(SniffCodec(Deflate("x")) == Codec::kGzip);
  CHECK(SniffCodec(Zstd("x")) == Codec::kZstd);
  CHECK(SniffCodec("Datetime,Open") == Codec::kNone);
  CHECK(SniffCodec("") == Codec::kNone);
  CHECK(SniffCodec("\x1f") == Codec::kNone);
  CHECK(SniffCodec(std::string("\x28\xb5\x2f", 3)) == Codec::kNone);
  CHECK(SniffCodec("PAR1") == Codec::kNone);
}

}  // namespace
}  // namespace evolve::engines
