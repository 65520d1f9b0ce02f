// mTLS between masters and workers (docs/design/transport.md): one cluster CA signs a client
// certificate for masters (URI SAN hourglass:master) and a server certificate per worker (URI
// SAN hourglass:worker plus the names masters dial). A worker accepts a connection only with a
// client certificate the CA signed, and a call only when that certificate carries the master
// role; a master accepts a worker only with a certificate the CA signed for the dialled name
// with the worker role.
//
//   auto id = tls::LoadMtls({ca, cert, key}, tls::kWorkerRole, "--grpc");   // start-up checks
//   server.Start(addr, tls::WorkerServerCredentials(*id));
//   client = GrpcWorkerClient({.credentials = tls::MasterChannelCredentials(*id)});
//
// Thread-compatible; the credentials are immutable (certificate rotation: restart the process).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "tls/pem.h"

namespace hg::tls {

inline constexpr std::string_view kMasterRole = "hourglass:master";
inline constexpr std::string_view kWorkerRole = "hourglass:worker";

// --grpc-ca / --grpc-cert / --grpc-key: all three (mTLS) or none (plaintext).
struct MtlsFiles {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool empty() const { return ca_file.empty() && cert_file.empty() && key_file.empty(); }
};

// Checked material of one side of the link.
struct MtlsIdentity {
  std::string ca_pem;
  KeyPair own;  // this process's certificate and key
};

// Reads and checks the files: all three given, readable, the key matches the certificate, the
// CA signed it, and it carries `role` (a URI SAN). InvalidArgument naming the flag otherwise
// (`flag_prefix` "--grpc" gives "--grpc-cert: ...").
absl::StatusOr<MtlsIdentity> LoadMtls(const MtlsFiles& files, std::string_view role,
                                      std::string_view flag_prefix = "--grpc");

// A worker's server credentials: TLS with a client certificate required and verified against
// the CA, and every call refused (PERMISSION_DENIED) unless the peer's certificate has the
// master role.
std::shared_ptr<grpc::ServerCredentials> WorkerServerCredentials(const MtlsIdentity& id);

// A master's channel credentials: its certificate as the client certificate; the worker's
// certificate verified against the CA, the dialled host (IP or DNS SAN, on every call) and the
// worker role (gRPC's experimental TLS credentials with a certificate verifier).
std::shared_ptr<grpc::ChannelCredentials> MasterChannelCredentials(const MtlsIdentity& id);

// Whether a certificate with these URI SANs has `role`. Pure.
bool HasRole(const std::vector<std::string>& uris, std::string_view role);

// Whether masters dialling `address` ("host:port", the worker's advertised address) will accept
// a server certificate with these facts: its host must be one of the DNS/IP SANs (literally;
// a wildcard DNS name is left to gRPC). FailedPrecondition naming the SANs otherwise.
absl::Status CheckNamesAddress(const CertInfo& cert, std::string_view address);

// Plaintext gRPC with a peer at `address` (a worker's listen address, or the address a master
// dials): allowed on loopback, or anywhere when `insecure` (--insecure-no-tls); otherwise
// FailedPrecondition saying what to do.
absl::Status CheckPlaintextAllowed(std::string_view address, bool insecure, std::string_view what);

}  // namespace hg::tls
