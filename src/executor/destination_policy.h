// DestinationPolicy: which IP addresses an HTTP job may connect to (server-side request
// forgery). Pure: no I/O, no DNS. The HTTP executor asks it about the address libcurl is about to
// connect to — after DNS resolution, for every connection, redirects included — so a host name
// that resolves (or re-resolves) to a denied address is refused as well.
//
// Default: loopback (127.0.0.0/8, ::1), link-local (169.254.0.0/16, fe80::/10, which holds the
// cloud metadata address 169.254.169.254), the AWS IPv6 metadata address fd00:ec2::254 and the
// unspecified / "this network" addresses (0.0.0.0/8, ::) are denied. Private ranges (10/8,
// 172.16/12, 192.168/16, fc00::/7) are allowed: calling internal services is what HTTP jobs are
// for; Deny() them per worker (`--http-deny`) where that is not wanted. An allowed network
// (`--http-allow`) wins over every denied one, so `--http-allow 127.0.0.1/32` opens exactly that.
// IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) are judged as the IPv4 address they carry.
// Thread-compatible value type.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

struct sockaddr;

namespace hg::executor {

// An IPv6 address; IPv4 is held as IPv4-mapped IPv6 (::ffff:a.b.c.d).
using IpAddress = std::array<uint8_t, 16>;

// The address of an AF_INET / AF_INET6 socket address; std::nullopt for other families.
std::optional<IpAddress> AddressOf(const sockaddr* addr);

// An IP network; IPv4 is held as IPv4-mapped IPv6 (::ffff:a.b.c.d, prefix + 96).
struct IpNet {
  IpAddress addr{};
  int prefix = 128;  // in IPv6 bits

  // "10.0.0.0/8", "fe80::/10", or a single address ("127.0.0.1", "::1"). InvalidArgument
  // naming the text otherwise (host bits set, bad prefix, not an address).
  static absl::StatusOr<IpNet> Parse(std::string_view text);
  bool Contains(const IpAddress& address) const;
  std::string ToString() const;  // as parsed: "10.0.0.0/8", "::1/128"
  friend bool operator==(const IpNet&, const IpNet&) = default;
};

// A comma-separated list of IpNet ("" = none); the error names the bad entry and `flag`.
absl::StatusOr<std::vector<IpNet>> ParseIpNetList(std::string_view text, std::string_view flag);

class DestinationPolicy {
 public:
  DestinationPolicy();  // the default described above

  // Opens `net` (wins over every denied network).
  DestinationPolicy& Allow(const IpNet& net);
  // Denies `net` in addition to the defaults.
  DestinationPolicy& Deny(const IpNet& net);

  // std::nullopt when `address` may be connected to; otherwise why not, in words: "loopback",
  // "cloud metadata", "link-local", "unspecified", "denied by --http-deny 10.0.0.0/8".
  std::optional<std::string> Check(const IpAddress& address) const;

  const std::vector<IpNet>& allowed() const { return allowed_; }

 private:
  struct Denied {
    IpNet net;
    std::string why;
  };
  std::vector<IpNet> allowed_;
  std::vector<Denied> denied_;
};

// The address as text ("169.254.169.254", "::1"; IPv4-mapped shown as IPv4).
std::string FormatIp(const IpAddress& address);

}  // namespace hg::executor
