// Request and Response: the HTTP messages handlers see (http::Server fills a Request, the
// handler fills a Response). Plain values with no I/O; header names compare case-insensitively.
//
//   void Handle(const http::Request& req, http::Response& res) {
//     if (req.HasParam("limit")) ... req.Param("limit") ...
//     res.SetContent(R"({"ok":true})", "application/json");   // status 200 unless set
//   }
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hg::http {

struct CaseInsensitiveLess {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const;
};
using Headers = std::multimap<std::string, std::string, CaseInsensitiveLess>;

// Percent-decodes `text` (%XX; with `plus_is_space` '+' becomes ' ', as in query strings).
// Malformed escapes are kept as they are.
std::string PercentDecode(std::string_view text, bool plus_is_space);

// "a=1&b=x%3Dy&a=2" -> {a,1} {b,x=y} {a,2}: split at '&', then at the first '=' only, each part
// percent-decoded. A key without '=' has an empty value.
std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query);

struct Request {
  std::string method;     // "GET", as sent (HEAD is served by GET routes)
  std::string target;     // as sent: "/jobs/My%20Job?limit=5"
  std::string path;       // percent-decoded, without the query: "/jobs/My Job"
  std::string raw_query;  // as sent, without '?': "limit=5"
  std::vector<std::pair<std::string, std::string>> params;  // ParseQuery(raw_query)
  Headers headers;
  std::string body;
  std::string remote_addr;  // the peer's IP address
  // Set by a router: [0] the whole path, [1..] the route pattern's capture groups.
  std::vector<std::string> matches;

  bool HasHeader(std::string_view name) const { return headers.find(name) != headers.end(); }
  std::optional<std::string_view> FindHeader(std::string_view name) const;
  std::string Header(std::string_view name) const;  // the first value, "" when absent
  bool HasParam(std::string_view name) const;
  std::string Param(std::string_view name) const;                // the first value, "" when absent
  std::vector<std::string> Params(std::string_view name) const;  // every value, in order
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;

  // Replaces any header of that name.
  void SetHeader(std::string_view name, std::string value);
  bool HasHeader(std::string_view name) const { return headers.find(name) != headers.end(); }
  std::string Header(std::string_view name) const;  // the first value, "" when absent
  void SetContent(std::string content, std::string_view content_type);
  void Redirect(std::string location, int redirect_status = 302);
};

}  // namespace hg::http
