// The routes a master (and `hourglass dev`) adds to its ApiServer beyond the job API:
// GET /stats (access: view), GET /openapi.json (open) and GET /metrics (the health access).
// In their own file so they stay apart from the server's transport; MasterNode and
// tests/api/openapi_test.cc register them through this one function.
#pragma once

#include "api/server.h"
#include "api/stats.h"

namespace hg::api {

// Adds GET /stats (answered by `stats`, which must outlive the server).
void RegisterStatsRoutes(ApiServer& server, StatsService& stats);

// Adds GET /stats, GET /openapi.json (the document of api/openapi.h, limits from the server's
// and `service_options`), and GET /metrics served by `metrics`. Before Start().
void RegisterNodeRoutes(ApiServer& server, StatsService& stats,
                        const JobService::Options& service_options, ApiServer::Handler metrics);

}  // namespace hg::api
