// Cluster harness (issue "High availability"): real `hourglass` processes on loopback around a
// real etcd (tests/fixtures/etcd_fixture.h), each with free ports, its own log file, and
// kill -9 / SIGSTOP / SIGCONT / SIGTERM / restart, plus bounded waits on cluster conditions.
// Every child dies with the test (PR_SET_PDEATHSIG) and is killed in the destructor; logs of
// all processes are printed when the test has failed, and the cluster's temp dir (logs, run
// files, spools) is kept when the test failed or HG_KEEP_CLUSTER_DIR=1.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tests/cluster/tcp_proxy.h"
#include "tests/fixtures/etcd_fixture.h"

namespace hg::testing {

// One child process with its log file.
class Process {
 public:
  Process(std::string name, std::vector<std::string> argv, std::string log_path);
  ~Process();
  absl::Status Start();
  void Signal(int sig);
  void Kill();  // SIGKILL + reap
  // SIGTERM, wait up to `timeout` for exit; returns the exit status (or -1 on timeout, then kill).
  int Terminate(absl::Duration timeout = absl::Seconds(20));
  bool Running();
  const std::string& name() const { return name_; }
  const std::string& log_path() const { return log_path_; }
  std::string LogTail(size_t bytes = 6000) const;

 private:
  std::string name_;
  std::vector<std::string> argv_;
  std::string log_path_;
  pid_t pid_ = -1;
};

struct HttpReply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // last value of each response header
  nlohmann::json Json() const;
};

class Cluster {
 public:
  struct Options {
    int etcd_members = 1;
    int masters = 2;
    int workers = 1;
    // Every scenario uses these TTLs unless it says otherwise.
    std::string election_ttl = "2s";
    std::string worker_session_ttl = "2s";
    int worker_capacity = 16;
    // Masters' --fire-ahead: instants are fired (recorded, dispatched, claimed) this long before
    // they are due, and runs start at their instant.
    absl::Duration fire_ahead = absl::Milliseconds(500);
    std::vector<std::string> master_args;  // appended to every master's command line
    std::vector<std::string> worker_args;  // appended to every worker's command line
    // Masters reach etcd through a TcpProxy each (PartitionMaster); workers and the test
    // reach it directly.
    bool proxy_masters = false;
    // Workers reach etcd through a TcpProxy each too (WorkerProxies).
    bool proxy_workers = false;
    // etcd over TLS with client certificates and auth on: masters and workers get --etcd-ca,
    // --etcd-cert, --etcd-key, --etcd-user root and --etcd-password (the fixture's files).
    bool etcd_tls_auth = false;
  };
  static absl::StatusOr<std::unique_ptr<Cluster>> Start(Options options);
  ~Cluster();

  const Options& options() const { return options_; }
  EtcdCluster& etcd() { return *etcd_; }
  Process& master(int i) { return *masters_.at(i); }
  Process& worker(int i) { return *workers_.at(i); }
  int master_count() const { return static_cast<int>(masters_.size()); }
  std::string MasterAddress(int i) const { return master_addrs_.at(i); }
  const std::string& dir() const { return dir_; }

  absl::Status RestartMaster(int i);
  // SIGSTOP / SIGCONT a master; Http() and WaitLeader() skip a paused master (it would accept
  // connections and never answer).
  void PauseMaster(int i);
  void ResumeMaster(int i);
  // Cuts (or heals) master i's links to etcd; needs Options::proxy_masters. Its HTTP API and its
  // gRPC links to workers stay up.
  void PartitionMaster(int i, bool cut);
  absl::Status RestartWorker(int i);
  // Worker i's proxies to the etcd members (empty unless Options::proxy_workers).
  std::vector<TcpProxy*> WorkerProxies(int i);

  // HTTP to master i (or to the first master that answers when i < 0).
  absl::StatusOr<HttpReply> Http(int master, const std::string& method, const std::string& path,
                                 const std::string& body = "");
  // Index of the leading master as /cluster reports it (asks every live master).
  absl::StatusOr<int> WaitLeader(absl::Duration timeout, int not_this = -1);
  absl::Status WaitWorkers(int n, absl::Duration timeout);
  // The leader's term (create revision of its election key) as master `via` reports it.
  absl::StatusOr<int64_t> LeaderTerm(int via = -1);
  int worker_count() const { return static_cast<int>(workers_.size()); }
  // Index of worker "worker<i>" from its id; -1 when unknown.
  int WorkerIndex(const std::string& id) const;

  // Prints every process log (call on failure).
  void DumpLogs() const;

 private:
  Cluster() = default;
  std::unique_ptr<Process> MakeMaster(int i);
  std::unique_ptr<Process> MakeWorker(int i);
  // One TcpProxy per etcd member, and the --etcd value that goes through them.
  absl::StatusOr<std::vector<std::unique_ptr<TcpProxy>>> ProxiesToEtcd();
  std::string EtcdUrls(const std::vector<std::unique_ptr<TcpProxy>>& proxies) const;
  // The etcd TLS and auth flags of every process (empty unless Options::etcd_tls_auth).
  std::vector<std::string> EtcdSecurityFlags() const;

  Options options_;
  std::string dir_;
  std::string binary_;
  std::unique_ptr<EtcdCluster> etcd_;
  std::vector<std::string> master_addrs_;
  std::vector<std::string> worker_addrs_;
  std::vector<std::unique_ptr<Process>> masters_;
  std::vector<bool> master_paused_;
  std::vector<std::vector<std::unique_ptr<TcpProxy>>> master_proxies_;  // [master][etcd member]
  std::vector<std::unique_ptr<Process>> workers_;
  std::vector<std::vector<std::unique_ptr<TcpProxy>>> worker_proxies_;  // [worker][etcd member]
};

// A free loopback TCP port (bound and released; good enough for tests on one machine).
int FreePort();

}  // namespace hg::testing
