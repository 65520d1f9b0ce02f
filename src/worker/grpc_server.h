// GrpcWorkerServer: the `hourglass.v1.Worker` gRPC service (proto/worker.proto) over a
// WorkerService. A thin adaptor: every RPC is one WorkerService call; absl status codes map one
// to one onto gRPC codes.
//
//   GrpcWorkerServer server(worker);
//   HG_ASSIGN_OR_RETURN(int port, server.Start("127.0.0.1:0"));  // port 0: any free port
//   ...
//   server.Stop();   // before worker.Stop(): no RPC reaches a stopped service
//
// Thread safety: Start()/Stop() from one owner thread; RPCs run on gRPC's threads. The
// WorkerService must outlive the server.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "worker/worker_service.h"

namespace hg::worker {

class GrpcWorkerServer {
 public:
  explicit GrpcWorkerServer(WorkerService& service);
  ~GrpcWorkerServer();  // Stop()
  GrpcWorkerServer(const GrpcWorkerServer&) = delete;
  GrpcWorkerServer& operator=(const GrpcWorkerServer&) = delete;

  // Listens on `address` ("host:port", port 0 = any free port) and returns the bound port.
  // `credentials` null = insecure (plaintext). Errors: kUnavailable when the address cannot
  // be bound, kFailedPrecondition when already started.
  absl::StatusOr<int> Start(const std::string& address,
                            std::shared_ptr<grpc::ServerCredentials> credentials = nullptr);
  // Stops accepting RPCs and waits (up to `grace`) for the ones in progress. Idempotent.
  void Stop(absl::Duration grace = absl::Seconds(5));

 private:
  class Service;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace hg::worker
