// ServerCertificate: the certificate and key an HTTPS listener presents, reloadable while it
// serves (SIGHUP). It installs an OpenSSL certificate callback on the listener's SSL_CTX that
// hands every new handshake the current pair; Reload() reads the files again and swaps the
// pair only when the new one is good, so a bad file keeps the old certificate and returns the
// error. Connections already open keep the certificate they started with.
//
//   auto cert = tls::ServerCertificate::Load(cert_file, key_file);   // start-up checks
//   options.tls_setup = [&](SSL_CTX& ctx) { return (*cert)->Install(ctx); };  // http::Server
//   ...on SIGHUP: if (auto st = (*cert)->Reload(); !st.ok()) log the error (old pair stays)
//
// Thread safety: Reload() and handshakes may run concurrently (a mutex guards the pair). Must
// outlive every SSL_CTX it is installed on.
#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "tls/pem.h"

typedef struct ssl_ctx_st SSL_CTX;  // NOLINT: OpenSSL's own forward declaration
typedef struct ssl_st SSL;          // NOLINT

namespace hg::tls {

class ServerCertificate {
 public:
  // InvalidArgument naming --tls-cert/--tls-key when a file is unreadable, does not parse, or
  // the key does not match the certificate.
  static absl::StatusOr<std::unique_ptr<ServerCertificate>> Load(std::string cert_file,
                                                                 std::string key_file);
  ~ServerCertificate();
  ServerCertificate(const ServerCertificate&) = delete;
  ServerCertificate& operator=(const ServerCertificate&) = delete;

  // Sets up `ctx` for serving: TLS 1.2 or newer, the certificate callback. False on failure.
  bool Install(SSL_CTX& ctx);

  // Reads both files again; on success new handshakes get the new pair. On error nothing
  // changes.
  absl::Status Reload();

  CertInfo info() const;  // of the pair served now

 private:
  struct Loaded;  // OpenSSL objects of one pair
  ServerCertificate(std::string cert_file, std::string key_file);
  static int CertCallback(SSL* ssl, void* self);
  absl::StatusOr<std::shared_ptr<const Loaded>> Read() const;

  const std::string cert_file_;
  const std::string key_file_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Loaded> current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hg::tls
