#include "executor/destination_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/strings.h"

namespace hg::executor {
namespace {

constexpr std::array<uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

IpAddress Mapped(const in_addr& v4) {
  IpAddress out{};
  std::memcpy(out.data(), kMappedPrefix.data(), kMappedPrefix.size());
  std::memcpy(out.data() + 12, &v4, 4);
  return out;
}

bool IsMapped(const IpAddress& a) {
  return std::memcmp(a.data(), kMappedPrefix.data(), kMappedPrefix.size()) == 0;
}

IpNet MustParse(std::string_view text) { return *IpNet::Parse(text); }

}  // namespace

absl::StatusOr<IpNet> IpNet::Parse(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("'", Av(text), "' ", Av(why)));
  };
  const size_t slash = text.find('/');
  const std::string host(text.substr(0, slash));
  IpNet net;
  int max_prefix = 128;
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    net.addr = Mapped(v4);
    max_prefix = 32;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    std::memcpy(net.addr.data(), &v6, 16);
  } else {
    return bad("is not an IP address or CIDR network");
  }
  int prefix = max_prefix;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() || prefix < 0 ||
        prefix > max_prefix) {
      return bad(absl::StrCat("has a bad prefix length (0-", max_prefix, ")"));
    }
  }
  net.prefix = prefix + (128 - max_prefix);
  for (int bit = net.prefix; bit < 128; ++bit) {
    if (net.addr[bit / 8] & (0x80 >> (bit % 8))) return bad("has bits set past its prefix");
  }
  return net;
}

bool IpNet::Contains(const IpAddress& address) const {
  const int full = prefix / 8;
  if (std::memcmp(addr.data(), address.data(), full) != 0) return false;
  if (prefix % 8 == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - prefix % 8));
  return (addr[full] & mask) == (address[full] & mask);
}

std::string IpNet::ToString() const {
  return absl::StrCat(FormatIp(addr), "/", IsMapped(addr) && prefix >= 96 ? prefix - 96 : prefix);
}

std::string FormatIp(const IpAddress& address) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (IsMapped(address)) {
    inet_ntop(AF_INET, address.data() + 12, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, address.data(), buf, sizeof buf);
  }
  return buf;
}

absl::StatusOr<std::vector<IpNet>> ParseIpNetList(std::string_view text, std::string_view flag) {
  std::vector<IpNet> out;
  for (absl::string_view part : absl::StrSplit(Av(text), ',', absl::SkipWhitespace())) {
    auto net = IpNet::Parse(std::string(absl::StripAsciiWhitespace(part)));
    if (!net.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(Av(flag), ": ", net.status().message()));
    }
    out.push_back(*net);
  }
  return out;
}

DestinationPolicy::DestinationPolicy() {
  denied_ = {
      {MustParse("127.0.0.0/8"), "loopback"},
      {MustParse("::1/128"), "loopback"},
      {MustParse("169.254.169.254/32"), "cloud metadata"},
      {MustParse("fd00:ec2::254/128"), "cloud metadata"},
      {MustParse("169.254.0.0/16"), "link-local"},
      {MustParse("fe80::/10"), "link-local"},
      {MustParse("0.0.0.0/8"), "unspecified"},
      {MustParse("::/128"), "unspecified"},
  };
}

DestinationPolicy& DestinationPolicy::Allow(const IpNet& net) {
  allowed_.push_back(net);
  return *this;
}

DestinationPolicy& DestinationPolicy::Deny(const IpNet& net) {
  denied_.push_back({net, absl::StrCat("denied by --http-deny ", net.ToString())});
  return *this;
}

std::optional<std::string> DestinationPolicy::Check(const IpAddress& address) const {
  for (const IpNet& net : allowed_) {
    if (net.Contains(address)) return std::nullopt;
  }
  for (const Denied& d : denied_) {
    if (d.net.Contains(address)) return d.why;
  }
  return std::nullopt;
}

std::optional<IpAddress> AddressOf(const sockaddr* addr) {
  IpAddress address{};
  if (addr->sa_family == AF_INET) {
    return Mapped(reinterpret_cast<const sockaddr_in*>(addr)->sin_addr);
  }
  if (addr->sa_family != AF_INET6) return std::nullopt;
  std::memcpy(address.data(), &reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr, 16);
  return address;
}

}  // namespace hg::executor
