#include "tls/pem.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace hg::tls {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using StackPtr = std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)>;

void FreeX509Stack(STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); }

BioPtr MemBio(std::string_view text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// OpenSSL's last error as text (and the queue cleared, so it cannot leak into a later call).
std::string OpenSslError() {
  const unsigned long code = ERR_get_error();  // NOLINT(runtime/int): OpenSSL's type
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

// Every certificate of a PEM text, leaf first.
StackPtr ReadCerts(std::string_view pem) {
  StackPtr out(sk_X509_new_null(), FreeX509Stack);
  BioPtr bio = MemBio(pem);
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    sk_X509_push(out.get(), cert);
  }
  ERR_clear_error();  // the read that ended the loop (no more PEM blocks)
  return out;
}

std::string Subject(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0,
                     XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);  // NOLINT(runtime/int)
  return std::string(data, static_cast<size_t>(n));
}

std::string Serial(X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr);
  if (bn == nullptr) return "";
  char* hex = BN_bn2hex(bn);
  std::string out = hex != nullptr ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

// The URI SANs and the DNS/IP SANs of `cert`.
void AltNames(X509* cert, std::vector<std::string>* uris, std::vector<std::string>* hosts) {
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type == GEN_URI || name->type == GEN_DNS) {
      const ASN1_STRING* s =
          name->type == GEN_URI ? name->d.uniformResourceIdentifier : name->d.dNSName;
      (name->type == GEN_URI ? uris : hosts)
          ->emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<size_t>(ASN1_STRING_length(s)));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = {0};
      const int family = ASN1_STRING_length(ip) == 4 ? AF_INET : AF_INET6;
      if (inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof(text)) != nullptr) {
        hosts->emplace_back(text);
      }
    }
  }
  GENERAL_NAMES_free(names);
}

absl::Time NotAfter(X509* cert) {
  struct tm t = {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &t) != 1) return absl::InfinitePast();
  return absl::FromTM(t, absl::UTCTimeZone());
}

}  // namespace

absl::StatusOr<std::string> ReadPemFile(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(Av(what), ": cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (absl::StripAsciiWhitespace(text).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(Av(what), ": ", path, " is empty"));
  }
  return text;
}

absl::StatusOr<CertInfo> InspectCert(std::string_view pem) {
  StackPtr certs = ReadCerts(pem);
  if (sk_X509_num(certs.get()) == 0) {
    return absl::InvalidArgumentError("no PEM certificate in it");
  }
  X509* leaf = sk_X509_value(certs.get(), 0);
  CertInfo info{.subject = Subject(leaf), .serial_hex = Serial(leaf), .not_after = NotAfter(leaf)};
  AltNames(leaf, &info.uris, &info.hosts);
  return info;
}

absl::StatusOr<KeyPair> LoadKeyPair(const std::string& cert_file, std::string_view cert_flag,
                                    const std::string& key_file, std::string_view key_flag) {
  KeyPair pair;
  auto cert = ReadPemFile(cert_file, cert_flag);
  if (!cert.ok()) return cert.status();
  auto key = ReadPemFile(key_file, key_flag);
  if (!key.ok()) return key.status();
  pair.cert_pem = *std::move(cert);
  pair.key_pem = *std::move(key);
  auto info = InspectCert(pair.cert_pem);
  if (!info.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Av(cert_flag), ": ", cert_file, ": ", info.status().message()));
  }
  pair.info = *std::move(info);
  BioPtr key_bio = MemBio(pair.key_pem);
  KeyPtr pkey(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (pkey == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        Av(key_flag), ": ", key_file, ": not a PEM private key (", OpenSslError(), ")"));
  }
  StackPtr certs = ReadCerts(pair.cert_pem);
  if (X509_check_private_key(sk_X509_value(certs.get(), 0), pkey.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        Av(key_flag), ": ", key_file, " is not the key of ", Av(cert_flag), " ", cert_file));
  }
  return pair;
}

absl::Status VerifyIssuedBy(std::string_view cert_pem, std::string_view ca_pem) {
  StackPtr certs = ReadCerts(cert_pem);
  StackPtr cas = ReadCerts(ca_pem);
  if (sk_X509_num(certs.get()) == 0) return absl::InvalidArgumentError("no certificate");
  if (sk_X509_num(cas.get()) == 0) return absl::InvalidArgumentError("no CA certificate");
  StorePtr store(X509_STORE_new());
  for (int i = 0; i < sk_X509_num(cas.get()); ++i) {
    X509_STORE_add_cert(store.get(), sk_X509_value(cas.get(), i));
  }
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  // Certificates after the leaf are intermediates sent along with it.
  StackPtr chain(sk_X509_new_null(), FreeX509Stack);
  for (int i = 1; i < sk_X509_num(certs.get()); ++i) {
    X509* c = sk_X509_value(certs.get(), i);
    X509_up_ref(c);
    sk_X509_push(chain.get(), c);
  }
  X509_STORE_CTX_init(ctx.get(), store.get(), sk_X509_value(certs.get(), 0), chain.get());
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return absl::InvalidArgumentError(X509_verify_cert_error_string(err));
  }
  return absl::OkStatus();
}

}  // namespace hg::tls
