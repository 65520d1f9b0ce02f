// PEM certificates and keys read from files and checked before use, so a wrong file is a clear
// start-up error naming the flag, not a failed handshake later (OpenSSL, no I/O beyond reading
// the named files). Thread-compatible free functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hg::tls {

// What the checks and logs need to know of a leaf certificate.
struct CertInfo {
  std::string subject;             // one line, e.g. "O=hourglass, CN=hourglass api"
  std::string serial_hex;          // upper-case hex, as `openssl x509 -serial` prints it
  std::vector<std::string> uris;   // URI subject alternative names (roles: hourglass:master)
  std::vector<std::string> hosts;  // DNS and IP subject alternative names ("10.0.0.5", "::1")
  absl::Time not_after;
};

// A certificate chain (leaf first) and its private key, as PEM text.
struct KeyPair {
  std::string cert_pem;
  std::string key_pem;
  CertInfo info;  // of the leaf
};

// Reads `path` (`what` names the flag in errors, e.g. "--grpc-cert"). InvalidArgument when the
// file cannot be read or is empty.
absl::StatusOr<std::string> ReadPemFile(const std::string& path, std::string_view what);

// Reads and checks a certificate + key: both parse, and the key belongs to the certificate.
// InvalidArgument naming the flags and files otherwise.
absl::StatusOr<KeyPair> LoadKeyPair(const std::string& cert_file, std::string_view cert_flag,
                                    const std::string& key_file, std::string_view key_flag);

// Facts of the first certificate of `pem`. InvalidArgument when it does not parse.
absl::StatusOr<CertInfo> InspectCert(std::string_view pem);

// OK when the leaf of `cert_pem` chains up to a certificate of `ca_pem` and is valid now;
// InvalidArgument with OpenSSL's reason otherwise.
absl::Status VerifyIssuedBy(std::string_view cert_pem, std::string_view ca_pem);

}  // namespace hg::tls
