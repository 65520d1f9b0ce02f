#include "executor/http_executor.h"

#include <curl/curl.h>
#include <sys/socket.h>

#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/duration.h"
#include "executor/internal.h"
#include "executor/output.h"

namespace hg::executor {
namespace {

// RFC 9110 token characters (methods and header names).
bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
        std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// Why `spec` cannot be sent, or empty when it can.
std::string Validate(const HttpSpec& spec) {
  const std::string url = absl::AsciiStrToLower(spec.url.substr(0, 8));
  if (!absl::StartsWith(url, "http://") && !absl::StartsWith(url, "https://")) {
    return absl::StrCat("unsupported URL '", spec.url, "': only http:// and https:// are allowed");
  }
  if (!IsToken(spec.method)) return absl::StrCat("invalid HTTP method '", spec.method, "'");
  for (const auto& [name, value] : spec.headers) {
    if (!IsToken(name)) return absl::StrCat("invalid HTTP header name '", name, "'");
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return absl::StrCat("invalid value for HTTP header '", name, "'");
    }
  }
  if (spec.max_redirects < 0) return "max_redirects must not be negative";
  return "";
}

// What the executor thread needs to start one request.
struct HttpRun {
  uint64_t id = 0;
  HttpSpec spec;
  std::string traceparent;
  absl::Duration timeout;
  size_t output_cap = 0;
  DoneCallback on_done;
  absl::Time started;
  SteadyTime clock_start;
};

// One request in flight: its easy handle and what the handle points into. Executor thread only.
struct Transfer {
  explicit Transfer(HttpRun r)
      : run(std::move(r)), body(run.output_cap, OutputCapture::Keep::kHead) {}
  ~Transfer() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
  }
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  HttpRun run;
  const DestinationPolicy* policy = nullptr;
  std::string refused;  // the first connection the policy refused: "<address> (<why>)"
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  char error[CURL_ERROR_SIZE] = {};
  OutputCapture body;
};

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  static_cast<Transfer*>(user)->body.Append(std::string_view(data, size * count));
  return size * count;  // the rest of an over-long body is counted and dropped, never an error
}

// libcurl's socket factory: sees the resolved address of every connection it is about to make
// (first request, redirects, happy-eyeballs alternatives), so the destination check cannot be
// raced by DNS answering differently between a check and the connect.
curl_socket_t OpenSocket(void* user, curlsocktype /*purpose*/, curl_sockaddr* address) {
  auto* t = static_cast<Transfer*>(user);
  const std::optional<IpAddress> ip = AddressOf(&address->addr);
  std::optional<std::string> why = ip ? t->policy->Check(*ip) : "not an IP address";
  if (why.has_value()) {
    if (t->refused.empty()) t->refused = absl::StrCat(ip ? FormatIp(*ip) : "?", " (", *why, ")");
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

// Sets up `t.easy` (a handle of the pool, or a new one); false (with t.error set) when libcurl
// refuses.
bool Configure(Transfer& t, const HttpConfig& config, CURL* reused) {
  const HttpSpec& spec = t.run.spec;
  t.easy = reused != nullptr ? reused : curl_easy_init();
  if (t.easy == nullptr) {
    snprintf(t.error, sizeof t.error, "libcurl could not create a request");
    return false;
  }
  CURL* e = t.easy;
  bool ok = true;
  const auto set = [&](CURLoption option, auto value) {
    ok = ok && curl_easy_setopt(e, option, value) == CURLE_OK;
  };
  set(CURLOPT_PRIVATE, &t);
  set(CURLOPT_ERRORBUFFER, t.error);
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_URL, spec.url.c_str());
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  set(CURLOPT_USERAGENT, config.user_agent.c_str());
  t.policy = &config.destinations;
  set(CURLOPT_OPENSOCKETFUNCTION, &OpenSocket);
  set(CURLOPT_OPENSOCKETDATA, &t);
  set(CURLOPT_PROXY, "");  // no proxy from the environment: the policy must see the destination
  if (!config.ca_file.empty()) set(CURLOPT_CAINFO, config.ca_file.c_str());
  set(CURLOPT_SSL_VERIFYPEER, spec.tls_verify ? 1L : 0L);
  set(CURLOPT_SSL_VERIFYHOST, spec.tls_verify ? 2L : 0L);
  set(CURLOPT_FOLLOWLOCATION, spec.max_redirects > 0 ? 1L : 0L);
  set(CURLOPT_MAXREDIRS, static_cast<long>(spec.max_redirects));
  if (t.run.timeout > absl::ZeroDuration()) {
    set(CURLOPT_TIMEOUT_MS,
        static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(t.run.timeout))));
  }
  set(CURLOPT_WRITEFUNCTION, &WriteBody);
  set(CURLOPT_WRITEDATA, &t);
  if (spec.method == "HEAD") {
    set(CURLOPT_NOBODY, 1L);
  } else if (spec.method == "POST") {
    set(CURLOPT_POST, 1L);
  } else if (spec.method != "GET" || !spec.body.empty()) {
    set(CURLOPT_CUSTOMREQUEST, spec.method.c_str());
  }
  if (spec.method == "POST" || !spec.body.empty()) {
    set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(spec.body.size()));
    set(CURLOPT_POSTFIELDS, spec.body.c_str());
  }
  // libcurl would otherwise send "Expect: 100-continue" for larger bodies and wait a second
  // for servers that never answer it.
  t.headers = curl_slist_append(t.headers, "Expect:");
  for (const auto& [name, value] : spec.headers) {
    if (!t.run.traceparent.empty() && absl::EqualsIgnoreCase(name, "traceparent")) continue;
    // "Name;" is libcurl's way to send a header with an empty value.
    const std::string line =
        value.empty() ? absl::StrCat(name, ";") : absl::StrCat(name, ": ", value);
    t.headers = curl_slist_append(t.headers, line.c_str());
  }
  if (!t.run.traceparent.empty()) {
    t.headers =
        curl_slist_append(t.headers, absl::StrCat("traceparent: ", t.run.traceparent).c_str());
  }
  set(CURLOPT_HTTPHEADER, t.headers);
  if (!ok && t.error[0] == '\0') snprintf(t.error, sizeof t.error, "libcurl refused an option");
  return ok;
}

}  // namespace

class HttpExecutor::Impl {
 public:
  Impl(HttpConfig config, const Clock& clock, CURLM* multi)
      : config_(std::move(config)),
        clock_(clock),
        multi_(multi),
        mailbox_(
            std::make_shared<internal::Mailbox<HttpRun>>([multi] { curl_multi_wakeup(multi); })) {}
  ~Impl() {
    thread_.Stop();
    curl_multi_cleanup(multi_);
  }

  void StartThread() {
    thread_.Start([this] { Loop(); });
  }
  std::unique_ptr<RunHandle> Start(const ExecRequest& request, DoneCallback on_done);
  void Stop() { thread_.Stop(); }

 private:
  void Loop();
  void Add(HttpRun run);
  // Complete/Abort decide a transfer's result; Report removes it from the multi handle, adds
  // status, body and times, and calls on_done. The caller then destroys `t`.
  void Complete(Transfer& t, CURLcode code);
  void Abort(Transfer& t, std::string reason);
  static int ResponseCode(Transfer& t);  // 0 when no response arrived
  void Report(Transfer& t, ExecResult result);
  // Takes `t`'s easy handle back into the pool (reset: no option of the last request leaks into
  // the next), so a run does not allocate and free libcurl's buffers (64 KiB and more) anew.
  void Recycle(Transfer& t);

  const HttpConfig config_;
  const Clock& clock_;
  CURLM* const multi_;  // used by the executor thread; curl_multi_wakeup from any thread
  const std::shared_ptr<internal::Mailbox<HttpRun>> mailbox_;
  std::unordered_map<uint64_t, std::unique_ptr<Transfer>> transfers_;  // executor thread only
  std::vector<CURL*> idle_handles_;  // executor thread only; at most kMaxIdleHandles
  static constexpr size_t kMaxIdleHandles = 256;
  internal::LoopThread<HttpRun> thread_{mailbox_};
};

std::unique_ptr<RunHandle> HttpExecutor::Impl::Start(const ExecRequest& request,
                                                     DoneCallback on_done) {
  HttpRun run;
  run.started = clock_.Now();
  run.clock_start = clock_.SteadyNow();
  const auto fail = [&](std::string error) {
    ExecResult result;
    result.error = std::move(error);
    internal::Stamp(result, clock_, run.started, run.clock_start);
    return internal::FinishEarly(*mailbox_, std::move(on_done), std::move(result));
  };
  const auto* spec = std::get_if<HttpSpec>(&request.spec);
  if (spec == nullptr) return fail("the HTTP executor cannot run a shell job");
  if (std::string why = Validate(*spec); !why.empty()) return fail(std::move(why));
  run.id = mailbox_->NextId();
  run.spec = *spec;
  run.traceparent = request.traceparent;
  run.timeout = request.timeout;
  run.output_cap = request.output_cap;
  run.on_done = std::move(on_done);
  const uint64_t id = run.id;
  if (!mailbox_->PostRun(run)) {
    on_done = std::move(run.on_done);
    return fail("executor stopped");
  }
  return std::make_unique<internal::MailboxRunHandle<HttpRun>>(mailbox_, id);
}

void HttpExecutor::Impl::Add(HttpRun run) {
  const uint64_t id = run.id;
  auto t = std::make_unique<Transfer>(std::move(run));
  CURL* reused = nullptr;
  if (!idle_handles_.empty()) {
    reused = idle_handles_.back();
    idle_handles_.pop_back();
  }
  if (!Configure(*t, config_, reused) || curl_multi_add_handle(multi_, t->easy) != CURLM_OK) {
    ExecResult result;
    result.error = t->error[0] != '\0' ? t->error : "libcurl could not start the request";
    internal::Stamp(result, clock_, t->run.started, t->run.clock_start);
    t->run.on_done(std::move(result));
    return;
  }
  transfers_.emplace(id, std::move(t));
}

void HttpExecutor::Impl::Complete(Transfer& t, CURLcode code) {
  ExecResult result;
  const int status = ResponseCode(t);
  const std::vector<StatusRange>& expected = t.run.spec.expected_status;
  if (code == CURLE_OK) {
    if (StatusExpected(expected, status)) {
      result.status = ExecStatus::kSuccess;
    } else {
      result.error = absl::StrCat("unexpected HTTP status ", status, " (expected ",
                                  FormatStatusRanges(expected), ")");
    }
  } else if (code == CURLE_COULDNT_CONNECT && !t.refused.empty()) {
    result.cause = ExecCause::kRefused;
    result.error = absl::StrCat("destination ", t.refused,
                                " refused by the worker's HTTP destination policy (--http-allow)");
  } else if (code == CURLE_OPERATION_TIMEDOUT && t.run.timeout > absl::ZeroDuration()) {
    result.status = ExecStatus::kTimeout;
    result.error = absl::StrCat("timed out after ", FormatGoDuration(t.run.timeout));
  } else {
    result.error = t.error[0] != '\0' ? t.error : curl_easy_strerror(code);
  }
  Report(t, std::move(result));
}

void HttpExecutor::Impl::Abort(Transfer& t, std::string reason) {
  ExecResult result;
  result.status = ExecStatus::kKilled;
  result.error = absl::StrCat("killed: ", reason);
  Report(t, std::move(result));
}

int HttpExecutor::Impl::ResponseCode(Transfer& t) {
  long status = 0;
  curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
  return static_cast<int>(status);
}

void HttpExecutor::Impl::Report(Transfer& t, ExecResult result) {
  curl_multi_remove_handle(multi_, t.easy);
  if (const int status = ResponseCode(t); status > 0) result.http_status = status;
  result.output = t.body.Finish();
  result.output_bytes = t.body.total();
  internal::Stamp(result, clock_, t.run.started, t.run.clock_start);
  t.run.on_done(std::move(result));
  Recycle(t);
}

void HttpExecutor::Impl::Recycle(Transfer& t) {
  if (t.easy == nullptr || idle_handles_.size() >= kMaxIdleHandles) return;
  curl_easy_reset(t.easy);
  idle_handles_.push_back(t.easy);
  t.easy = nullptr;  // the Transfer no longer owns it
}

void HttpExecutor::Impl::Loop() {
  while (true) {
    auto batch = mailbox_->Take();
    for (auto& done : batch.finished) done.on_done(std::move(done.result));
    for (HttpRun& run : batch.runs) Add(std::move(run));
    for (auto& kill : batch.kills) {
      auto it = transfers_.find(kill.run_id);
      if (it == transfers_.end()) continue;
      Abort(*it->second, kill.reason);
      transfers_.erase(it);
    }
    if (batch.stopping) {  // nothing new can arrive: abort the rest and leave
      for (auto& [id, t] : transfers_) Abort(*t, "executor stopped");
      transfers_.clear();
      for (CURL* easy : idle_handles_) curl_easy_cleanup(easy);
      idle_handles_.clear();
      return;
    }
    int running = 0;
    curl_multi_perform(multi_, &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* easy = msg->easy_handle;
      const CURLcode code = msg->data.result;  // msg dies with curl_multi_remove_handle
      Transfer* t = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &t);
      const uint64_t id = t->run.id;
      Complete(*t, code);
      transfers_.erase(id);
    }
    // libcurl shortens this wait to its own next timer (timeouts, retries).
    curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
  }
}

absl::StatusOr<std::unique_ptr<HttpExecutor>> HttpExecutor::Create(HttpConfig config,
                                                                   const Clock& clock) {
  static std::once_flag init_once;
  static CURLcode init_code = CURLE_OK;
  std::call_once(init_once, [] { init_code = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (init_code != CURLE_OK) {
    return absl::InternalError(absl::StrCat("curl_global_init: ", curl_easy_strerror(init_code)));
  }
  CURLM* multi = curl_multi_init();
  if (multi == nullptr) return absl::InternalError("curl_multi_init failed");
  auto impl = std::make_unique<Impl>(std::move(config), clock, multi);
  impl->StartThread();
  return std::unique_ptr<HttpExecutor>(new HttpExecutor(std::move(impl)));
}

HttpExecutor::HttpExecutor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpExecutor::~HttpExecutor() { Stop(); }

std::unique_ptr<RunHandle> HttpExecutor::Start(const ExecRequest& request, DoneCallback on_done) {
  return impl_->Start(request, std::move(on_done));
}

void HttpExecutor::Stop() { impl_->Stop(); }

}  // namespace hg::executor
