// GrpcWorkerServer over a real WorkerService: codes and messages survive the wire.
#include "worker/grpc_server.h"

#include "tests/worker/worker_test_util.h"
#include "worker.grpc.pb.h"

namespace hg::worker::testing {
namespace {

using ::testing::HasSubstr;

class GrpcWorkerServerTest : public WorkerFixture {};

TEST_F(GrpcWorkerServerTest, ServesRunKillAndHealth) {
  WorkerService& w = StartWorker("grpc-w");
  GrpcWorkerServer server(w);
  auto port = server.Start("127.0.0.1:0");
  ASSERT_TRUE(port.ok()) << port.status();
  ASSERT_GT(*port, 0);
  EXPECT_EQ(server.Start("127.0.0.1:0").status().code(), absl::StatusCode::kFailedPrecondition);

  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", *port), grpc::InsecureChannelCredentials());
  auto stub = hourglass::v1::Worker::NewStub(channel);

  model::Job job = ShellJob("remote", "sleep 30");
  model::ExecutionId id = Schedule(job);
  {
    grpc::ClientContext ctx;
    hourglass::v1::RunResponse resp;
    grpc::Status st = stub->Run(&ctx, Request(job, id, 7), &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(resp.items_size(), 1);
    EXPECT_EQ(resp.items(0).execution_id(), id.str());
    EXPECT_EQ(resp.items(0).outcome(), hourglass::v1::RunResponse::STARTED);
  }
  {
    // A whole-call error comes back as the gRPC status.
    grpc::ClientContext ctx;
    hourglass::v1::RunResponse resp;
    hourglass::v1::RunRequest bad = Request(job, Schedule(job));
    bad.mutable_items(0)->set_execution_id("not-an-id");
    grpc::Status st = stub->Run(&ctx, bad, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext ctx;
    hourglass::v1::HealthResponse resp;
    ASSERT_TRUE(stub->Health(&ctx, {}, &resp).ok());
    EXPECT_EQ(resp.worker_id(), "grpc-w");
    EXPECT_EQ(resp.in_flight(), 1);
    EXPECT_FALSE(resp.draining());
  }
  {
    grpc::ClientContext ctx;
    hourglass::v1::KillRequest req;
    req.set_execution_id(id.str());
    req.set_reason("over the wire");
    hourglass::v1::KillResponse resp;
    ASSERT_TRUE(stub->Kill(&ctx, req, &resp).ok());
    EXPECT_TRUE(resp.found());
  }
  model::Execution rec = WaitFinal(id);
  EXPECT_EQ(rec.error, "killed: over the wire");
  server.Stop();
  server.Stop();  // idempotent
}

TEST_F(GrpcWorkerServerTest, BadAddressIsAnError) {
  WorkerService& w = StartWorker();
  GrpcWorkerServer server(w);
  auto port = server.Start("256.0.0.1:99999");
  EXPECT_FALSE(port.ok());
}

}  // namespace
}  // namespace hg::worker::testing
