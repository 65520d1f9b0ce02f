#include "tls/server_certificate.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "absl/strings/str_cat.h"

namespace hg::tls {

// One certificate chain and key, parsed once and shared by the handshakes that use it.
struct ServerCertificate::Loaded {
  ~Loaded() {
    X509_free(leaf);
    if (chain != nullptr) sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
  }
  X509* leaf = nullptr;
  STACK_OF(X509) * chain = nullptr;  // intermediates after the leaf
  EVP_PKEY* key = nullptr;
  CertInfo info;
};

ServerCertificate::ServerCertificate(std::string cert_file, std::string key_file)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {}

ServerCertificate::~ServerCertificate() = default;

absl::StatusOr<std::unique_ptr<ServerCertificate>> ServerCertificate::Load(std::string cert_file,
                                                                           std::string key_file) {
  std::unique_ptr<ServerCertificate> cert(
      new ServerCertificate(std::move(cert_file), std::move(key_file)));
  auto loaded = cert->Read();
  if (!loaded.ok()) return loaded.status();
  absl::MutexLock lock(&cert->mu_);
  cert->current_ = *std::move(loaded);
  return cert;
}

absl::StatusOr<std::shared_ptr<const ServerCertificate::Loaded>> ServerCertificate::Read() const {
  auto pair = LoadKeyPair(cert_file_, "--tls-cert", key_file_, "--tls-key");
  if (!pair.ok()) return pair.status();
  auto out = std::make_shared<Loaded>();
  out->info = pair->info;
  BIO* cert_bio = BIO_new_mem_buf(pair->cert_pem.data(), static_cast<int>(pair->cert_pem.size()));
  out->leaf = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
  out->chain = sk_X509_new_null();
  while (X509* c = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr)) {
    sk_X509_push(out->chain, c);
  }
  BIO_free(cert_bio);
  BIO* key_bio = BIO_new_mem_buf(pair->key_pem.data(), static_cast<int>(pair->key_pem.size()));
  out->key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  BIO_free(key_bio);
  ERR_clear_error();  // the read that ended the chain loop
  if (out->leaf == nullptr || out->key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-cert ", cert_file_, " / --tls-key ", key_file_, ": unreadable"));
  }
  return std::shared_ptr<const Loaded>(std::move(out));
}

bool ServerCertificate::Install(SSL_CTX& ctx) {
  SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_cert_cb(&ctx, &ServerCertificate::CertCallback, this);
  return true;
}

int ServerCertificate::CertCallback(SSL* ssl, void* arg) {
  auto* self = static_cast<ServerCertificate*>(arg);
  std::shared_ptr<const Loaded> pair;
  {
    absl::MutexLock lock(&self->mu_);
    pair = self->current_;
  }
  // SSL_use_* take their own references: the pair may be replaced during the handshake.
  if (SSL_use_certificate(ssl, pair->leaf) != 1 || SSL_use_PrivateKey(ssl, pair->key) != 1 ||
      SSL_set1_chain(ssl, pair->chain) != 1) {
    return 0;  // aborts this handshake only
  }
  return 1;
}

absl::Status ServerCertificate::Reload() {
  auto loaded = Read();
  if (!loaded.ok()) return loaded.status();
  absl::MutexLock lock(&mu_);
  current_ = *std::move(loaded);
  return absl::OkStatus();
}

CertInfo ServerCertificate::info() const {
  absl::MutexLock lock(&mu_);
  return current_->info;
}

}  // namespace hg::tls
