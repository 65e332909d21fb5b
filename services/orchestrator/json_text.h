// Compact JSON text of a RapidJSON value, for the services' code that
// builds or checks documents with RapidJSON (the core's ToJson covers the
// value types).
#ifndef EVOLVE_SERVICES_ORCHESTRATOR_JSON_TEXT_H_
#define EVOLVE_SERVICES_ORCHESTRATOR_JSON_TEXT_H_

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

namespace evolve::cli {

inline std::string JsonText(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace evolve::cli

#endif  // EVOLVE_SERVICES_ORCHESTRATOR_JSON_TEXT_H_
