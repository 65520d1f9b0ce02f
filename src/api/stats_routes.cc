#include "api/stats_routes.h"

#include "api/errors.h"

namespace hg::api {
namespace {

absl::StatusOr<StatsView> Answer(StatsService& stats, const http::Request& req) {
  absl::StatusOr<absl::Duration> window = StatsService::ParseWindow(req.Param("window"));
  if (!window.ok()) return window.status();
  return stats.Stats(*window);
}

}  // namespace

void RegisterStatsRoutes(ApiServer& server, StatsService& stats) {
  server.Handle("GET", R"(/stats/?)", auth::Access::kView,
                [&stats](const http::Request& req, http::Response& res) {
                  absl::StatusOr<StatsView> view = Answer(stats, req);
                  if (!view.ok()) {
                    HttpError e = ErrorToHttp(view.status());
                    res.status = e.status;
                    res.SetContent(e.body, "application/json");
                    return;
                  }
                  res.status = 200;
                  res.SetContent(model::DumpJson(EncodeStats(*view)), "application/json");
                });
}

}  // namespace hg::api
