#include "dispatch/worker_client.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "tls/mtls.h"

namespace hg::dispatch {

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

hourglass::v1::Worker::Stub* GrpcWorkerClient::StubFor(const std::string& address,
                                                       absl::Status* status) {
  if (options_.credentials == nullptr) {
    *status = tls::CheckPlaintextAllowed(address, options_.insecure, "worker");
    if (!status->ok()) return nullptr;
  }
  absl::MutexLock lock(&mu_);
  auto& stub = stubs_[address];
  if (!stub) {
    // Fast reconnects: gRPC 1.51's default backoff stalls ~10 s after a refused first connect
    // (TOOLCHAIN.md); a restarted worker should be usable again within a fraction of a second.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
    stub = hourglass::v1::Worker::NewStub(grpc::CreateCustomChannel(
        address, options_.credentials ? options_.credentials : grpc::InsecureChannelCredentials(),
        args));
  }
  return stub.get();
}

absl::StatusOr<hourglass::v1::RunResponse> GrpcWorkerClient::Run(
    const std::string& address, const hourglass::v1::RunRequest& req, absl::Duration deadline) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  hourglass::v1::RunResponse resp;
  absl::Status refused;
  hourglass::v1::Worker::Stub* stub = StubFor(address, &refused);
  if (stub == nullptr) return refused;
  grpc::Status st = stub->Run(&ctx, req, &resp);
  if (!st.ok()) return FromGrpc(st);
  return resp;
}

absl::StatusOr<hourglass::v1::KillResponse> GrpcWorkerClient::Kill(
    const std::string& address, const hourglass::v1::KillRequest& req, absl::Duration deadline) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  hourglass::v1::KillResponse resp;
  absl::Status refused;
  hourglass::v1::Worker::Stub* stub = StubFor(address, &refused);
  if (stub == nullptr) return refused;
  grpc::Status st = stub->Kill(&ctx, req, &resp);
  if (!st.ok()) return FromGrpc(st);
  return resp;
}

}  // namespace hg::dispatch
