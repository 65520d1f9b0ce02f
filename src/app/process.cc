#include "app/process.h"

#include <signal.h>
#include <unistd.h>

#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/duration.h"
#include "common/logging.h"
#include "store/etcd/etcd_kv.h"

namespace hg::app {

namespace {

sigset_t HandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

void BlockShutdownSignals() {
  const sigset_t set = HandledSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int WaitForShutdownSignal(const std::function<void()>& on_hangup) {
  const sigset_t set = HandledSignals();
  while (true) {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig != SIGHUP) return sig;
    if (on_hangup) {
      on_hangup();
    } else {
      log::Logger("process").Info("SIGHUP: nothing to reload");
    }
  }
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    out.emplace_back(absl::StripAsciiWhitespace(part));
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> ParseLabels(const std::string& text,
                                                               const std::string& what) {
  std::map<std::string, std::string> out;
  for (const std::string& item : SplitList(text)) {
    std::pair<std::string, std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.first.empty() || item.find('=') == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": \"", item, "\" is not of the form key=value"));
    }
    out[kv.first] = kv.second;
  }
  return out;
}

absl::StatusOr<absl::Duration> ParseSettingDuration(const std::string& text,
                                                    const std::string& what) {
  auto d = ParseGoDuration(text);
  if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat(what, ": ", d.status().message()));
  if (*d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": must not be negative"));
  }
  return *d;
}

absl::StatusOr<int> ParseSettingInt(const std::string& text, const std::string& what, int min,
                                    int max) {
  int v = 0;
  if (!absl::SimpleAtoi(text, &v) || v < min || v > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": \"", text, "\" is not a whole number in ", min, "..", max));
  }
  return v;
}

absl::StatusOr<bool> ParseSettingBool(const std::string& text, const std::string& what) {
  if (text == "true") return true;
  if (text == "false") return false;
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": must be true or false, got \"", text, "\""));
}

absl::StatusOr<std::unique_ptr<store::Kv>> OpenEtcd(const EtcdSettings& s) {
  store::EtcdKvOptions options;
  options.endpoints = SplitList(s.endpoints);
  options.username = s.username;
  options.password = s.password;
  options.ca_file = s.ca_file;
  options.cert_file = s.cert_file;
  options.key_file = s.key_file;
  options.tls = !s.ca_file.empty() || !s.cert_file.empty();
  auto kv = store::EtcdKv::Create(std::move(options));
  if (!kv.ok()) return kv.status();
  return std::unique_ptr<store::Kv>(std::move(*kv));
}

void AddEtcdSettings(Settings& s, EtcdSettings* etcd) {
  s.Add("etcd", "", "etcd endpoints, comma-separated (http://127.0.0.1:2379)", &etcd->endpoints);
  s.Add("etcd-user", "", "etcd user name (auth)", &etcd->username);
  s.Add("etcd-password", "", "etcd password (auth)", &etcd->password);
  s.Add("etcd-ca", "", "CA certificate file for etcd TLS", &etcd->ca_file);
  s.Add("etcd-cert", "", "client certificate file for etcd TLS", &etcd->cert_file);
  s.Add("etcd-key", "", "client key file for etcd TLS", &etcd->key_file);
}

void AddGrpcTlsSettings(Settings& s, GrpcTlsSettings* tls, const std::string& own_cert_help) {
  s.Add("grpc-ca", "",
        "cluster CA certificate: mTLS between masters and workers (scripts/gen-certs)",
        &tls->ca_file);
  s.Add("grpc-cert", "", own_cert_help, &tls->cert_file);
  s.Add("grpc-key", "", "private key of --grpc-cert", &tls->key_file);
  s.Add("insecure-no-tls", "false",
        "true: allow plaintext gRPC between masters and workers beyond loopback (logged)",
        &tls->insecure);
}

std::string DefaultNodeId(const std::string& kind) {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return absl::StrCat(host, "-", kind, "-", getpid());
}

}  // namespace hg::app
