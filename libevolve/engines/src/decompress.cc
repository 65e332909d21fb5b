// gzip through zlib's inflate, zstd through libzstd's streaming decoder,
// snappy through libsnappy's C API. Blocks decompress straight into a buffer
// of the declared size; files grow their buffer by doubling up to the
// caller's cap, so a small hostile file cannot make us allocate gigabytes.
#include "decompress.h"

#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <memory>

namespace evolve::engines {
namespace {

// The most a file's first output buffer is allocated from its compressed
// size (it grows by doubling after that, up to the cap): enough for typical
// CSV ratios (4-10x) in one or two steps, and no trust in sizes a file
// declares.
constexpr size_t kInitialRatio = 8;
constexpr size_t kMinInitial = 64 << 10;

// zlib counts in uInt: feed it at most this much at a time.
constexpr size_t kZlibChunk = UINT_MAX;

std::string SizeText(size_t n) { return std::to_string(n) + " bytes"; }

// An inflate stream that ends itself. windowBits 15 + 32: gzip or zlib
// headers, detected (Parquet's GZIP is gzip; some old writers used zlib).
class Inflater {
 public:
  Inflater() { ok_ = inflateInit2(&zs_, 15 + 32) == Z_OK; }
  ~Inflater() {
    if (ok_) inflateEnd(&zs_);
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  bool ok() const { return ok_; }
  z_stream* get() { return &zs_; }

 private:
  z_stream zs_{};
  bool ok_ = false;
};

std::string ZlibMessage(const z_stream& zs, int ret) {
  if (zs.msg != nullptr) return zs.msg;
  return "zlib error " + std::to_string(ret);
}

struct DCtxFree {
  void operator()(ZSTD_DCtx* ctx) const { ZSTD_freeDCtx(ctx); }
};

// One decompression context per thread, reused: creating one costs more
// than decompressing a small page.
ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxFree> ctx(ZSTD_createDCtx());
  if (ctx) ZSTD_DCtx_reset(ctx.get(), ZSTD_reset_session_and_parameters);
  return ctx.get();
}

bool AllZero(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == 0; });
}

bool IsGzipMagic(std::string_view s) {
  return s.size() >= 2 && static_cast<uint8_t>(s[0]) == 0x1f && static_cast<uint8_t>(s[1]) == 0x8b;
}

// Makes room in `out` for more output: doubles it, up to `cap` bytes.
// False when it is at the cap already.
bool Grow(std::string* out, size_t first, size_t cap) {
  if (out->size() >= cap) return false;
  size_t next = out->empty() ? first : (out->size() > cap / 2 ? cap : out->size() * 2);
  out->resize(std::min(std::max(next, size_t{1}), cap));
  return true;
}

Status InflateBlock(std::string_view in, size_t size, std::string* out) {
  Inflater inflater;
  if (!inflater.ok()) return InternalError("gzip: inflateInit2 failed");
  z_stream* zs = inflater.get();
  size_t in_pos = 0;
  size_t produced = 0;
  while (true) {
    zs->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + in_pos));
    zs->avail_in = static_cast<uInt>(std::min(in.size() - in_pos, kZlibChunk));
    // One spare byte beyond the declared size is never written: zlib sees
    // a full buffer and stops, and a longer stream is caught below.
    zs->next_out = reinterpret_cast<Bytef*>(out->data() + produced);
    zs->avail_out = static_cast<uInt>(std::min(size - produced, kZlibChunk));
    const uInt avail_in = zs->avail_in;
    const uInt avail_out = zs->avail_out;
    int ret = inflate(zs, Z_NO_FLUSH);
    in_pos += avail_in - zs->avail_in;
    produced += avail_out - zs->avail_out;
    if (ret == Z_STREAM_END) {
      // Another gzip member may follow (concatenated members are one stream).
      if (produced < size && IsGzipMagic(in.substr(in_pos))) {
        inflateReset(zs);
        continue;
      }
      break;
    }
    if (ret == Z_OK) continue;
    if (ret == Z_BUF_ERROR) {
      if (produced == size) {
        return InvalidArgumentError("gzip data decompresses to more than the declared " + SizeText(size));
      }
      return InvalidArgumentError("truncated gzip data (" + SizeText(produced) + " of the declared " +
                                  SizeText(size) + ")");
    }
    return InvalidArgumentError("corrupt gzip data (" + ZlibMessage(*zs, ret) + ")");
  }
  if (produced != size) {
    return InvalidArgumentError("gzip data decompresses to " + SizeText(produced) + ", not the declared " +
                                SizeText(size));
  }
  return Status::Ok();
}

Result<std::string> InflateFile(std::string_view in, const std::string& source_name, size_t max_bytes) {
  Inflater inflater;
  if (!inflater.ok()) return InternalError(source_name + ": gzip: inflateInit2 failed");
  z_stream* zs = inflater.get();
  // One byte beyond the cap tells "exactly max_bytes" from "more".
  const size_t cap = max_bytes == SIZE_MAX ? max_bytes : max_bytes + 1;
  const size_t first = std::min(cap, std::max(kMinInitial, in.size() * kInitialRatio));
  std::string out;
  size_t in_pos = 0;
  size_t produced = 0;
  while (true) {
    if (produced == out.size() && !Grow(&out, first, cap)) {
      return ResourceExhaustedError(source_name + ": decompresses to more than " + SizeText(max_bytes));
    }
    zs->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + in_pos));
    zs->avail_in = static_cast<uInt>(std::min(in.size() - in_pos, kZlibChunk));
    zs->next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs->avail_out = static_cast<uInt>(std::min(out.size() - produced, kZlibChunk));
    const uInt avail_in = zs->avail_in;
    const uInt avail_out = zs->avail_out;
    int ret = inflate(zs, Z_NO_FLUSH);
    in_pos += avail_in - zs->avail_in;
    produced += avail_out - zs->avail_out;
    if (ret == Z_STREAM_END) {
      std::string_view rest = in.substr(in_pos);
      if (rest.empty() || AllZero(rest)) break;  // tar and some tools pad with zeros
      if (!IsGzipMagic(rest)) {
        return InvalidArgumentError(source_name + ": unexpected data after the gzip stream at byte " +
                                    std::to_string(in_pos));
      }
      inflateReset(zs);  // the next member
      continue;
    }
    if (ret == Z_OK) continue;
    if (ret == Z_BUF_ERROR && zs->avail_out == 0) continue;  // output full: grow
    if (ret == Z_BUF_ERROR) {
      return InvalidArgumentError(source_name + ": truncated gzip data (it ends after " +
                                  SizeText(in.size()) + " in the middle of a member)");
    }
    return InvalidArgumentError(source_name + ": corrupt gzip data (" + ZlibMessage(*zs, ret) + ")");
  }
  if (produced > max_bytes) {
    return ResourceExhaustedError(source_name + ": decompresses to more than " + SizeText(max_bytes));
  }
  out.resize(produced);
  return out;
}

Result<std::string> ZstdFile(std::string_view in, const std::string& source_name, size_t max_bytes) {
  ZSTD_DCtx* ds = ThreadDCtx();
  if (ds == nullptr) return InternalError(source_name + ": ZSTD_createDCtx failed");
  const size_t cap = max_bytes == SIZE_MAX ? max_bytes : max_bytes + 1;
  // The first frame's declared content size, when it has one, may size the
  // buffer (libzstd checks a frame's content against it) but never beyond
  // kInitialRatio times the input at first: a declared size is not trusted
  // with an allocation. (ZSTD_findDecompressedSize, for all frames, is not
  // in libzstd's stable API.)
  size_t first = std::max(kMinInitial, in.size() * kInitialRatio);
  unsigned long long declared = ZSTD_getFrameContentSize(in.data(), in.size());
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != ZSTD_CONTENTSIZE_ERROR) {
    if (declared > max_bytes) {
      return ResourceExhaustedError(source_name + ": decompresses to more than " + SizeText(max_bytes) +
                                    " (its first frame declares " + std::to_string(declared) + " bytes)");
    }
    first = std::min<size_t>(first, static_cast<size_t>(declared) + 1);
  }
  first = std::min(first, cap);
  std::string out;
  ZSTD_inBuffer inb{in.data(), in.size(), 0};
  size_t produced = 0;
  while (true) {
    if (produced == out.size() && !Grow(&out, first, cap)) {
      return ResourceExhaustedError(source_name + ": decompresses to more than " + SizeText(max_bytes));
    }
    ZSTD_outBuffer outb{out.data() + produced, out.size() - produced, 0};
    size_t ret = ZSTD_decompressStream(ds, &outb, &inb);
    if (ZSTD_isError(ret)) {
      return InvalidArgumentError(source_name + ": corrupt zstd data (" + ZSTD_getErrorName(ret) + ")");
    }
    produced += outb.pos;
    // ret == 0: a frame is complete and flushed; another may follow.
    if (inb.pos == inb.size && ret == 0) break;
    if (inb.pos == inb.size && outb.pos < outb.size) {
      return InvalidArgumentError(source_name + ": truncated zstd data (it ends after " +
                                  SizeText(in.size()) + " in the middle of a frame)");
    }
  }
  if (produced > max_bytes) {
    return ResourceExhaustedError(source_name + ": decompresses to more than " + SizeText(max_bytes));
  }
  out.resize(produced);
  return out;
}

}  // namespace

const char* CodecName(Codec codec) {
  switch (codec) {
    case Codec::kNone:
      return "none";
    case Codec::kSnappy:
      return "snappy";
    case Codec::kGzip:
      return "gzip";
    case Codec::kZstd:
      return "zstd";
  }
  return "?";
}

Status DecompressBlockInto(Codec codec, std::string_view in, size_t uncompressed_size, std::string* out) {
  switch (codec) {
    case Codec::kNone:
      if (in.size() != uncompressed_size) {
        return InvalidArgumentError("uncompressed data of " + SizeText(in.size()) + ", not the declared " +
                                    SizeText(uncompressed_size));
      }
      out->assign(in.data(), in.size());
      return Status::Ok();
    case Codec::kSnappy: {
      size_t length = 0;
      if (snappy_uncompressed_length(in.data(), in.size(), &length) != SNAPPY_OK) {
        return InvalidArgumentError("corrupt snappy data (no valid length header)");
      }
      if (length != uncompressed_size) {
        return InvalidArgumentError("snappy data of " + SizeText(length) + ", not the declared " +
                                    SizeText(uncompressed_size));
      }
      // A snappy block cannot expand more than about 1:21 (a 3-byte copy of
      // 64 bytes): a larger length is a lie, not worth allocating.
      if (length / 32 > in.size()) {
        return InvalidArgumentError("corrupt snappy data (declares " + SizeText(length) + " from " +
                                    SizeText(in.size()) + ")");
      }
      out->resize(length);
      size_t written = length;
      if (snappy_uncompress(in.data(), in.size(), out->data(), &written) != SNAPPY_OK || written != length) {
        return InvalidArgumentError("corrupt snappy data");
      }
      return Status::Ok();
    }
    case Codec::kGzip:
      out->resize(uncompressed_size);
      return InflateBlock(in, uncompressed_size, out);
    case Codec::kZstd: {
      ZSTD_DCtx* ctx = ThreadDCtx();
      if (ctx == nullptr) return InternalError("ZSTD_createDCtx failed");
      out->resize(uncompressed_size);
      size_t n = ZSTD_decompressDCtx(ctx, out->data(), out->size(), in.data(), in.size());
      if (ZSTD_isError(n)) {
        if (ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall) {
          return InvalidArgumentError("zstd data decompresses to more than the declared " +
                                      SizeText(uncompressed_size));
        }
        return InvalidArgumentError(std::string("corrupt zstd data (") + ZSTD_getErrorName(n) + ")");
      }
      if (n != uncompressed_size) {
        return InvalidArgumentError("zstd data decompresses to " + SizeText(n) + ", not the declared " +
                                    SizeText(uncompressed_size));
      }
      return Status::Ok();
    }
  }
  return InvalidArgumentError("unknown codec");
}

Result<std::string> DecompressBlock(Codec codec, std::string_view in, size_t uncompressed_size) {
  std::string out;
  EVOLVE_RETURN_IF_ERROR(DecompressBlockInto(codec, in, uncompressed_size, &out));
  return out;
}

Result<std::string> DecompressFile(Codec codec, std::string_view in, const std::string& source_name,
                                   size_t max_bytes) {
  switch (codec) {
    case Codec::kNone:
      if (in.size() > max_bytes) {
        return ResourceExhaustedError(source_name + ": larger than " + SizeText(max_bytes));
      }
      return std::string(in);
    case Codec::kSnappy: {
      size_t length = 0;
      if (snappy_uncompressed_length(in.data(), in.size(), &length) != SNAPPY_OK) {
        return InvalidArgumentError(source_name + ": corrupt snappy data (no valid length header)");
      }
      if (length > max_bytes) {
        return ResourceExhaustedError(source_name + ": decompresses to more than " + SizeText(max_bytes));
      }
      std::string out;
      Status s = DecompressBlockInto(Codec::kSnappy, in, length, &out);
      if (!s.ok()) return s.WithContext(source_name);
      return out;
    }
    case Codec::kGzip:
      return InflateFile(in, source_name, max_bytes);
    case Codec::kZstd:
      return ZstdFile(in, source_name, max_bytes);
  }
  return InvalidArgumentError(source_name + ": unknown codec");
}

Codec SniffCodec(std::string_view head) {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(head[i]); };
  if (IsGzipMagic(head)) return Codec::kGzip;
  if (head.size() >= 4 && byte(0) == 0x28 && byte(1) == 0xb5 && byte(2) == 0x2f && byte(3) == 0xfd) {
    return Codec::kZstd;
  }
  return Codec::kNone;
}

}  // namespace evolve::engines
