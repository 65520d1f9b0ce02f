#include "tests/cluster/cluster_harness.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "httplib.h"

namespace hg::testing {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

Process::Process(std::string name, std::vector<std::string> argv, std::string log_path)
    : name_(std::move(name)), argv_(std::move(argv)), log_path_(std::move(log_path)) {}

Process::~Process() { Kill(); }

absl::Status Process::Start() {
  if (pid_ > 0) return absl::FailedPreconditionError(name_ + " already running");
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    std::vector<char*> args;
    for (auto& a : argv_) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  pid_ = pid;
  return absl::OkStatus();
}

void Process::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

void Process::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int Process::Terminate(absl::Duration timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGCONT);
  kill(pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill();
  return -1;
}

bool Process::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

std::string Process::LogTail(size_t bytes) const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  return all.size() > bytes ? all.substr(all.size() - bytes) : all;
}

nlohmann::json HttpReply::Json() const {
  return nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
}

namespace {

void AppendFlags(std::vector<std::string>* argv,
                 std::initializer_list<std::pair<std::string, std::string>> flags) {
  for (const auto& [flag, value] : flags) {
    argv->push_back(flag);
    argv->push_back(value);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Cluster>> Cluster::Start(Options options) {
  auto c = std::unique_ptr<Cluster>(new Cluster());
  c->options_ = options;
  const char* bin_dir = std::getenv("HG_BINARY_DIR");  // NOLINT: set by hg_test
  c->binary_ = absl::StrCat(bin_dir ? bin_dir : ".", "/src/app/hourglass");
  if (!std::filesystem::exists(c->binary_)) {
    return absl::NotFoundError("hourglass binary not found at " + c->binary_);
  }
  c->dir_ = std::filesystem::temp_directory_path() /
            absl::StrCat("hg-cluster-", getpid(), "-", FreePort());
  std::filesystem::create_directories(c->dir_);
  EtcdClusterOptions eo;
  eo.members = options.etcd_members;
  if (options.etcd_tls_auth) {
    eo.tls = true;
    eo.client_cert_auth = true;
    eo.auth = true;
  }
  auto etcd = EtcdCluster::Start(eo);
  if (!etcd.ok()) return etcd.status();
  c->etcd_ = *std::move(etcd);
  for (int i = 0; i < options.masters; ++i) {
    c->master_proxies_.emplace_back();
    if (options.proxy_masters) {
      auto proxies = c->ProxiesToEtcd();
      if (!proxies.ok()) return proxies.status();
      c->master_proxies_.back() = *std::move(proxies);
    }
    c->master_addrs_.push_back(absl::StrCat("127.0.0.1:", FreePort()));
    c->masters_.push_back(c->MakeMaster(i));
    c->master_paused_.push_back(false);
    if (auto st = c->masters_.back()->Start(); !st.ok()) return st;
  }
  for (int i = 0; i < options.workers; ++i) {
    c->worker_proxies_.emplace_back();
    if (options.proxy_workers) {
      auto proxies = c->ProxiesToEtcd();
      if (!proxies.ok()) return proxies.status();
      c->worker_proxies_.back() = *std::move(proxies);
    }
    c->worker_addrs_.push_back(absl::StrCat("127.0.0.1:", FreePort()));
    c->workers_.push_back(c->MakeWorker(i));
    if (auto st = c->workers_.back()->Start(); !st.ok()) return st;
  }
  return c;
}

Cluster::~Cluster() {
  if (::testing::Test::HasFailure()) DumpLogs();
  for (auto& p : workers_) p->Kill();
  for (auto& p : masters_) p->Kill();
  etcd_.reset();
  std::error_code ec;
  // Kept for a post-mortem when the test failed or HG_KEEP_CLUSTER_DIR is set.
  if (!::testing::Test::HasFailure() && std::getenv("HG_KEEP_CLUSTER_DIR") == nullptr) {  // NOLINT
    std::filesystem::remove_all(dir_, ec);
  }
}

absl::StatusOr<std::vector<std::unique_ptr<TcpProxy>>> Cluster::ProxiesToEtcd() {
  std::vector<std::unique_ptr<TcpProxy>> out;
  for (int m = 0; m < etcd_->size(); ++m) {
    const std::string url = etcd_->ClientUrl(m);
    auto proxy = TcpProxy::Start(std::stoi(url.substr(url.rfind(':') + 1)));
    if (!proxy.ok()) return proxy.status();
    out.push_back(*std::move(proxy));
  }
  return out;
}

std::string Cluster::EtcdUrls(const std::vector<std::unique_ptr<TcpProxy>>& proxies) const {
  if (proxies.empty()) return etcd_->ClientUrls();
  std::string urls;
  for (const auto& p : proxies) {
    absl::StrAppend(&urls, urls.empty() ? "" : ",", "http://127.0.0.1:", p->port());
  }
  return urls;
}

std::vector<std::string> Cluster::EtcdSecurityFlags() const {
  if (!options_.etcd_tls_auth) return {};
  const EtcdTlsFiles& f = etcd_->tls_files();
  return {"--etcd-ca",       f.ca_cert,
          "--etcd-cert",     f.client_cert,
          "--etcd-key",      f.client_key,
          "--etcd-user",     "root",
          "--etcd-password", etcd_->options().root_password};
}

std::unique_ptr<Process> Cluster::MakeMaster(int i) {
  std::vector<std::string> argv{binary_, "master"};
  AppendFlags(&argv, {{"--etcd", EtcdUrls(master_proxies_[i])},
                      {"--http", master_addrs_[i]},
                      {"--id", absl::StrCat("master", i)},
                      {"--election-ttl", options_.election_ttl},
                      {"--fire-ahead", absl::FormatDuration(options_.fire_ahead)},
                      {"--log-format", "json"},
                      {"--log-level", "debug"}});
  const std::vector<std::string> etcd_flags = EtcdSecurityFlags();
  argv.insert(argv.end(), etcd_flags.begin(), etcd_flags.end());
  argv.insert(argv.end(), options_.master_args.begin(), options_.master_args.end());
  return std::make_unique<Process>(absl::StrCat("master", i), std::move(argv),
                                   absl::StrCat(dir_, "/master", i, ".log"));
}

std::unique_ptr<Process> Cluster::MakeWorker(int i) {
  std::vector<std::string> argv{binary_, "worker"};
  AppendFlags(&argv, {{"--etcd", EtcdUrls(worker_proxies_[i])},
                      {"--grpc", worker_addrs_[i]},
                      {"--id", absl::StrCat("worker", i)},
                      {"--session-ttl", options_.worker_session_ttl},
                      {"--shutdown-grace", "2s"},
                      {"--capacity", absl::StrCat(options_.worker_capacity)},
                      // Port 0: several workers on one host must not fight over the default.
                      {"--metrics", "127.0.0.1:0"},
                      {"--spool", absl::StrCat(dir_, "/worker", i, ".spool")},
                      // HTTP jobs call receivers on this host (denied by default).
                      {"--http-allow", "127.0.0.0/8"},
                      // CI runs as root; a root worker refuses shell jobs without this.
                      {"--allow-root", "true"},
                      {"--log-format", "json"}});
  const std::vector<std::string> etcd_flags = EtcdSecurityFlags();
  argv.insert(argv.end(), etcd_flags.begin(), etcd_flags.end());
  argv.insert(argv.end(), options_.worker_args.begin(), options_.worker_args.end());
  return std::make_unique<Process>(absl::StrCat("worker", i), std::move(argv),
                                   absl::StrCat(dir_, "/worker", i, ".log"));
}

absl::Status Cluster::RestartMaster(int i) {
  masters_[i]->Kill();
  master_paused_[i] = false;
  masters_[i] = MakeMaster(i);
  return masters_[i]->Start();
}

void Cluster::PauseMaster(int i) {
  masters_[i]->Signal(SIGSTOP);
  master_paused_[i] = true;
}

void Cluster::ResumeMaster(int i) {
  masters_[i]->Signal(SIGCONT);
  master_paused_[i] = false;
}

void Cluster::PartitionMaster(int i, bool cut) {
  if (master_proxies_[i].empty()) {
    ADD_FAILURE() << "PartitionMaster needs Options::proxy_masters";
    return;
  }
  for (auto& p : master_proxies_[i]) p->SetPartitioned(cut);
}

absl::Status Cluster::RestartWorker(int i) {
  workers_[i]->Kill();
  workers_[i] = MakeWorker(i);
  return workers_[i]->Start();
}

std::vector<TcpProxy*> Cluster::WorkerProxies(int i) {
  std::vector<TcpProxy*> out;
  for (auto& p : worker_proxies_.at(i)) out.push_back(p.get());
  return out;
}

absl::StatusOr<HttpReply> Cluster::Http(int master, const std::string& method,
                                        const std::string& path, const std::string& body) {
  std::vector<int> order;
  if (master >= 0) {
    order.push_back(master);
  } else {
    for (int i = 0; i < master_count(); ++i) order.push_back(i);
  }
  absl::Status last = absl::UnavailableError("no master answered");
  for (int i : order) {
    if (master_paused_[i] || !masters_[i]->Running()) continue;
    httplib::Client cli("http://" + master_addrs_[i]);
    cli.set_connection_timeout(1, 0);
    cli.set_read_timeout(5, 0);
    httplib::Result r = method == "GET"    ? cli.Get(path.c_str())
                        : method == "POST" ? cli.Post(path.c_str(), body, "application/json")
                        : method == "PUT"  ? cli.Put(path.c_str(), body, "application/json")
                                           : cli.Delete(path.c_str());
    if (!r) {
      last = absl::UnavailableError(
          absl::StrCat(master_addrs_[i], ": ", httplib::to_string(r.error())));
      continue;
    }
    HttpReply reply{.status = r->status, .body = r->body, .headers = {}};
    for (const auto& [k, v] : r->headers) reply.headers[k] = v;
    return reply;
  }
  return last;
}

absl::StatusOr<int> Cluster::WaitLeader(absl::Duration timeout, int not_this) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    for (int i = 0; i < master_count(); ++i) {
      auto r = Http(i, "GET", "/cluster");
      if (!r.ok() || r->status != 200) continue;
      auto j = r->Json();
      if (!j.is_object() || !j.contains("leader") || !j["leader"].is_object()) continue;
      const std::string id = j["leader"].value("id", "");
      for (int m = 0; m < master_count(); ++m) {
        if (id == absl::StrCat("master", m) && m != not_this) return m;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError("no leader elected in time");
}

absl::Status Cluster::WaitWorkers(int n, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    auto r = Http(-1, "GET", "/cluster");
    if (r.ok() && r->status == 200) {
      auto j = r->Json();
      if (j.is_object() && j.contains("workers") && j["workers"].is_array() &&
          static_cast<int>(j["workers"].size()) >= n) {
        return absl::OkStatus();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat("fewer than ", n, " workers registered"));
}

absl::StatusOr<int64_t> Cluster::LeaderTerm(int via) {
  auto r = Http(via, "GET", "/cluster");
  if (!r.ok()) return r.status();
  auto j = r->Json();
  if (r->status != 200 || !j.is_object() || !j.contains("leader") || !j["leader"].is_object()) {
    return absl::UnavailableError(absl::StrCat("no leader: ", r->status, " ", r->body));
  }
  return j["leader"].value("term", int64_t{0});
}

int Cluster::WorkerIndex(const std::string& id) const {
  for (int i = 0; i < static_cast<int>(workers_.size()); ++i) {
    if (id == absl::StrCat("worker", i)) return i;
  }
  return -1;
}

void Cluster::DumpLogs() const {
  for (const auto& group : {&masters_, &workers_}) {
    for (const auto& p : *group) {
      std::cerr << "===== " << p->name() << " (" << p->log_path() << ") =====\n"
                << p->LogTail() << "\n";
    }
  }
}

}  // namespace hg::testing
