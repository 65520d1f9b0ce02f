#include "api/node_routes.h"

#include "api/errors.h"
#include "api/openapi.h"

namespace hg::api {
namespace {

constexpr char kJson[] = "application/json";

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
                    res.SetContent(e.body, kJson);
                    return;
                  }
                  res.status = 200;
                  res.SetContent(model::DumpJson(EncodeStats(*view)), kJson);
                });
}

void RegisterNodeRoutes(ApiServer& server, StatsService& stats,
                        const JobService::Options& service_options, ApiServer::Handler metrics) {
  RegisterStatsRoutes(server, stats);
  // Built once: the limits are fixed for the server's life.
  auto document = std::make_shared<const std::string>(
      model::DumpJson(OpenApiDocument(server.options(), service_options)));
  server.Handle("GET", R"(/openapi\.json)", auth::Access::kOpen,
                [document](const http::Request&, http::Response& res) {
                  res.status = 200;
                  res.SetContent(*document, kJson);
                });
  server.Handle("GET", "/metrics", server.options().health_access, std::move(metrics));
}

}  // namespace hg::api
