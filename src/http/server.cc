#include "http/server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <exception>
#include <optional>
#include <unordered_map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/logging.h"
#include "common/strings.h"

namespace hg::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      absl::ToChronoNanoseconds(d));
}

void DefaultError(const Request&, std::string_view message, Response& res) {
  res.SetContent(absl::StrCat(Av(message), "\n"), "text/plain; charset=utf-8");
}

// A parse error of the request itself (as opposed to the peer going away or a timeout).
bool IsHttpError(const beast::error_code& ec) {
  static const beast::error_category& kHttp =
      bhttp::make_error_code(bhttp::error::bad_target).category();
  return ec.category() == kHttp && ec != bhttp::error::end_of_stream &&
         ec != bhttp::error::partial_message;
}

constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace

// A connection, whatever its stream; Stop() reaches every live one through this.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Closes the connection unless a request is in the handler or being answered (then it
  // closes after the answer). Thread-safe: runs on the session's strand.
  virtual void PostCloseIfIdle() = 0;
};

struct Server::Impl {
  Impl(Options o, Handler h) : options(WithDefaults(std::move(o))), handler(std::move(h)) {}
  static Options WithDefaults(Options o) {
    if (!o.on_error) o.on_error = DefaultError;
    return o;
  }

  void Register(SessionBase* s, std::weak_ptr<SessionBase> weak) {
    absl::MutexLock lock(&mu);
    sessions.emplace(s, std::move(weak));
  }
  void Unregister(SessionBase* s) {
    absl::MutexLock lock(&mu);
    sessions.erase(s);
  }

  bool NoSessions() const ABSL_SHARED_LOCKS_REQUIRED(mu) { return sessions.empty(); }
  void Accept();

  const Options options;
  const Handler handler;
  const log::Logger log{options.name};
  std::atomic<bool> stopping{false};
  // Declared before the io_context: sessions destroyed with it still unregister here.
  absl::Mutex mu;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions ABSL_GUARDED_BY(mu);
  std::optional<asio::ssl::context> ssl;
  std::unique_ptr<asio::thread_pool> pool;
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{asio::make_strand(ioc)};
  asio::steady_timer retry_timer{acceptor.get_executor()};
  std::vector<std::thread> io_threads;
};

namespace {

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection: reads one request at a time, hands it to the pool, writes its answer, then
// reads the next. Every member is touched only on the connection's strand.
template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  template <class... Args>
  Session(Server::Impl* impl, std::string remote, Args&&... args)
      : impl_(impl), remote_(std::move(remote)), stream_(std::forward<Args>(args)...) {}
  ~Session() override { impl_->Unregister(this); }

  void Start() {
    impl_->Register(this, this->weak_from_this());
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (std::is_same_v<Stream, TlsStream>) {
        self->Tcp().expires_after(ToChrono(self->impl_->options.read_timeout));
        self->stream_.async_handshake(asio::ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) return self->Close();
          self->ReadNext();
        });
      } else {
        self->ReadNext();
      }
    });
  }

  void PostCloseIfIdle() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (!self->busy_) self->Close();
    });
  }

 private:
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }
  const Server::Options& options() const { return impl_->options; }

  void ReadNext() {
    if (impl_->stopping.load() || closed_) return Close();
    busy_ = false;
    parser_.emplace();
    parser_->header_limit(
        static_cast<uint32_t>(options().max_header_bytes + options().max_path_bytes + 64));
    parser_->body_limit(options().max_body_bytes);
    if (buffer_.size() > 0) return ReadHeader();  // pipelined: the next request is here already
    // Idle between requests: wait for a first byte with the idle timeout.
    Tcp().expires_after(ToChrono(options().idle_timeout));
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->Close();
                              self->buffer_.commit(n);
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    Tcp().expires_after(ToChrono(options().read_timeout));
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](beast::error_code ec, size_t) {
                               if (ec) return self->OnReadError(ec);
                               self->OnHeader();
                             });
  }

  void OnHeader() {
    const auto& h = parser_->get();
    const std::string_view target = h.target();
    const std::string_view path = target.substr(0, target.find('?'));
    if (path.size() > options().max_path_bytes) {
      return Fail(414,
                  absl::StrCat("request path longer than ", options().max_path_bytes, " bytes"));
    }
    if (!parser_->is_done() &&
        absl::EqualsIgnoreCase(Av(h[bhttp::field::expect]), "100-continue")) {
      return asio::async_write(stream_, asio::buffer(kContinue, sizeof(kContinue) - 1),
                               [self = this->shared_from_this()](beast::error_code ec, size_t) {
                                 if (ec) return self->Close();
                                 self->ReadBody();
                               });
    }
    ReadBody();
  }

  void ReadBody() {
    if (parser_->is_done()) return OnRequest();
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->OnReadError(ec);
                        self->OnRequest();
                      });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) {
      return Fail(413,
                  absl::StrCat("request body larger than ", options().max_body_bytes, " bytes"));
    }
    if (ec == bhttp::error::header_limit) {
      // A request line too long to parse is 414 (the parser consumes a parsed start line and
      // fills in the target); otherwise the header fields are too large.
      if (parser_->get().target().empty()) {
        return Fail(414,
                    absl::StrCat("request path longer than ", options().max_path_bytes, " bytes"));
      }
      return Fail(
          431, absl::StrCat("request headers larger than ", options().max_header_bytes, " bytes"));
    }
    if (IsHttpError(ec)) return Fail(400, absl::StrCat("malformed request: ", ec.message()));
    Close();  // the peer went away, a timeout, or Stop()
  }

  // Answers an error the server found itself, then closes (the stream may be mid-message).
  void Fail(int status, std::string message) {
    busy_ = true;
    Request req;
    if (parser_ && parser_->is_header_done()) {
      req.method = std::string(parser_->get().method_string());
      req.target = std::string(parser_->get().target());
      req.path = PercentDecode(req.target.substr(0, req.target.find('?')), false);
    }
    req.remote_addr = remote_;
    Response res;
    res.status = status;
    options().on_error(req, message, res);
    keep_alive_ = false;
    head_ = false;
    linger_ = true;
    Write(std::move(res));
  }

  // After an error answer the client may still be sending (a body over the limit): closing
  // with unread data would reset the connection, and the client could lose the answer (or die
  // of SIGPIPE). So stop sending, read and drop what still comes for a while, then close.
  void LingeringClose() {
    beast::error_code ignored;
    Tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
    Tcp().expires_after(ToChrono(std::min(options().read_timeout, absl::Seconds(2))));
    discard_ = std::make_unique<char[]>(kDiscardBytes);
    Drain();
  }
  void Drain() {
    if (drained_ > 4 * options().max_body_bytes + (1 << 20)) return Close();
    Tcp().async_read_some(asio::buffer(discard_.get(), kDiscardBytes),
                          [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                            self->drained_ += n;
                            if (ec) return self->Close();
                            self->Drain();
                          });
  }

  void OnRequest() {
    busy_ = true;
    bhttp::request<bhttp::string_body> msg = parser_->release();
    parser_.reset();
    version_ = msg.version();
    keep_alive_ = msg.keep_alive();
    head_ = msg.method() == bhttp::verb::head;
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    const size_t q = req.target.find('?');
    req.path = PercentDecode(std::string_view(req.target).substr(0, q), false);
    if (q != std::string::npos) req.raw_query = req.target.substr(q + 1);
    req.params = ParseQuery(req.raw_query);
    for (const auto& field : msg) {
      req.headers.emplace(std::string(field.name_string()), std::string(field.value()));
    }
    req.body = std::move(msg.body());
    req.remote_addr = remote_;
    if (options().runs_inline && options().runs_inline(req)) {
      // Cannot block (the handler's owner says so): answered here, without two hand-offs.
      return Write(Run(req));
    }
    asio::post(*impl_->pool, [self = this->shared_from_this(), req = std::move(req)]() mutable {
      Response res = self->Run(req);
      asio::post(self->stream_.get_executor(),
                 [self, res = std::move(res)]() mutable { self->Write(std::move(res)); });
    });
  }

  // The handler's answer; an exception becomes a 500.
  Response Run(Request& req) {
    Response res;
    try {
      impl_->handler(req, res);
    } catch (const std::exception& e) {
      impl_->log.Error("handler threw", {{"method", req.method}, {"error", e.what()}});
      res = Response();
      res.status = 500;
      options().on_error(req, "internal error", res);
    } catch (...) {
      res = Response();
      res.status = 500;
      options().on_error(req, "internal error", res);
    }
    return res;
  }

  void Write(Response res) {
    if (closed_) return;
    auto& out = response_.emplace();
    out.version(version_);
    const int status = res.status >= 100 && res.status <= 599 ? res.status : 500;
    out.result(static_cast<unsigned>(status));
    for (const auto& [name, value] : res.headers) out.insert(name, value);
    const bool keep = keep_alive_ && !impl_->stopping.load();
    out.keep_alive(keep);
    if (status < 200 || status == 204 || status == 304) {
      // No body by definition.
    } else if (head_) {
      out.content_length(res.body.size());  // what GET would send, without it
    } else {
      out.body() = std::move(res.body);
      out.prepare_payload();
    }
    Tcp().expires_after(ToChrono(options().write_timeout));
    bhttp::async_write(stream_, out,
                       [self = this->shared_from_this(), keep](beast::error_code ec, size_t) {
                         self->response_.reset();
                         if (!ec && self->linger_) return self->LingeringClose();
                         if (ec || !keep) return self->Close();
                         self->ReadNext();
                       });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    busy_ = false;
    beast::error_code ignored;
    Tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Tcp().close();
  }

  Server::Impl* const impl_;  // outlives every session (they die with its io_context)
  const std::string remote_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::string_body>> response_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool head_ = false;
  bool busy_ = false;  // a request is in the handler or its answer is being written
  bool closed_ = false;
  bool linger_ = false;  // close with LingeringClose() after the answer
  size_t drained_ = 0;
  static constexpr size_t kDiscardBytes = 16384;
  std::unique_ptr<char[]> discard_;  // only while lingering
};

}  // namespace

void Server::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(ioc), [self = this](beast::error_code ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
    if (ec) {
      // Out of descriptors and the like: try again shortly rather than spin.
      self->log.Warn("accept failed", {{"error", ec.message()}});
      self->retry_timer.expires_after(std::chrono::milliseconds(50));
      self->retry_timer.async_wait([self](beast::error_code wait_ec) {
        if (!wait_ec) self->Accept();
      });
      return;
    }
    if (self->stopping.load()) return;
    beast::error_code opt_ec;
    s.set_option(tcp::no_delay(true), opt_ec);
    const auto remote = s.remote_endpoint(opt_ec);
    std::string addr = opt_ec ? std::string() : remote.address().to_string();
    if (self->ssl) {
      std::make_shared<Session<TlsStream>>(self, std::move(addr), std::move(s), *self->ssl)
          ->Start();
    } else {
      std::make_shared<Session<PlainStream>>(self, std::move(addr), std::move(s))->Start();
    }
    self->Accept();
  });
}

absl::Status SplitHostPort(std::string_view address, std::string* host, int* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("address \"", Av(address), "\" must be host:port"));
  }
  *host = std::string(address.substr(0, colon));
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  if (host->empty()) *host = "0.0.0.0";
  if (!absl::SimpleAtoi(Av(address.substr(colon + 1)), port) || *port < 0 || *port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("address \"", Av(address), "\" has an invalid port"));
  }
  return absl::OkStatus();
}

Server::Server(Options options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

Server::~Server() { Stop(); }

absl::Status Server::Start(std::string_view address) {
  if (started_) return absl::FailedPreconditionError("server already started");
  std::string host;
  int port = 0;
  if (absl::Status st = SplitHostPort(address, &host, &port); !st.ok()) return st;
  Impl& impl = *impl_;
  if (impl.options.tls_setup) {
    impl.ssl.emplace(asio::ssl::context::tls_server);
    if (!impl.options.tls_setup(*impl.ssl->native_handle())) {
      impl.ssl.reset();
      return absl::FailedPreconditionError("TLS setup of the listener failed");
    }
  }
  beast::error_code ec;
  tcp::resolver resolver(impl.ioc);
  auto endpoints = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
  if (ec || endpoints.empty()) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", Av(address), ": ", ec ? ec.message() : "no address"));
  }
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  // SO_REUSEADDR for quick restarts; never SO_REUSEPORT (a second process would silently
  // share the port).
  impl.acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl.acceptor.bind(endpoint, ec);
  if (!ec) impl.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    impl.acceptor.close(ignored);
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", Av(address), ": ", ec.message()));
  }
  port_ = impl.acceptor.local_endpoint(ec).port();
  started_ = true;
  impl.pool = std::make_unique<asio::thread_pool>(std::max(1, impl.options.threads));
  impl.work.emplace(impl.ioc.get_executor());
  impl.Accept();
  for (int i = 0; i < std::max(1, impl.options.io_threads); ++i) {
    impl.io_threads.emplace_back([&impl] { impl.ioc.run(); });
  }
  return absl::OkStatus();
}

void Server::Stop() {
  if (!started_) return;
  started_ = false;
  Impl& impl = *impl_;
  impl.stopping.store(true);
  asio::post(impl.acceptor.get_executor(), [&impl] {
    beast::error_code ignored;
    impl.acceptor.close(ignored);
    impl.retry_timer.cancel();
  });
  // Idle connections close now; busy ones close once their answer is written.
  std::vector<std::shared_ptr<SessionBase>> live;
  {
    absl::MutexLock lock(&impl.mu);
    for (const auto& [raw, weak] : impl.sessions) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->PostCloseIfIdle();
  live.clear();
  {
    absl::MutexLock lock(&impl.mu);
    impl.mu.AwaitWithTimeout(absl::Condition(&impl, &Impl::NoSessions), impl.options.write_timeout);
  }
  impl.work.reset();
  impl.ioc.stop();
  for (auto& t : impl.io_threads) t.join();
  impl.io_threads.clear();
  impl.pool->join();
}

}  // namespace hg::http
