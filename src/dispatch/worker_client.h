// WorkerClient: how the leader reaches a worker's `Worker` service (proto/worker.proto).
// Two implementations (STYLE.md "Interfaces exist where there are two implementations"):
//   GrpcWorkerClient   — one cached gRPC channel per worker address (masters, tests).
//   (hourglass dev)    — an in-process client that calls the WorkerService directly.
// Thread-safe: the dispatcher calls it from several threads.
#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "worker.grpc.pb.h"

namespace hg::dispatch {

class WorkerClient {
 public:
  virtual ~WorkerClient() = default;
  // gRPC status codes come back as absl codes one to one (UNAVAILABLE, RESOURCE_EXHAUSTED,
  // DEADLINE_EXCEEDED, FAILED_PRECONDITION for a stale term, ...).
  virtual absl::StatusOr<hourglass::v1::RunResponse> Run(const std::string& address,
                                                         const hourglass::v1::RunRequest& req,
                                                         absl::Duration deadline) = 0;
  virtual absl::StatusOr<hourglass::v1::KillResponse> Kill(const std::string& address,
                                                           const hourglass::v1::KillRequest& req,
                                                           absl::Duration deadline) = 0;
};

class GrpcWorkerClient final : public WorkerClient {
 public:
  struct Options {
    // TLS for every worker channel (tls::MasterChannelCredentials: mTLS with the cluster CA).
    // Null: plaintext, which is refused (FailedPrecondition, nothing sent) for a worker address
    // that is not on loopback unless `insecure` (--insecure-no-tls).
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    bool insecure = false;
  };
  GrpcWorkerClient() = default;
  explicit GrpcWorkerClient(Options options) : options_(std::move(options)) {}

  absl::StatusOr<hourglass::v1::RunResponse> Run(const std::string& address,
                                                 const hourglass::v1::RunRequest& req,
                                                 absl::Duration deadline) override;
  absl::StatusOr<hourglass::v1::KillResponse> Kill(const std::string& address,
                                                   const hourglass::v1::KillRequest& req,
                                                   absl::Duration deadline) override;

 private:
  // Null (with the refusal in `status`) when plaintext to `address` is not allowed.
  hourglass::v1::Worker::Stub* StubFor(const std::string& address, absl::Status* status);

  const Options options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<hourglass::v1::Worker::Stub>> stubs_
      ABSL_GUARDED_BY(mu_);
};

// Maps a gRPC status onto absl::Status (the codes are numerically identical).
absl::Status FromGrpc(const grpc::Status& status);

}  // namespace hg::dispatch
