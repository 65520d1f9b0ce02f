// Process-level plumbing shared by the long-running subcommands.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "app/settings.h"
#include "store/kv.h"

namespace hg::app {

// Blocks SIGINT/SIGTERM/SIGHUP in the calling thread (call before starting any thread, so every
// thread inherits the mask) and ignores SIGPIPE. WaitForShutdownSignal() then returns SIGINT or
// SIGTERM; each SIGHUP before it calls `on_hangup` (reload), or is logged and ignored.
void BlockShutdownSignals();
int WaitForShutdownSignal(const std::function<void()>& on_hangup = nullptr);

// "a,b , c" -> {"a","b","c"} (empty items dropped).
std::vector<std::string> SplitList(const std::string& text);
// "k=v,k2=v2" -> map; InvalidArgument naming the bad item.
absl::StatusOr<std::map<std::string, std::string>> ParseLabels(const std::string& text,
                                                               const std::string& what);
// Go-style duration with a setting name in the error.
absl::StatusOr<absl::Duration> ParseSettingDuration(const std::string& text,
                                                    const std::string& what);
absl::StatusOr<int> ParseSettingInt(const std::string& text, const std::string& what, int min,
                                    int max);
// "true" / "false" with a setting name in the error.
absl::StatusOr<bool> ParseSettingBool(const std::string& text, const std::string& what);

// Opens the etcd store from a comma-separated endpoint list and optional auth/TLS settings.
struct EtcdSettings {
  std::string endpoints, username, password, ca_file, cert_file, key_file;
};
absl::StatusOr<std::unique_ptr<store::Kv>> OpenEtcd(const EtcdSettings& settings);
// The etcd connection settings (--etcd, --etcd-user, ...) shared by master and worker.
void AddEtcdSettings(Settings& s, EtcdSettings* etcd);

// mTLS between masters and workers (tls/mtls.h): --grpc-ca, --grpc-cert, --grpc-key and
// --insecure-no-tls, the same names on master and worker.
struct GrpcTlsSettings {
  std::string ca_file, cert_file, key_file, insecure = "false";
};
void AddGrpcTlsSettings(Settings& s, GrpcTlsSettings* tls, const std::string& own_cert_help);

std::string DefaultNodeId(const std::string& kind);  // "<hostname>-<kind>-<pid>"

}  // namespace hg::app
