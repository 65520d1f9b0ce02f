#include "tls/mtls.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/address.h"
#include "common/strings.h"
#include "grpc/grpc_security_constants.h"
#include "grpcpp/security/auth_metadata_processor.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace hg::tls {
namespace {

// Refuses every call whose peer certificate lacks the required role. Runs before the handler,
// for every method, so a new RPC cannot forget the check.
class RoleCheck final : public grpc::AuthMetadataProcessor {
 public:
  explicit RoleCheck(std::string_view role) : role_(role) {}
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata&, grpc::AuthContext* context, OutputMetadata*,
                       OutputMetadata*) override {
    for (const grpc::string_ref& pem :
         context->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME)) {
      auto info = InspectCert(std::string_view(pem.data(), pem.size()));
      if (info.ok() && HasRole(info->uris, role_)) return grpc::Status::OK;
    }
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("the client certificate lacks the role ", role_));
  }

 private:
  const std::string role_;
};

// The master's check of a worker, after gRPC verified the chain against the CA (and, per call,
// the dialled host against the certificate's SANs): the certificate must carry the worker role,
// so another certificate of the CA (the API's, a master's) cannot pose as a worker.
class WorkerRoleVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)>, grpc::Status* sync_status) override {
    std::vector<std::string> uris;
    for (const grpc::string_ref& uri : request->uri_names())
      uris.emplace_back(uri.data(), uri.size());
    *sync_status =
        HasRole(uris, kWorkerRole)
            ? grpc::Status::OK
            : grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                           absl::StrCat("the worker certificate lacks the role ", Av(kWorkerRole)));
    return true;  // answered synchronously
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}
};

}  // namespace

bool HasRole(const std::vector<std::string>& uris, std::string_view role) {
  return std::find(uris.begin(), uris.end(), role) != uris.end();
}

absl::StatusOr<MtlsIdentity> LoadMtls(const MtlsFiles& files, std::string_view role,
                                      std::string_view flag_prefix) {
  const std::string ca_flag = absl::StrCat(Av(flag_prefix), "-ca");
  const std::string cert_flag = absl::StrCat(Av(flag_prefix), "-cert");
  const std::string key_flag = absl::StrCat(Av(flag_prefix), "-key");
  if (files.ca_file.empty() || files.cert_file.empty() || files.key_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("mTLS needs all of ", ca_flag, ", ", cert_flag,
                                                   " and ", key_flag, " (scripts/gen-certs)"));
  }
  MtlsIdentity id;
  auto ca = ReadPemFile(files.ca_file, ca_flag);
  if (!ca.ok()) return ca.status();
  id.ca_pem = *std::move(ca);
  if (auto ca_info = InspectCert(id.ca_pem); !ca_info.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ca_flag, ": ", files.ca_file, ": ", ca_info.status().message()));
  }
  auto own = LoadKeyPair(files.cert_file, cert_flag, files.key_file, key_flag);
  if (!own.ok()) return own.status();
  id.own = *std::move(own);
  if (auto st = VerifyIssuedBy(id.own.cert_pem, id.ca_pem); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(cert_flag, ": ", files.cert_file,
                                                   " is not valid under ", ca_flag, " ",
                                                   files.ca_file, ": ", st.message()));
  }
  if (!HasRole(id.own.info.uris, role)) {
    return absl::InvalidArgumentError(absl::StrCat(cert_flag, ": ", files.cert_file,
                                                   " lacks the URI SAN ", Av(role),
                                                   " (scripts/gen-certs issues it)"));
  }
  return id;
}

std::shared_ptr<grpc::ServerCredentials> WorkerServerCredentials(const MtlsIdentity& id) {
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = id.ca_pem;
  options.pem_key_cert_pairs.push_back({id.own.key_pem, id.own.cert_pem});
  auto creds = grpc::SslServerCredentials(options);
  creds->SetAuthMetadataProcessor(std::make_shared<RoleCheck>(kMasterRole));
  return creds;
}

std::shared_ptr<grpc::ChannelCredentials> MasterChannelCredentials(const MtlsIdentity& id) {
  namespace ex = grpc::experimental;
  ex::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(std::make_shared<ex::StaticDataCertificateProvider>(
      id.ca_pem, std::vector<ex::IdentityKeyCertPair>{{id.own.key_pem, id.own.cert_pem}}));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);  // chain up to the cluster CA
  options.set_check_call_host(true);      // the dialled host is one of the certificate's SANs
  options.set_certificate_verifier(ex::ExternalCertificateVerifier::Create<WorkerRoleVerifier>());
  return ex::TlsCredentials(options);
}

absl::Status CheckNamesAddress(const CertInfo& cert, std::string_view address) {
  const std::string_view host = HostOfAddress(address);
  for (const std::string& name : cert.hosts) {
    if (name == host || absl::StartsWith(name, "*.")) return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      absl::StrCat("masters dial ", Av(address), " but the certificate names only ",
                   absl::StrJoin(cert.hosts, ", "), ": issue one with --san ", Av(host),
                   " (scripts/gen-certs) or set --advertise to one of them"));
}

absl::Status CheckPlaintextAllowed(std::string_view address, bool insecure, std::string_view what) {
  if (insecure || IsLoopbackAddress(address)) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(Av(what), " ", Av(address),
                   " is not on loopback: give --grpc-ca, --grpc-cert and --grpc-key (mTLS, "
                   "scripts/gen-certs), or --insecure-no-tls to allow plaintext"));
}

}  // namespace hg::tls
