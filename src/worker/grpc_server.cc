#include "worker/grpc_server.h"

#include "absl/strings/str_cat.h"
#include "worker.grpc.pb.h"

namespace hg::worker {
namespace {

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode share their numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace

class GrpcWorkerServer::Service final : public hourglass::v1::Worker::Service {
 public:
  explicit Service(WorkerService& worker) : worker_(worker) {}

  grpc::Status Run(grpc::ServerContext*, const hourglass::v1::RunRequest* request,
                   hourglass::v1::RunResponse* response) override {
    absl::StatusOr<hourglass::v1::RunResponse> result = worker_.Run(*request);
    if (!result.ok()) return ToGrpc(result.status());
    *response = *std::move(result);
    return grpc::Status::OK;
  }

  grpc::Status Kill(grpc::ServerContext*, const hourglass::v1::KillRequest* request,
                    hourglass::v1::KillResponse* response) override {
    *response = worker_.Kill(*request);
    return grpc::Status::OK;
  }

  grpc::Status Health(grpc::ServerContext*, const hourglass::v1::HealthRequest*,
                      hourglass::v1::HealthResponse* response) override {
    *response = worker_.Health();
    return grpc::Status::OK;
  }

 private:
  WorkerService& worker_;
};

GrpcWorkerServer::GrpcWorkerServer(WorkerService& service)
    : service_(std::make_unique<Service>(service)) {}

GrpcWorkerServer::~GrpcWorkerServer() { Stop(); }

absl::StatusOr<int> GrpcWorkerServer::Start(const std::string& address,
                                            std::shared_ptr<grpc::ServerCredentials> credentials) {
  if (server_ != nullptr) return absl::FailedPreconditionError("worker gRPC server started twice");
  if (credentials == nullptr) credentials = grpc::InsecureServerCredentials();
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, credentials, &port);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port == 0) {
    server_.reset();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address));
  }
  return port;
}

void GrpcWorkerServer::Stop(absl::Duration grace) {
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(grace));
  server_->Wait();
  server_.reset();
}

}  // namespace hg::worker
