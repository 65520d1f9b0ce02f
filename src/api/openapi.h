// The OpenAPI 3 document of the API (docs/api/openapi.json, compiled in), served at
// GET /openapi.json with the server's limits filled in from the constants its validation uses:
// `x-hourglass-limits` at the root (what clients such as the web UI read instead of copying
// them) and the matching maxLength / maximum / … of the schemas. tests/api/openapi_test.cc checks
// that every route is documented and every documented route exists, and that the checked-in file
// already holds the limits (HG_UPDATE_OPENAPI=1 rewrites it). Pure; thread-safe.
#pragma once

#include <string_view>

#include "api/job_service.h"
#include "api/server.h"
#include "model/json.h"

namespace hg::api {

// docs/api/openapi.json as it was at build time.
std::string_view OpenApiSource();

// Every limit a client may check before sending, by name (see docs/design/api.md "OpenAPI").
model::Json ApiLimits(const ApiServer::Options& server, const JobService::Options& service);

// `doc` with `limits` written into `x-hourglass-limits` and the schemas that state them.
void ApplyLimits(const model::Json& limits, model::Json* doc);

// The served document: OpenApiSource() with ApplyLimits(ApiLimits(...)). Fatal (a broken build)
// when the compiled-in text is not JSON: a test parses it first.
model::Json OpenApiDocument(const ApiServer::Options& server, const JobService::Options& service);

}  // namespace hg::api
