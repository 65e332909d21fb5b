#include "json_document.h"

#include <string>
#include <vector>

#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include "field_errors.h"

namespace evolve::internal {
namespace {

using rapidjson::SizeType;

// Follows keys and array indexes as SAX events arrive, so that the place where
// the parser gave up can be named as a field path.
class PathTracker : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, PathTracker> {
 public:
  bool Default() {
    NextValue();
    return true;
  }
  bool Key(const char* s, SizeType length, bool /*copy*/) {
    frames_.back().key.assign(s, length);
    return true;
  }
  bool StartObject() { return Push(false); }
  bool EndObject(SizeType /*members*/) { return Pop(); }
  bool StartArray() { return Push(true); }
  bool EndArray(SizeType /*elements*/) { return Pop(); }

  std::string Path() const {
    std::string path;
    for (const Frame& f : frames_) path = f.array ? ItemPath(path, f.index) : FieldPath(path, f.key);
    return path;
  }

 private:
  struct Frame {
    bool array = false;
    size_t index = 0;  // of the array element being parsed
    std::string key;   // of the object member being parsed
  };
  bool Push(bool array) {
    frames_.push_back(Frame{array, 0, {}});
    return true;
  }
  bool Pop() {
    frames_.pop_back();
    NextValue();
    return true;
  }
  void NextValue() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
  }
  std::vector<Frame> frames_;
};

}  // namespace

FieldError ParseProblem(std::string_view json, rapidjson::ParseErrorCode code, std::size_t offset) {
  if (code == rapidjson::kParseErrorNumberTooBig) {
    rapidjson::MemoryStream memory(json.data(), json.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> stream(memory);
    PathTracker tracker;
    rapidjson::Reader reader;
    reader.Parse<kJsonParseFlags>(stream, tracker);
    return FieldError{tracker.Path(), "must be a finite number"};
  }
  return FieldError{
      "", "malformed JSON at offset " + std::to_string(offset) + ": " + rapidjson::GetParseError_En(code)};
}

}  // namespace evolve::internal

namespace evolve {

std::optional<FieldError> JsonDepthProblem(std::string_view json) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) {
        return FieldError{"", "the JSON nests deeper than " + std::to_string(kMaxJsonDepth) +
                                  " levels (at offset " + std::to_string(i) + ")"};
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::nullopt;
}

}  // namespace evolve
