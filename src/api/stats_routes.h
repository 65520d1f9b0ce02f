// GET /stats on an ApiServer (docs/design/api.md "GET /stats"): its own file so the route stays
// apart from the server's transport.
#pragma once

#include "api/server.h"
#include "api/stats.h"

namespace hg::api {

// Adds GET /stats (access: view). `stats` must outlive the server. Before Start().
void RegisterStatsRoutes(ApiServer& server, StatsService& stats);

}  // namespace hg::api
