// The OpenAPI 3 description of the REST API (services/orchestrator/
// openapi.json, compiled in), served at GET /openapi.json.
#ifndef EVOLVE_SERVICES_ORCHESTRATOR_OPENAPI_DOCUMENT_H_
#define EVOLVE_SERVICES_ORCHESTRATOR_OPENAPI_DOCUMENT_H_

#include <string>

namespace evolve::cli {

const std::string& OpenApiDocument();

}  // namespace evolve::cli

#endif  // EVOLVE_SERVICES_ORCHESTRATOR_OPENAPI_DOCUMENT_H_
