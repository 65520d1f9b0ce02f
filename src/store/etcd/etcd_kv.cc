#include "store/etcd/etcd_kv.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/logging.h"
#include "etcd/rpc.grpc.pb.h"
#include "store/request_checks.h"

namespace hg::store {
namespace {

namespace pb = ::etcdserverpb;

const hg::log::Logger& Log() {
  static const hg::log::Logger* logger = new hg::log::Logger("store.etcd");
  return *logger;
}

// ---- error mapping ----

// etcd's error texts (etcdserver/api/v3rpc/rpctypes) that change what a code means.
constexpr char kCompactedText[] = "required revision has been compacted";
constexpr char kLeaseNotFoundText[] = "requested lease not found";
constexpr char kInvalidTokenText[] = "invalid auth token";
constexpr char kAuthOldRevisionText[] = "revision of auth store is old";

// gRPC and absl share their numeric codes (both are the canonical Google codes).
absl::Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

bool IsCompactedGrpc(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::OUT_OF_RANGE &&
         absl::StrContains(s.error_message(), kCompactedText);
}

bool IsLeaseNotFound(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::NOT_FOUND &&
         absl::StrContains(s.error_message(), kLeaseNotFoundText);
}

bool NeedsReauth(const grpc::Status& s) {
  return absl::StrContains(s.error_message(), kInvalidTokenText) ||
         absl::StrContains(s.error_message(), kAuthOldRevisionText);
}

// For KV calls: compacted revision -> CompactedError; a missing lease named by a Put/Txn is the
// caller's precondition, not a missing lease to look up (Kv contract).
absl::Status KvError(const grpc::Status& s, Revision requested) {
  if (IsCompactedGrpc(s)) {
    // etcd does not say which revision is the oldest kept; the marker makes IsCompacted() true.
    return absl::OutOfRangeError(absl::StrCat("revision compacted: requested ", requested,
                                              " is older than the oldest kept revision (",
                                              s.error_message(), ")"));
  }
  if (IsLeaseNotFound(s)) return absl::FailedPreconditionError(s.error_message());
  return FromGrpc(s);
}

// ---- conversions ----

// Kv lets an empty key with a range_end mean "from the first key"; etcd spells that "\0".
std::string EtcdKey(const std::string& key, const std::string& range_end) {
  if (key.empty() && !range_end.empty()) return std::string(1, '\0');
  return key;
}

KeyValue FromPb(const mvccpb::KeyValue& kv) {
  return KeyValue{.key = kv.key(),
                  .value = kv.value(),
                  .create_revision = kv.create_revision(),
                  .mod_revision = kv.mod_revision(),
                  .version = kv.version(),
                  .lease = kv.lease()};
}

pb::RangeRequest ToPb(const RangeRequest& r) {
  pb::RangeRequest out;
  out.set_key(EtcdKey(r.key, r.range_end));
  out.set_range_end(r.range_end);
  out.set_revision(r.revision);
  out.set_limit(r.limit);
  out.set_keys_only(r.keys_only);
  out.set_count_only(r.count_only);
  switch (r.sort_order) {
    case SortOrder::kNone:
      out.set_sort_order(pb::RangeRequest::NONE);
      break;
    case SortOrder::kAscend:
      out.set_sort_order(pb::RangeRequest::ASCEND);
      break;
    case SortOrder::kDescend:
      out.set_sort_order(pb::RangeRequest::DESCEND);
      break;
  }
  switch (r.sort_target) {
    case SortTarget::kKey:
      out.set_sort_target(pb::RangeRequest::KEY);
      break;
    case SortTarget::kCreateRevision:
      out.set_sort_target(pb::RangeRequest::CREATE);
      break;
    case SortTarget::kModRevision:
      out.set_sort_target(pb::RangeRequest::MOD);
      break;
  }
  return out;
}

pb::PutRequest ToPb(const PutRequest& r) {
  pb::PutRequest out;
  out.set_key(r.key);
  out.set_value(r.value);
  out.set_lease(r.lease);
  out.set_prev_kv(r.prev_kv);
  return out;
}

pb::DeleteRangeRequest ToPb(const DeleteRequest& r) {
  pb::DeleteRangeRequest out;
  out.set_key(EtcdKey(r.key, r.range_end));
  out.set_range_end(r.range_end);
  out.set_prev_kv(r.prev_kv);
  return out;
}

pb::Compare ToPb(const Compare& c) {
  pb::Compare out;
  out.set_key(EtcdKey(c.key, c.range_end));
  out.set_range_end(c.range_end);
  switch (c.result) {
    case Compare::Result::kEqual:
      out.set_result(pb::Compare::EQUAL);
      break;
    case Compare::Result::kGreater:
      out.set_result(pb::Compare::GREATER);
      break;
    case Compare::Result::kLess:
      out.set_result(pb::Compare::LESS);
      break;
    case Compare::Result::kNotEqual:
      out.set_result(pb::Compare::NOT_EQUAL);
      break;
  }
  switch (c.target) {
    case Compare::Target::kVersion:
      out.set_target(pb::Compare::VERSION);
      out.set_version(c.number);
      break;
    case Compare::Target::kCreateRevision:
      out.set_target(pb::Compare::CREATE);
      out.set_create_revision(c.number);
      break;
    case Compare::Target::kModRevision:
      out.set_target(pb::Compare::MOD);
      out.set_mod_revision(c.number);
      break;
    case Compare::Target::kValue:
      out.set_target(pb::Compare::VALUE);
      out.set_value(c.value);
      break;
    case Compare::Target::kLease:
      out.set_target(pb::Compare::LEASE);
      out.set_lease(c.number);
      break;
  }
  return out;
}

RangeResponse FromPb(const pb::RangeResponse& r) {
  RangeResponse out;
  out.kvs.reserve(r.kvs_size());
  for (const auto& kv : r.kvs()) out.kvs.push_back(FromPb(kv));
  out.count = r.count();
  out.more = r.more();
  out.revision = r.header().revision();
  return out;
}

PutResponse FromPb(const pb::PutResponse& r) {
  PutResponse out;
  out.revision = r.header().revision();
  if (r.has_prev_kv()) out.prev_kv = FromPb(r.prev_kv());
  return out;
}

DeleteResponse FromPb(const pb::DeleteRangeResponse& r) {
  DeleteResponse out;
  out.deleted = r.deleted();
  for (const auto& kv : r.prev_kvs()) out.prev_kvs.push_back(FromPb(kv));
  out.revision = r.header().revision();
  return out;
}

// A TxnRequest, nested txns included. Notes the oldest revision a Range asks for (0 = none).
pb::TxnRequest ToPb(const TxnRequest& t, Revision* oldest_read) {
  pb::TxnRequest out;
  for (const Compare& c : t.compare) *out.add_compare() = ToPb(c);
  auto add_ops = [&](const std::vector<TxnOp>& ops,
                     google::protobuf::RepeatedPtrField<pb::RequestOp>* dst) {
    for (const TxnOp& op : ops) {
      pb::RequestOp* o = dst->Add();
      if (const auto* r = std::get_if<RangeRequest>(&op)) {
        *o->mutable_request_range() = ToPb(*r);
        if (r->revision > 0 && (*oldest_read == 0 || r->revision < *oldest_read)) {
          *oldest_read = r->revision;
        }
      } else if (const auto* p = std::get_if<PutRequest>(&op)) {
        *o->mutable_request_put() = ToPb(*p);
      } else if (const auto* d = std::get_if<DeleteRequest>(&op)) {
        *o->mutable_request_delete_range() = ToPb(*d);
      } else {
        *o->mutable_request_txn() = ToPb(std::get<NestedTxn>(op).txn(), oldest_read);
      }
    }
  };
  add_ops(t.success, out.mutable_success());
  add_ops(t.failure, out.mutable_failure());
  return out;
}

// etcd leaves a nested txn's header empty: every level gets the outer txn's `revision`.
absl::StatusOr<TxnResponse> FromPb(const pb::TxnResponse& t, Revision revision) {
  TxnResponse resp;
  resp.succeeded = t.succeeded();
  resp.revision = revision;
  for (const pb::ResponseOp& r : t.responses()) {
    switch (r.response_case()) {
      case pb::ResponseOp::kResponseRange:
        resp.responses.emplace_back(FromPb(r.response_range()));
        break;
      case pb::ResponseOp::kResponsePut:
        resp.responses.emplace_back(FromPb(r.response_put()));
        break;
      case pb::ResponseOp::kResponseDeleteRange:
        resp.responses.emplace_back(FromPb(r.response_delete_range()));
        break;
      case pb::ResponseOp::kResponseTxn: {
        absl::StatusOr<TxnResponse> nested = FromPb(r.response_txn(), revision);
        if (!nested.ok()) return nested.status();
        resp.responses.emplace_back(NestedTxnResponse(std::move(*nested)));
        break;
      }
      default:
        return absl::InternalError("etcd: unexpected txn response op");
    }
  }
  return resp;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::Duration Clamp(absl::Duration d, absl::Duration lo, absl::Duration hi) {
  return std::min(std::max(d, lo), hi);
}

}  // namespace

// ---- Core: endpoints, auth token, the fail-over loop ----

class EtcdKv::Core {
 public:
  struct Endpoint {
    std::string target;  // host:port
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<pb::KV::Stub> kv;
    std::unique_ptr<pb::Watch::Stub> watch;
    std::unique_ptr<pb::Lease::Stub> lease;
    std::unique_ptr<pb::Auth::Stub> auth;
    std::unique_ptr<pb::Maintenance::Stub> maintenance;
  };

  // kRead calls are safe to send twice; kWrite calls are re-sent only if they never left.
  enum class Kind { kRead, kWrite };

  Core(EtcdKvOptions options, Clock& clock) : options_(std::move(options)), clock_(clock) {}

  absl::Status Init();

  // Runs `fn(endpoint, context)` with a deadline, wait_for_ready and the auth token, failing
  // over between endpoints as the header comment describes. Returns the last gRPC status.
  template <typename Fn>
  grpc::Status Invoke(Kind kind, Fn&& fn);

  // One unary call of `method` on the endpoint's `stub` through Invoke.
  template <typename Stub, typename Req, typename Resp>
  grpc::Status Unary(Kind kind, std::unique_ptr<Stub> Endpoint::*stub,
                     grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                     const Req& in, Resp* out) {
    return Invoke(kind, [&](Endpoint& ep, grpc::ClientContext& ctx) {
      return ((*(ep.*stub)).*method)(&ctx, in, out);
    });
  }

  // Connected (READY) within `deadline`? False as soon as the channel reports a failure.
  static bool WaitConnected(grpc::Channel& channel, absl::Time deadline);
  // A channel in (sticky) TRANSIENT_FAILURE is reconnected by gRPC 1.51 only when a call picks
  // it, and with several endpoints Invoke never sends one to a failed endpoint: a client that
  // kept calling while every member was down then never reconnected after they all came back
  // (tests/cluster/etcd_reconnect_probe_test.cc). Kick sends a throwaway wait-for-ready read
  // with a 1 ms deadline, whose pick starts a connection attempt; the next call finds the
  // channel READY (or still failing, and skips it as before).
  static void Kick(Endpoint& ep);

  // The current token ("" without auth), authenticating on `ep` when there is none.
  grpc::Status Token(Endpoint& ep, absl::Time deadline, std::string* token);
  void DropToken(const std::string& stale);

  size_t endpoint_count() const { return endpoints_.size(); }
  Endpoint& endpoint(size_t i) { return endpoints_[i]; }
  size_t preferred() const { return preferred_.load(std::memory_order_relaxed); }
  void set_preferred(size_t i) { preferred_.store(i % endpoints_.size()); }
  const EtcdKvOptions& options() const { return options_; }
  Clock& clock() { return clock_; }

  // The newest compaction this client knows of (its own Compact calls, compacted watches).
  void NoteCompacted(Revision rev) {
    Revision known = compacted_.load();
    while (rev > known && !compacted_.compare_exchange_weak(known, rev)) {
    }
  }
  Revision compacted() const { return compacted_.load(); }

 private:
  EtcdKvOptions options_;
  Clock& clock_;
  std::vector<Endpoint> endpoints_;
  std::atomic<size_t> preferred_{0};
  std::atomic<Revision> compacted_{0};
  absl::Mutex auth_mu_;
  std::string token_ ABSL_GUARDED_BY(auth_mu_);
};

absl::Status EtcdKv::Core::Init() {
  if (options_.endpoints.empty()) return absl::InvalidArgumentError("etcd: no endpoints");
  bool tls = options_.tls;
  std::vector<std::string> targets;
  for (std::string e : options_.endpoints) {
    if (absl::StartsWith(e, "https://")) {
      tls = true;
      e = e.substr(8);
    } else if (absl::StartsWith(e, "http://")) {
      e = e.substr(7);
    }
    while (!e.empty() && e.back() == '/') e.pop_back();
    if (e.empty() || e.find('/') != std::string::npos || e.find(':') == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("etcd: bad endpoint \"", e, "\" (want host:port or http(s)://host:port)"));
    }
    targets.push_back(e);
  }
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options_.ca_file.empty()) {
      auto ca = ReadFile(options_.ca_file);
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *ca;
    }
    if (options_.cert_file.empty() != options_.key_file.empty()) {
      return absl::InvalidArgumentError("etcd: cert_file and key_file go together");
    }
    if (!options_.cert_file.empty()) {
      auto cert = ReadFile(options_.cert_file);
      if (!cert.ok()) return cert.status();
      auto key = ReadFile(options_.key_file);
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  // gRPC's default backoff (1 s growing to 120 s) leaves a restarted etcd unused for long.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // Pings only while calls are active (etcd refuses idle pings); unlimited pings without data
  // so a quiet watch stream still notices a hung server.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.keepalive_time)));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.keepalive_timeout)));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetMaxReceiveMessageSize(-1);
  if (!options_.server_name_override.empty()) {
    args.SetSslTargetNameOverride(options_.server_name_override);
  }
  for (const auto& target : targets) {
    Endpoint ep;
    ep.target = target;
    ep.channel = grpc::CreateCustomChannel(target, creds, args);
    ep.kv = pb::KV::NewStub(ep.channel);
    ep.watch = pb::Watch::NewStub(ep.channel);
    ep.lease = pb::Lease::NewStub(ep.channel);
    ep.auth = pb::Auth::NewStub(ep.channel);
    ep.maintenance = pb::Maintenance::NewStub(ep.channel);
    endpoints_.push_back(std::move(ep));
  }
  return absl::OkStatus();
}

bool EtcdKv::Core::WaitConnected(grpc::Channel& channel, absl::Time deadline) {
  grpc_connectivity_state state = channel.GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY) {
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) return false;
    if (!channel.WaitForStateChange(state, absl::ToChronoTime(deadline))) return false;
    state = channel.GetState(/*try_to_connect=*/true);
  }
  return true;
}

void EtcdKv::Core::Kick(Endpoint& ep) {
  if (ep.channel->GetState(/*try_to_connect=*/false) != GRPC_CHANNEL_TRANSIENT_FAILURE) return;
  grpc::ClientContext ctx;
  ctx.set_wait_for_ready(true);
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(1)));
  pb::RangeRequest req;
  req.set_key(std::string(1, '\0'));  // nothing lives there; the answer (if any) is ignored
  req.set_count_only(true);
  pb::RangeResponse resp;
  (void)ep.kv->Range(&ctx, req, &resp);
}

grpc::Status EtcdKv::Core::Token(Endpoint& ep, absl::Time deadline, std::string* token) {
  token->clear();
  if (options_.username.empty()) return grpc::Status::OK;
  absl::MutexLock lock(&auth_mu_);
  if (token_.empty()) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(deadline));
    ctx.set_wait_for_ready(endpoints_.size() == 1);  // as in Invoke
    pb::AuthenticateRequest req;
    req.set_name(options_.username);
    req.set_password(options_.password);
    pb::AuthenticateResponse resp;
    grpc::Status s = ep.auth->Authenticate(&ctx, req, &resp);
    if (!s.ok()) {
      if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
          s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
        return s;
      }
      // Wrong user or password arrives as INVALID_ARGUMENT: say plainly what failed.
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          absl::StrCat("etcd authentication as \"", options_.username,
                                       "\" failed: ", s.error_message()));
    }
    token_ = resp.token();
  }
  *token = token_;
  return grpc::Status::OK;
}

void EtcdKv::Core::DropToken(const std::string& stale) {
  absl::MutexLock lock(&auth_mu_);
  if (token_ == stale) token_.clear();
}

template <typename Fn>
grpc::Status EtcdKv::Core::Invoke(Kind kind, Fn&& fn) {
  const absl::Time deadline = absl::Now() + options_.request_timeout;
  const size_t n = endpoints_.size();
  grpc::Status last(grpc::StatusCode::UNAVAILABLE, "etcd: no endpoint reachable");
  bool reauthenticated = false;
  for (;;) {
    const size_t start = preferred();
    for (size_t i = 0; i < n; ++i) {
      const size_t idx = (start + i) % n;
      Endpoint& ep = endpoints_[idx];
      // With several endpoints, one that cannot connect soon must not eat the whole deadline.
      if (n > 1 &&
          !WaitConnected(*ep.channel, std::min(deadline, absl::Now() + options_.dial_timeout))) {
        Kick(ep);
        last = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            absl::StrCat("etcd endpoint ", ep.target, " is not reachable"));
        continue;
      }
      // Waited for a connection that never came: nothing was sent.
      auto never_connected = [&](const grpc::Status& st) {
        return st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
               ep.channel->GetState(false) != GRPC_CHANNEL_READY;
      };
      auto unreachable = [&](const grpc::Status& st) {
        set_preferred(idx + 1);
        return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            absl::StrCat("etcd endpoint ", ep.target,
                                         " unreachable until the deadline: ", st.error_message()));
      };
      std::string token;
      grpc::Status s = Token(ep, deadline, &token);
      if (!s.ok()) {
        if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
          last = s;  // the request itself was not sent: any kind may go elsewhere
          continue;
        }
        return never_connected(s) ? unreachable(s) : s;
      }
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(deadline));
      // One endpoint: wait for it to (re)connect, up to the deadline. Several: it was READY just
      // now, and if its connection drops the call must fail at once so the next one is tried,
      // not wait for this one to come back.
      ctx.set_wait_for_ready(n == 1);
      if (!token.empty()) ctx.AddMetadata("token", token);
      s = fn(ep, ctx);
      if (s.ok()) {
        set_preferred(idx);
        return s;
      }
      if (!token.empty() && NeedsReauth(s) && !reauthenticated) {
        // The token died with a restarted member (simple tokens live in memory): once more.
        reauthenticated = true;
        DropToken(token);
        --i;  // same endpoint again (unsigned wrap-around, then ++i)
        continue;
      }
      if (never_connected(s)) return unreachable(s);
      if (s.error_code() != grpc::StatusCode::UNAVAILABLE || kind == Kind::kWrite) {
        // A hung member answers nothing: start the next call elsewhere.
        if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) set_preferred(idx + 1);
        return s;
      }
      last = s;  // a read that met an unavailable member: try the next one
    }
    if (absl::Now() + absl::Milliseconds(50) >= deadline) return last;
    // Nobody reachable in this round: give reconnects a moment.
    absl::SleepFor(absl::Milliseconds(50));
  }
}

// ---- EtcdKv ----

absl::StatusOr<std::unique_ptr<EtcdKv>> EtcdKv::Create(EtcdKvOptions options, Clock& clock) {
  auto core = std::make_shared<Core>(std::move(options), clock);
  absl::Status s = core->Init();
  if (!s.ok()) return s;
  return std::unique_ptr<EtcdKv>(new EtcdKv(std::move(core)));
}

EtcdKv::~EtcdKv() = default;

absl::StatusOr<RangeResponse> EtcdKv::Range(const RangeRequest& req) {
  const pb::RangeRequest in = ToPb(req);
  pb::RangeResponse out;
  grpc::Status s =
      core_->Unary(Core::Kind::kRead, &Core::Endpoint::kv, &pb::KV::Stub::Range, in, &out);
  if (!s.ok()) return KvError(s, req.revision);
  return FromPb(out);
}

absl::StatusOr<PutResponse> EtcdKv::Put(const PutRequest& req) {
  const pb::PutRequest in = ToPb(req);
  pb::PutResponse out;
  grpc::Status s =
      core_->Unary(Core::Kind::kWrite, &Core::Endpoint::kv, &pb::KV::Stub::Put, in, &out);
  if (!s.ok()) return KvError(s, 0);
  return FromPb(out);
}

absl::StatusOr<DeleteResponse> EtcdKv::Delete(const DeleteRequest& req) {
  const pb::DeleteRangeRequest in = ToPb(req);
  pb::DeleteRangeResponse out;
  grpc::Status s =
      core_->Unary(Core::Kind::kWrite, &Core::Endpoint::kv, &pb::KV::Stub::DeleteRange, in, &out);
  if (!s.ok()) return KvError(s, 0);
  return FromPb(out);
}

absl::StatusOr<TxnResponse> EtcdKv::Txn(const TxnRequest& req) {
  Revision oldest_read = 0;
  const pb::TxnRequest in = ToPb(req, &oldest_read);
  pb::TxnResponse out;
  grpc::Status s = core_->Unary(TxnMayWrite(req) ? Core::Kind::kWrite : Core::Kind::kRead,
                                &Core::Endpoint::kv, &pb::KV::Stub::Txn, in, &out);
  if (!s.ok()) return KvError(s, oldest_read);
  return FromPb(out, out.header().revision());
}

absl::StatusOr<LeaseGrantResponse> EtcdKv::LeaseGrant(int64_t ttl_seconds) {
  pb::LeaseGrantRequest in;
  in.set_ttl(ttl_seconds);
  pb::LeaseGrantResponse out;
  grpc::Status s = core_->Unary(Core::Kind::kWrite, &Core::Endpoint::lease,
                                &pb::Lease::Stub::LeaseGrant, in, &out);
  if (!s.ok()) return FromGrpc(s);
  if (!out.error().empty()) return absl::InternalError(absl::StrCat("etcd: ", out.error()));
  return LeaseGrantResponse{.id = out.id(), .ttl = out.ttl()};
}

absl::StatusOr<int64_t> EtcdKv::LeaseKeepAliveOnce(LeaseId id) {
  pb::LeaseKeepAliveRequest in;
  in.set_id(id);
  pb::LeaseKeepAliveResponse out;
  grpc::Status s =
      core_->Invoke(Core::Kind::kRead, [&](Core::Endpoint& ep, grpc::ClientContext& ctx) {
        // One short stream per renewal: etcd answers each request on the stream, then sees our
        // half-close and ends it with OK.
        auto stream = ep.lease->LeaseKeepAlive(&ctx);
        bool got = stream->Write(in) && stream->Read(&out);
        stream->WritesDone();
        grpc::Status st = stream->Finish();
        if (st.ok() && !got) {
          return grpc::Status(grpc::StatusCode::UNAVAILABLE, "etcd: keepalive stream ended early");
        }
        return st;
      });
  if (!s.ok()) return IsLeaseNotFound(s) ? absl::NotFoundError(s.error_message()) : FromGrpc(s);
  if (out.ttl() <= 0) return absl::NotFoundError(absl::StrCat("etcd: lease ", id, " expired"));
  return out.ttl();
}

absl::Status EtcdKv::LeaseRevoke(LeaseId id) {
  pb::LeaseRevokeRequest in;
  in.set_id(id);
  pb::LeaseRevokeResponse out;
  grpc::Status s = core_->Unary(Core::Kind::kRead, &Core::Endpoint::lease,
                                &pb::Lease::Stub::LeaseRevoke, in, &out);
  return FromGrpc(s);
}

absl::StatusOr<LeaseTimeToLiveResponse> EtcdKv::LeaseTimeToLive(LeaseId id, bool keys) {
  pb::LeaseTimeToLiveRequest in;
  in.set_id(id);
  in.set_keys(keys);
  pb::LeaseTimeToLiveResponse out;
  grpc::Status s = core_->Unary(Core::Kind::kRead, &Core::Endpoint::lease,
                                &pb::Lease::Stub::LeaseTimeToLive, in, &out);
  // An unknown or expired lease is OK with TTL -1 (etcd's answer, kept by the Kv contract).
  if (!s.ok()) return FromGrpc(s);
  LeaseTimeToLiveResponse resp{.id = out.id(), .ttl = out.ttl(), .granted_ttl = out.grantedttl()};
  for (const auto& k : out.keys()) resp.keys.push_back(k);
  return resp;
}

absl::Status EtcdKv::Compact(Revision revision) {
  pb::CompactionRequest in;
  in.set_revision(revision);
  in.set_physical(false);
  pb::CompactionResponse out;
  // Safe to send twice: a repeat answers "compacted", which the contract allows anyway.
  grpc::Status s =
      core_->Unary(Core::Kind::kRead, &Core::Endpoint::kv, &pb::KV::Stub::Compact, in, &out);
  if (s.ok()) core_->NoteCompacted(revision);
  return KvError(s, revision);
}

absl::StatusOr<StoreStatus> EtcdKv::Status() {
  pb::StatusRequest in;
  pb::StatusResponse out;
  grpc::Status s = core_->Unary(Core::Kind::kRead, &Core::Endpoint::maintenance,
                                &pb::Maintenance::Stub::Status, in, &out);
  if (!s.ok()) return FromGrpc(s);
  return StoreStatus{.revision = out.header().revision(),
                     .compact_revision = core_->compacted(),
                     .db_size = out.dbsize(),
                     .db_size_in_use = out.dbsizeinuse()};
}

// ---- Watch ----

namespace {

class EtcdWatch final : public Watch {
 public:
  EtcdWatch(std::shared_ptr<EtcdKv::Core> core, WatchRequest req, WatchHandler handler)
      : core_(std::move(core)),
        req_(std::move(req)),
        handler_(std::move(handler)),
        next_rev_(req_.start_revision) {}

  ~EtcdWatch() override { Cancel(); }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }

  void Cancel() override {
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      if (ctx_ != nullptr) ctx_->TryCancel();
    }
    // From inside the handler (the watch thread) there is nothing to join: the loop sees
    // cancelled_ once the handler returns.
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  }

 private:
  enum class Outcome { kRetry, kRetryHealthy, kDone };

  bool cancelled() {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }

  void Run() {
    const absl::Duration kMinBackoff = absl::Milliseconds(50);
    absl::Duration backoff = kMinBackoff;
    size_t idx = core_->preferred();
    while (!cancelled()) {
      Outcome o = RunStream(idx);
      if (o == Outcome::kDone) return;
      if (o == Outcome::kRetryHealthy) {
        backoff = kMinBackoff;
      } else {
        idx = (idx + 1) % core_->endpoint_count();  // that endpoint failed: try the next
      }
      absl::MutexLock lock(&mu_);
      core_->clock().WaitUntil(mu_, core_->clock().Now() + backoff,
                               [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return cancelled_; });
      backoff = Clamp(backoff * 2, kMinBackoff, absl::Seconds(1));
    }
  }

  // One stream's life: create the watch from next_rev_, deliver until the stream ends.
  Outcome RunStream(size_t idx) {
    EtcdKv::Core::Endpoint& ep = core_->endpoint(idx);
    const auto& opts = core_->options();
    if (core_->endpoint_count() > 1) {
      // In short slices, so Cancel() is not held up by a member that hangs while connecting.
      const absl::Time deadline = absl::Now() + opts.dial_timeout;
      bool connected = false;
      while (!connected && absl::Now() < deadline) {
        if (cancelled()) return Outcome::kDone;
        connected = EtcdKv::Core::WaitConnected(
            *ep.channel, std::min(deadline, absl::Now() + absl::Milliseconds(100)));
        if (!connected && ep.channel->GetState(false) == GRPC_CHANNEL_TRANSIENT_FAILURE) break;
      }
      if (!connected) return Outcome::kRetry;
    }
    std::string token;
    grpc::Status ts = core_->Token(ep, absl::Now() + opts.request_timeout, &token);
    if (!ts.ok()) {
      if (ts.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
        Deliver(WatchResponse{.status = FromGrpc(ts)});
        return Outcome::kDone;
      }
      return Outcome::kRetry;
    }
    grpc::ClientContext ctx;
    // One endpoint: wait for it (no deadline: a watch lives until cancelled). Several: it was
    // READY just now; if it drops, fail at once and move to the next endpoint.
    ctx.set_wait_for_ready(core_->endpoint_count() == 1);
    if (!token.empty()) ctx.AddMetadata("token", token);
    // etcd then ends the stream when its member loses the leader, so we move elsewhere.
    ctx.AddMetadata("hasleader", "true");
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) return Outcome::kDone;
      ctx_ = &ctx;
    }
    Outcome outcome = ReadStream(ep, ctx, token);
    {
      absl::MutexLock lock(&mu_);
      ctx_ = nullptr;
      if (cancelled_) return Outcome::kDone;
    }
    return outcome;
  }

  Outcome ReadStream(EtcdKv::Core::Endpoint& ep, grpc::ClientContext& ctx,
                     const std::string& token) {
    auto stream = ep.watch->Watch(&ctx);
    pb::WatchRequest create;
    pb::WatchCreateRequest* c = create.mutable_create_request();
    c->set_key(EtcdKey(req_.key, req_.range_end));
    c->set_range_end(req_.range_end);
    c->set_start_revision(next_rev_);
    c->set_prev_kv(req_.prev_kv);
    c->set_progress_notify(true);
    c->set_fragment(true);
    bool healthy = false;
    if (stream->Write(create)) {
      std::vector<WatchEvent> pending;  // events of a fragmented response so far
      pb::WatchResponse resp;
      while (stream->Read(&resp)) {
        healthy = true;
        if (resp.compact_revision() > 0) {
          core_->NoteCompacted(resp.compact_revision());
          ctx.TryCancel();
          stream->Finish();
          Deliver(WatchResponse{.revision = resp.header().revision(),
                                .status = CompactedError(next_rev_, resp.compact_revision())});
          return Outcome::kDone;
        }
        if (resp.canceled()) {
          const std::string& reason = resp.cancel_reason();
          ctx.TryCancel();
          stream->Finish();
          if (!token.empty() && absl::StrContains(reason, kInvalidTokenText)) {
            core_->DropToken(token);
            return Outcome::kRetryHealthy;
          }
          absl::Status final = absl::StrContains(reason, "permission denied")
                                   ? absl::PermissionDeniedError(reason)
                                   : absl::FailedPreconditionError(
                                         absl::StrCat("etcd cancelled the watch: ", reason));
          Deliver(WatchResponse{.revision = resp.header().revision(), .status = final});
          return Outcome::kDone;
        }
        for (const mvccpb::Event& e : resp.events()) {
          // After a resume etcd starts at next_rev_; anything older was delivered already.
          if (e.kv().mod_revision() < next_rev_) continue;
          WatchEvent ev;
          ev.type = e.type() == mvccpb::Event::DELETE ? EventType::kDelete : EventType::kPut;
          ev.kv = FromPb(e.kv());
          if (e.has_prev_kv()) ev.prev_kv = FromPb(e.prev_kv());
          pending.push_back(std::move(ev));
        }
        if (resp.fragment()) continue;
        if (!pending.empty()) {
          const Revision last = pending.back().kv.mod_revision;
          WatchResponse out{.events = std::move(pending),
                            .revision = std::max(last, resp.header().revision())};
          pending.clear();
          next_rev_ = last + 1;
          if (!Deliver(out)) return Outcome::kDone;
        } else if (!resp.created() && resp.events_size() == 0 && next_rev_ > 0) {
          // A progress notification: etcd sends it only to a watcher that has seen every
          // event up to header.revision, so a resume may start after it (and so a quiet watch
          // does not fall behind a compaction).
          next_rev_ = std::max(next_rev_, resp.header().revision() + 1);
        }
      }
    }
    grpc::Status s = stream->Finish();
    if (!token.empty() && NeedsReauth(s)) core_->DropToken(token);
    if (!cancelled()) {
      Log().Info("watch stream ended; resuming", {{"endpoint", ep.target},
                                                  {"code", static_cast<int>(s.error_code())},
                                                  {"error", s.error_message()},
                                                  {"next_revision", next_rev_}});
    }
    return healthy ? Outcome::kRetryHealthy : Outcome::kRetry;
  }

  // Calls the handler unless cancelled; false when cancelled.
  bool Deliver(const WatchResponse& resp) {
    if (cancelled()) return false;
    handler_(resp);
    return true;
  }

  std::shared_ptr<EtcdKv::Core> core_;
  const WatchRequest req_;
  const WatchHandler handler_;
  Revision next_rev_;  // watch thread only: where a (re)created watch starts
  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Watch>> EtcdKv::StartWatch(const WatchRequest& req,
                                                          WatchHandler handler) {
  if (req.key.empty() && req.range_end.empty()) {
    return absl::InvalidArgumentError("etcd: watch key is empty");
  }
  WatchRequest start = req;
  if (start.start_revision <= 0) {
    // "From now" is pinned to a revision here, so an event written after StartWatch returns
    // is never missed, and a reconnect resumes from the same point.
    RangeRequest probe{.key = req.key, .range_end = req.range_end, .limit = 1, .count_only = true};
    auto r = Range(probe);
    if (!r.ok()) return r.status();
    start.start_revision = r->revision + 1;
  }
  auto watch = std::make_unique<EtcdWatch>(core_, std::move(start), std::move(handler));
  watch->Start();
  return watch;
}

}  // namespace hg::store
