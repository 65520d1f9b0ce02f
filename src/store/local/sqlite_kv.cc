#include "store/local/sqlite_kv.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <random>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"
#include "store/request_checks.h"

namespace hg::store {
namespace {

// etcd's MaxLeaseTTL.
constexpr int64_t kMaxLeaseTtl = 9'000'000'000;
// A watch reads at most this many revisions of history per lock hold.
constexpr Revision kWatchReadRevisions = 256;

const log::Logger& Log() {
  static const log::Logger* logger = new log::Logger("store.sqlite");
  return *logger;
}

// How a [key, range_end) pair selects keys (kv.h header comment).
enum class KeyMatch { kSingle, kFrom, kBetween };

KeyMatch MatchOf(const std::string& range_end) {
  if (range_end.empty()) return KeyMatch::kSingle;
  if (range_end == std::string(1, '\0')) return KeyMatch::kFrom;
  return KeyMatch::kBetween;
}

// SQL condition on `key` for a range, with parameters :k and :e. BLOB comparison is memcmp,
// the byte order etcd uses, and each form is a search of the primary key.
const char* KeyClause(const std::string& range_end) {
  switch (MatchOf(range_end)) {
    case KeyMatch::kSingle:
      return "key = :k";
    case KeyMatch::kFrom:
      return "key >= :k";
    case KeyMatch::kBetween:
      break;
  }
  return "key >= :k AND key < :e";
}

absl::Status CheckRange(const std::string& key, const std::string& range_end) {
  if (key.empty() && range_end.empty()) return absl::InvalidArgumentError("empty key");
  return absl::OkStatus();
}

template <typename T>
int ThreeWay(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

bool CompareHolds(const Compare& c, const KeyValue& kv) {
  int cmp = 0;
  switch (c.target) {
    case Compare::Target::kVersion:
      cmp = ThreeWay(kv.version, c.number);
      break;
    case Compare::Target::kCreateRevision:
      cmp = ThreeWay(kv.create_revision, c.number);
      break;
    case Compare::Target::kModRevision:
      cmp = ThreeWay(kv.mod_revision, c.number);
      break;
    case Compare::Target::kLease:
      cmp = ThreeWay(kv.lease, c.number);
      break;
    case Compare::Target::kValue:
      cmp = ThreeWay(kv.value, c.value);
      break;
  }
  switch (c.result) {
    case Compare::Result::kEqual:
      return cmp == 0;
    case Compare::Result::kGreater:
      return cmp > 0;
    case Compare::Result::kLess:
      return cmp < 0;
    case Compare::Result::kNotEqual:
      return cmp != 0;
  }
  return false;
}

// Sorting, limit and projection of a Range result, as etcd's applyRange does them.
RangeResponse Finish(std::vector<KeyValue> kvs, const RangeRequest& req, Revision header) {
  RangeResponse out;
  out.revision = header;
  out.count = static_cast<int64_t>(kvs.size());
  SortOrder order = req.sort_order;
  // etcd: no order with a non-key target means ascending by that target.
  if (order == SortOrder::kNone && req.sort_target != SortTarget::kKey) order = SortOrder::kAscend;
  if (order != SortOrder::kNone) {
    auto field = [&](const KeyValue& kv) -> int64_t {
      return req.sort_target == SortTarget::kCreateRevision ? kv.create_revision : kv.mod_revision;
    };
    // Input is in key order, so a stable sort breaks ties by key.
    if (req.sort_target == SortTarget::kKey) {
      if (order == SortOrder::kDescend) std::reverse(kvs.begin(), kvs.end());
    } else {
      std::stable_sort(kvs.begin(), kvs.end(), [&](const KeyValue& a, const KeyValue& b) {
        return order == SortOrder::kAscend ? field(a) < field(b) : field(a) > field(b);
      });
    }
  }
  if (req.limit > 0 && static_cast<int64_t>(kvs.size()) > req.limit) {
    kvs.resize(req.limit);
    out.more = true;
  }
  if (req.count_only) {
    kvs.clear();
    out.more = false;
  }
  if (req.keys_only) {
    for (auto& kv : kvs) kv.value.clear();
  }
  out.kvs = std::move(kvs);
  return out;
}

constexpr char kKvColumns[] = "key, value, create_rev, mod_rev, version, lease";
constexpr char kEventColumns[] =
    "rev, sub, deleted, key, value, create_rev, mod_rev, version, lease, "
    "prev_value, prev_create, prev_mod, prev_version, prev_lease";

// Newest-first history pages read ranges by descending key: SQL walks the primary key backwards
// and stops at the limit instead of reading the whole range and reversing it.
std::string LatestRangeSql(const std::string& range_end, bool descending = false) {
  return absl::StrCat("SELECT ", kKvColumns, " FROM kv WHERE ", KeyClause(range_end),
                      descending ? " ORDER BY key DESC LIMIT :lim" : " ORDER BY key LIMIT :lim");
}

}  // namespace

// A cached prepared statement in use: bindings by name (a name the statement lacks is
// ignored), reset on scope exit so the cache can hand it out again.
class SqliteKv::Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  ~Stmt() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  void Bind(const char* name, const std::string& blob) {
    int i = sqlite3_bind_parameter_index(s_, name);
    // A non-null pointer binds a zero-length BLOB for "" (null would bind SQL NULL).
    if (i > 0) sqlite3_bind_blob64(s_, i, blob.data(), blob.size(), SQLITE_TRANSIENT);
  }
  void Bind(const char* name, int64_t v) {
    int i = sqlite3_bind_parameter_index(s_, name);
    if (i > 0) sqlite3_bind_int64(s_, i, v);
  }
  void BindKv(const KeyValue& kv) {
    Bind(":k", kv.key);
    Bind(":v", kv.value);
    Bind(":c", kv.create_revision);
    Bind(":m", kv.mod_revision);
    Bind(":ver", kv.version);
    Bind(":l", kv.lease);
  }
  void BindRange(const std::string& key, const std::string& range_end) {
    Bind(":k", key);
    Bind(":e", range_end);
  }
  int Step() { return sqlite3_step(s_); }

  std::string Blob(int col) {
    const void* p = sqlite3_column_blob(s_, col);
    int n = sqlite3_column_bytes(s_, col);
    return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
  }
  int64_t Int(int col) { return sqlite3_column_int64(s_, col); }
  bool IsNull(int col) { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  // Six columns from `col`: key, value, create_rev, mod_rev, version, lease.
  KeyValue Kv(int col) {
    return KeyValue{.key = Blob(col),
                    .value = Blob(col + 1),
                    .create_revision = Int(col + 2),
                    .mod_revision = Int(col + 3),
                    .version = Int(col + 4),
                    .lease = Int(col + 5)};
  }

 private:
  sqlite3_stmt* s_;
};

// The state of one write transaction.
struct SqliteKv::WriteCtx {
  Revision rev = 0;  // the revision the write creates if it changes anything
  int64_t sub = 0;   // events so far (etcd's sub-revision)
  Revision new_compact = 0;
  struct LeaseMove {
    std::string key;
    LeaseId from = 0;
    LeaseId to = 0;
  };
  std::vector<LeaseMove> moves;  // applied to leases_ once the commit succeeded
};

struct SqliteKv::WatchState {
  WatchRequest req;
  WatchHandler handler;
  SqliteKv* kv = nullptr;
  Revision next = 0;  // first revision not yet delivered; under kv->mu_
  std::atomic<bool> cancelled{false};
  absl::Mutex join_mu;
  std::thread
      thread;  // written once under kv->mu_ before anyone else sees it; joined under join_mu
};

class SqliteWatch final : public Watch {
 public:
  explicit SqliteWatch(std::shared_ptr<SqliteKv::WatchState> state) : state_(std::move(state)) {}
  ~SqliteWatch() override { Cancel(); }
  void Cancel() override {
    SqliteKv::WatchState& w = *state_;
    w.cancelled = true;
    absl::MutexLock join_lock(&w.join_mu);
    if (!w.thread.joinable()) return;  // already joined (here or by the store's destructor)
    // Cancel() from inside the handler: the loop stops after the handler returns; the thread is
    // joined later (by another Cancel or by the store's destructor), never detached.
    if (w.thread.get_id() == std::this_thread::get_id()) return;
    w.kv->CancelWatch(w);
    w.thread.join();
  }

 private:
  std::shared_ptr<SqliteKv::WatchState> state_;
};

SqliteKv::SqliteKv(sqlite3* db, Clock& clock, Options options)
    : clock_(clock),
      options_(options),
      limits_{.max_txn_ops = options.max_txn_ops, .max_request_bytes = options.max_request_bytes},
      db_(db) {}

absl::StatusOr<std::unique_ptr<SqliteKv>> SqliteKv::Open(const std::string& path, Clock& clock,
                                                         Options options) {
  if (options.history_revisions < 1) {
    return absl::InvalidArgumentError("history_revisions must be >= 1");
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat("sqlite open ", path, ": ", msg));
  }
  std::unique_ptr<SqliteKv> kv(new SqliteKv(db, clock, options));
  {
    absl::MutexLock lock(&kv->mu_);
    HG_RETURN_IF_ERROR(kv->Init());
  }
  kv->lease_thread_ = std::thread([p = kv.get()] { p->LeaseLoop(); });
  return kv;
}

absl::Status SqliteKv::Init() {
  // Exclusive locking before WAL: one process owns the file and WAL needs no shared memory.
  // The first statements that touch the file fail with SQLITE_BUSY while another process (or
  // another SqliteKv) holds it.
  for (const char* sql : {"PRAGMA locking_mode=EXCLUSIVE",
                          "PRAGMA journal_mode=WAL",  // ":memory:" keeps its own; harmless
                          options_.synchronous == Synchronous::kFull ? "PRAGMA synchronous=FULL"
                                                                     : "PRAGMA synchronous=NORMAL",
                          "BEGIN IMMEDIATE"}) {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
      return absl::FailedPreconditionError("sqlite store is in use by another process");
    }
    if (rc != SQLITE_OK) return SqlError(rc, sql);
  }
  absl::Status st = Exec(
      "CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL) "
      "WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS kv(key BLOB PRIMARY KEY, value BLOB NOT NULL, "
      "create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL, version INTEGER NOT NULL, "
      "lease INTEGER NOT NULL) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS history(rev INTEGER NOT NULL, sub INTEGER NOT NULL, "
      "deleted INTEGER NOT NULL, key BLOB NOT NULL, value BLOB, create_rev INTEGER, "
      "mod_rev INTEGER, version INTEGER, lease INTEGER, prev_value BLOB, prev_create INTEGER, "
      "prev_mod INTEGER, prev_version INTEGER, prev_lease INTEGER, PRIMARY KEY(rev, sub)) "
      "WITHOUT ROWID;"
      "INSERT OR IGNORE INTO meta VALUES('schema', 1), ('revision', 1), ('compact', 0);");
  if (st.ok()) {
    auto read = [&](const char* name) ABSL_NO_THREAD_SAFETY_ANALYSIS -> absl::StatusOr<int64_t> {
      HG_ASSIGN_OR_RETURN(
          sqlite3_stmt * raw,
          Prepare(absl::StrCat("SELECT value FROM meta WHERE name = '", name, "'")));
      Stmt s(raw);
      if (s.Step() != SQLITE_ROW) return absl::DataLossError(absl::StrCat("meta ", name));
      return s.Int(0);
    };
    auto schema = read("schema");
    auto rev = read("revision");
    auto compact = read("compact");
    if (!schema.ok() || !rev.ok() || !compact.ok()) {
      st = !schema.ok() ? schema.status() : (!rev.ok() ? rev.status() : compact.status());
    } else if (*schema != 1) {
      st = absl::FailedPreconditionError(absl::StrCat("unknown sqlite store schema ", *schema));
    } else {
      // The revision is the newest history row; meta holds a floor (see FinishWrite).
      auto newest = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS -> absl::StatusOr<int64_t> {
        HG_ASSIGN_OR_RETURN(sqlite3_stmt * raw, Prepare("SELECT max(rev) FROM history"));
        Stmt s(raw);
        if (int rc = s.Step(); rc != SQLITE_ROW) return SqlError(rc, "newest revision");
        return s.Int(0);  // 0 when empty
      }();
      if (newest.ok()) {
        rev_ = std::max({*rev, *compact, *newest});
        compact_rev_ = *compact;
      } else {
        st = newest.status();
      }
    }
  }
  if (!st.ok()) {
    (void)Exec("ROLLBACK");
    return st;
  }
  HG_RETURN_IF_ERROR(Exec("COMMIT"));

  // Keys of leases of a previous process: their holder is gone, expire them now (one revision
  // per lease, as etcd would when those leases run out).
  std::map<LeaseId, std::vector<std::string>> stale;
  {
    HG_ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                        Prepare("SELECT lease, key FROM kv WHERE lease != 0 ORDER BY lease, key"));
    Stmt s(raw);
    int step;
    while ((step = s.Step()) == SQLITE_ROW) stale[s.Int(0)].push_back(s.Blob(1));
    if (step != SQLITE_DONE) return SqlError(step, "scan leased keys");
  }
  for (const auto& [lease, keys] : stale) {
    HG_RETURN_IF_ERROR(DeleteKeysLocked(keys));
    Log().Info("deleted keys of a lease from a previous process",
               {{"lease", lease}, {"keys", keys.size()}});
  }
  return absl::OkStatus();
}

SqliteKv::~SqliteKv() {
  std::vector<std::shared_ptr<WatchState>> watches;
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    watches.swap(watches_);
  }
  for (const auto& w : watches) {
    w->cancelled = true;
    absl::MutexLock join_lock(&w->join_mu);
    if (w->thread.joinable()) w->thread.join();
  }
  if (lease_thread_.joinable()) lease_thread_.join();
  absl::MutexLock lock(&mu_);
  for (auto& [sql, stmt] : stmts_) sqlite3_finalize(stmt);
  stmts_.clear();
  sqlite3_close(db_);
  db_ = nullptr;
}

absl::Status SqliteKv::SqlError(int rc, const std::string& what) {
  std::string msg = absl::StrCat("sqlite ", what, ": ", sqlite3_errmsg(db_));
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED || primary == SQLITE_IOERR ||
      primary == SQLITE_FULL || primary == SQLITE_CANTOPEN) {
    return absl::UnavailableError(msg);
  }
  return absl::InternalError(msg);
}

absl::Status SqliteKv::Exec(const char* sql) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqlError(rc, sql);
  return absl::OkStatus();
}

absl::StatusOr<sqlite3_stmt*> SqliteKv::Prepare(const std::string& sql) {
  auto it = stmts_.find(sql);
  if (it != stmts_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return SqlError(rc, absl::StrCat("prepare ", sql));
  stmts_.emplace(sql, stmt);
  return stmt;
}

Revision SqliteKv::CompactRevLocked() const {
  return std::max(compact_rev_, rev_ - options_.history_revisions);
}

Revision SqliteKv::OldestRangeRevision() const {
  absl::MutexLock lock(&mu_);
  return std::max<Revision>(1, CompactRevLocked());
}

std::string SqliteKv::PrefixRangeSqlForTest() { return LatestRangeSql("b"); }

absl::Status SqliteKv::PruneLocked(Revision compact, Revision revision) {
  HG_ASSIGN_OR_RETURN(sqlite3_stmt * raw, Prepare("DELETE FROM history WHERE rev <= :r"));
  {
    Stmt d(raw);
    d.Bind(":r", compact);
    if (int rc = d.Step(); rc != SQLITE_DONE) return SqlError(rc, "prune history");
  }
  HG_ASSIGN_OR_RETURN(raw, Prepare("UPDATE meta SET value = CASE name WHEN 'compact' THEN :c "
                                   "ELSE :r END WHERE name IN ('compact', 'revision')"));
  Stmt m(raw);
  m.Bind(":c", compact);
  m.Bind(":r", revision);
  if (int rc = m.Step(); rc != SQLITE_DONE) return SqlError(rc, "update meta");
  return absl::OkStatus();
}

// --- writes ------------------------------------------------------------------------------------

absl::Status SqliteKv::BeginWrite(WriteCtx& ctx) {
  HG_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  ctx.rev = rev_ + 1;
  ctx.new_compact = compact_rev_;
  return absl::OkStatus();
}

absl::Status SqliteKv::FinishWrite(WriteCtx& ctx, absl::Status body) {
  if (body.ok() && ctx.sub > 0) {
    // Persist the revision and prune history in the same transaction. Pruning goes in batches
    // so most writes do not pay for a DELETE.
    // The revision needs no write of its own: it is the newest `history` row, which pruning
    // never removes (meta holds a floor for when Compact() empties the history).
    Revision target = ctx.rev - options_.history_revisions;
    Revision batch = std::clamp<Revision>(options_.history_revisions / 8, 1, 1024);
    if (target - compact_rev_ >= batch) {
      body = PruneLocked(target, ctx.rev);
      if (body.ok()) ctx.new_compact = target;
    }
  }
  if (!body.ok()) {
    if (sqlite3_get_autocommit(db_) == 0) (void)Exec("ROLLBACK");
    return body;
  }
  if (absl::Status st = Exec("COMMIT"); !st.ok()) {
    if (sqlite3_get_autocommit(db_) == 0) (void)Exec("ROLLBACK");
    return st;
  }
  if (ctx.sub > 0) {
    rev_ = ctx.rev;
    compact_rev_ = ctx.new_compact;
    for (const auto& m : ctx.moves) {
      if (auto it = leases_.find(m.from); m.from != 0 && it != leases_.end()) {
        it->second.keys.erase(m.key);
      }
      if (auto it = leases_.find(m.to); m.to != 0 && it != leases_.end()) {
        it->second.keys.insert(m.key);
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<PutResponse> SqliteKv::PutLocked(const PutRequest& req, WriteCtx& ctx) {
  if (req.key.empty()) return absl::InvalidArgumentError("empty key");
  if (req.lease != 0 && !leases_.contains(req.lease)) {
    return absl::FailedPreconditionError(absl::StrCat("requested lease not found: ", req.lease));
  }
  std::optional<KeyValue> prev;
  {
    HG_ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                        Prepare(absl::StrCat("SELECT ", kKvColumns, " FROM kv WHERE key = :k")));
    Stmt s(raw);
    s.Bind(":k", req.key);
    int rc = s.Step();
    if (rc == SQLITE_ROW) {
      prev = s.Kv(0);
    } else if (rc != SQLITE_DONE) {
      return SqlError(rc, "read key");
    }
  }
  KeyValue kv{.key = req.key,
              .value = req.value,
              .create_revision = prev ? prev->create_revision : ctx.rev,
              .mod_revision = ctx.rev,
              .version = prev ? prev->version + 1 : 1,
              .lease = req.lease};
  {
    HG_ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                        Prepare("INSERT OR REPLACE INTO kv(key, value, create_rev, mod_rev, "
                                "version, lease) VALUES(:k, :v, :c, :m, :ver, :l)"));
    Stmt s(raw);
    s.BindKv(kv);
    if (int rc = s.Step(); rc != SQLITE_DONE) return SqlError(rc, "write key");
  }
  {
    HG_ASSIGN_OR_RETURN(
        sqlite3_stmt * raw,
        Prepare(absl::StrCat("INSERT INTO history(", kEventColumns,
                             ") VALUES(:rev, :sub, 0, :k, :v, :c, :m, :ver, :l, :pv, :pc, :pm, "
                             ":pver, :pl)")));
    Stmt s(raw);
    s.Bind(":rev", ctx.rev);
    s.Bind(":sub", ctx.sub);
    s.BindKv(kv);
    if (prev) {
      s.Bind(":pv", prev->value);
      s.Bind(":pc", prev->create_revision);
      s.Bind(":pm", prev->mod_revision);
      s.Bind(":pver", prev->version);
      s.Bind(":pl", prev->lease);
    }
    if (int rc = s.Step(); rc != SQLITE_DONE) return SqlError(rc, "write history");
  }
  ctx.sub++;
  LeaseId old_lease = prev ? prev->lease : 0;
  if (old_lease != req.lease) ctx.moves.push_back({req.key, old_lease, req.lease});
  PutResponse resp;
  resp.revision = ctx.rev;
  if (req.prev_kv) resp.prev_kv = std::move(prev);
  return resp;
}

absl::StatusOr<DeleteResponse> SqliteKv::DeleteLocked(const DeleteRequest& req, WriteCtx& ctx) {
  HG_RETURN_IF_ERROR(CheckRange(req.key, req.range_end));
  HG_ASSIGN_OR_RETURN(std::vector<KeyValue> doomed, ScanLocked(req.key, req.range_end));
  DeleteResponse resp;
  resp.deleted = static_cast<int64_t>(doomed.size());
  resp.revision = doomed.empty() ? rev_ : ctx.rev;
  if (doomed.empty()) return resp;
  {
    HG_ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                        Prepare(absl::StrCat("DELETE FROM kv WHERE ", KeyClause(req.range_end))));
    Stmt s(raw);
    s.BindRange(req.key, req.range_end);
    if (int rc = s.Step(); rc != SQLITE_DONE) return SqlError(rc, "delete keys");
  }
  HG_ASSIGN_OR_RETURN(
      sqlite3_stmt * raw,
      Prepare(absl::StrCat("INSERT INTO history(", kEventColumns,
                           ") VALUES(:rev, :sub, 1, :k, NULL, NULL, :m, NULL, NULL, :pv, :pc, "
                           ":pm, :pver, :pl)")));
  for (const auto& prev : doomed) {
    Stmt s(raw);
    s.Bind(":rev", ctx.rev);
    s.Bind(":sub", ctx.sub);
    s.Bind(":k", prev.key);
    s.Bind(":m", ctx.rev);
    s.Bind(":pv", prev.value);
    s.Bind(":pc", prev.create_revision);
    s.Bind(":pm", prev.mod_revision);
    s.Bind(":pver", prev.version);
    s.Bind(":pl", prev.lease);
    if (int rc = s.Step(); rc != SQLITE_DONE) return SqlError(rc, "write history");
    ctx.sub++;
    if (prev.lease != 0) ctx.moves.push_back({prev.key, prev.lease, 0});
  }
  if (req.prev_kv) resp.prev_kvs = std::move(doomed);
  return resp;
}

absl::Status SqliteKv::DeleteKeysLocked(const std::vector<std::string>& keys) {
  WriteCtx ctx;
  HG_RETURN_IF_ERROR(BeginWrite(ctx));
  absl::Status body;
  for (const auto& k : keys) {
    auto r = DeleteLocked(DeleteRequest::Key(k), ctx);
    if (!r.ok()) {
      body = r.status();
      break;
    }
  }
  return FinishWrite(ctx, body);
}

// --- reads -------------------------------------------------------------------------------------

absl::StatusOr<std::vector<KeyValue>> SqliteKv::ScanLocked(const std::string& key,
                                                           const std::string& range_end) {
  HG_ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                      Prepare(absl::StrCat("SELECT ", kKvColumns, " FROM kv WHERE ",
                                           KeyClause(range_end), " ORDER BY key")));
  Stmt s(raw);
  s.BindRange(key, range_end);
  std::vector<KeyValue> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(s.Kv(0));
  if (rc != SQLITE_DONE) return SqlError(rc, "range");
  return out;
}

absl::StatusOr<RangeResponse> SqliteKv::RangeLocked(const RangeRequest& req, const WriteCtx* ctx) {
  HG_RETURN_IF_ERROR(CheckRange(req.key, req.range_end));
  if (req.revision > rev_) {
    return absl::OutOfRangeError(absl::StrCat("required revision ", req.revision,
                                              " is a future revision (current ", rev_, ")"));
  }
  Revision compact = CompactRevLocked();
  if (req.revision > 0 && req.revision < compact) return CompactedError(req.revision, compact - 1);
  bool pending = ctx != nullptr && ctx->sub > 0;
  bool latest = req.revision == 0 || (req.revision == rev_ && !pending);

  if (latest && req.sort_target == SortTarget::kKey) {
    // The common case in SQL: count, then at most `limit` rows, both by the primary key.
    RangeResponse out;
    out.revision = rev_;
    {
      HG_ASSIGN_OR_RETURN(sqlite3_stmt * raw, Prepare(absl::StrCat("SELECT count(*) FROM kv WHERE ",
                                                                   KeyClause(req.range_end))));
      Stmt s(raw);
      s.BindRange(req.key, req.range_end);
      if (int rc = s.Step(); rc != SQLITE_ROW) return SqlError(rc, "count");
      out.count = s.Int(0);
    }
    if (req.count_only) return out;
    HG_ASSIGN_OR_RETURN(
        sqlite3_stmt * raw,
        Prepare(LatestRangeSql(req.range_end, req.sort_order == SortOrder::kDescend)));
    Stmt s(raw);
    s.BindRange(req.key, req.range_end);
    s.Bind(":lim", req.limit > 0 ? req.limit : int64_t{-1});
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      out.kvs.push_back(s.Kv(0));
      if (req.keys_only) out.kvs.back().value.clear();
    }
    if (rc != SQLITE_DONE) return SqlError(rc, "range");
    out.more = req.limit > 0 && out.count > req.limit;
    return out;
  }

  HG_ASSIGN_OR_RETURN(std::vector<KeyValue> current, ScanLocked(req.key, req.range_end));
  if (latest) return Finish(std::move(current), req, rev_);

  // An old revision: undo, newest first, every event after it (the history keeps prev values).
  std::map<std::string, KeyValue> state;
  for (auto& kv : current) state.emplace(kv.key, std::move(kv));
  HG_ASSIGN_OR_RETURN(
      sqlite3_stmt * raw,
      Prepare(absl::StrCat("SELECT key, prev_value, prev_create, prev_mod, "
                           "prev_version, prev_lease FROM history WHERE rev > :r "
                           "AND ",
                           KeyClause(req.range_end), " ORDER BY rev DESC, sub DESC")));
  Stmt s(raw);
  s.BindRange(req.key, req.range_end);
  s.Bind(":r", req.revision);
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    std::string key = s.Blob(0);
    if (s.IsNull(2)) {
      state.erase(key);
    } else {
      KeyValue prev = s.Kv(0);
      state[key] = std::move(prev);
    }
  }
  if (rc != SQLITE_DONE) return SqlError(rc, "history");
  std::vector<KeyValue> at;
  at.reserve(state.size());
  for (auto& [k, kv] : state) at.push_back(std::move(kv));
  return Finish(std::move(at), req, rev_);
}

absl::StatusOr<bool> SqliteKv::CompareLocked(const Compare& c) {
  HG_RETURN_IF_ERROR(CheckRange(c.key, c.range_end));
  HG_ASSIGN_OR_RETURN(std::vector<KeyValue> kvs, ScanLocked(c.key, c.range_end));
  if (kvs.empty()) {
    // etcd: a missing key compares as a zero KeyValue, except that value compares fail.
    if (c.target == Compare::Target::kValue) return false;
    return CompareHolds(c, KeyValue{});
  }
  for (const auto& kv : kvs) {
    if (!CompareHolds(c, kv)) return false;
  }
  return true;
}

// --- Kv ----------------------------------------------------------------------------------------

absl::StatusOr<RangeResponse> SqliteKv::Range(const RangeRequest& req) {
  absl::MutexLock lock(&mu_);
  return RangeLocked(req, nullptr);
}

absl::StatusOr<PutResponse> SqliteKv::Put(const PutRequest& req) {
  HG_RETURN_IF_ERROR(CheckPut(req, limits_));
  absl::MutexLock lock(&mu_);
  WriteCtx ctx;
  HG_RETURN_IF_ERROR(BeginWrite(ctx));
  auto resp = PutLocked(req, ctx);
  HG_RETURN_IF_ERROR(FinishWrite(ctx, resp.status()));
  return resp;
}

absl::StatusOr<DeleteResponse> SqliteKv::Delete(const DeleteRequest& req) {
  HG_RETURN_IF_ERROR(CheckDelete(req, limits_));
  absl::MutexLock lock(&mu_);
  WriteCtx ctx;
  HG_RETURN_IF_ERROR(BeginWrite(ctx));
  auto resp = DeleteLocked(req, ctx);
  HG_RETURN_IF_ERROR(FinishWrite(ctx, resp.status()));
  resp->revision = rev_;
  return resp;
}

absl::Status SqliteKv::TxnPathLocked(const TxnRequest& req, std::vector<bool>* path) {
  bool holds = true;
  for (const auto& c : req.compare) {
    HG_ASSIGN_OR_RETURN(holds, CompareLocked(c));
    if (!holds) break;
  }
  path->push_back(holds);
  for (const auto& op : holds ? req.success : req.failure) {
    if (const auto* n = std::get_if<NestedTxn>(&op)) {
      HG_RETURN_IF_ERROR(TxnPathLocked(n->txn(), path));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<TxnResponse> SqliteKv::ApplyTxnLocked(const TxnRequest& req,
                                                     const std::vector<bool>& path, size_t* next,
                                                     WriteCtx& ctx) {
  TxnResponse resp;
  resp.succeeded = path[(*next)++];
  for (const auto& op : resp.succeeded ? req.success : req.failure) {
    if (const auto* r = std::get_if<RangeRequest>(&op)) {
      HG_ASSIGN_OR_RETURN(RangeResponse rr, RangeLocked(*r, &ctx));
      resp.responses.emplace_back(std::move(rr));
    } else if (const auto* p = std::get_if<PutRequest>(&op)) {
      HG_ASSIGN_OR_RETURN(PutResponse pr, PutLocked(*p, ctx));
      resp.responses.emplace_back(std::move(pr));
    } else if (const auto* d = std::get_if<DeleteRequest>(&op)) {
      HG_ASSIGN_OR_RETURN(DeleteResponse dr, DeleteLocked(*d, ctx));
      resp.responses.emplace_back(std::move(dr));
    } else {
      HG_ASSIGN_OR_RETURN(TxnResponse nested,
                          ApplyTxnLocked(std::get<NestedTxn>(op).txn(), path, next, ctx));
      resp.responses.emplace_back(NestedTxnResponse(std::move(nested)));
    }
  }
  return resp;
}

namespace {

// Every response of a txn, nested ones included, carries the txn's revision.
void SetRevision(TxnResponse& resp, Revision rev) {
  resp.revision = rev;
  for (auto& r : resp.responses) {
    std::visit(
        [rev](auto& x) {
          if constexpr (std::is_same_v<std::decay_t<decltype(x)>, NestedTxnResponse>) {
            SetRevision(x.response(), rev);
          } else {
            x.revision = rev;
          }
        },
        r);
  }
}

}  // namespace

absl::StatusOr<TxnResponse> SqliteKv::Txn(const TxnRequest& req) {
  HG_RETURN_IF_ERROR(CheckTxn(req, limits_));
  absl::MutexLock lock(&mu_);
  WriteCtx ctx;
  HG_RETURN_IF_ERROR(BeginWrite(ctx));
  TxnResponse resp;
  absl::Status body = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS -> absl::Status {
    // As etcd: every compare on the path, nested ones included, sees the store before the txn.
    std::vector<bool> path;
    HG_RETURN_IF_ERROR(TxnPathLocked(req, &path));
    size_t next = 0;
    HG_ASSIGN_OR_RETURN(resp, ApplyTxnLocked(req, path, &next, ctx));
    return absl::OkStatus();
  }();
  HG_RETURN_IF_ERROR(FinishWrite(ctx, body));
  SetRevision(resp, rev_);
  return resp;
}

absl::Status SqliteKv::Compact(Revision rev) {
  absl::MutexLock lock(&mu_);
  if (rev > rev_) {
    return absl::OutOfRangeError(absl::StrCat("compact revision ", rev, " is in the future"));
  }
  if (rev <= CompactRevLocked()) return CompactedError(rev, CompactRevLocked() - 1);
  HG_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  absl::Status st = PruneLocked(rev, rev_);
  if (st.ok()) st = Exec("COMMIT");
  if (!st.ok()) {
    if (sqlite3_get_autocommit(db_) == 0) (void)Exec("ROLLBACK");
    return st;
  }
  compact_rev_ = rev;
  return absl::OkStatus();
}

absl::StatusOr<StoreStatus> SqliteKv::Status() {
  absl::MutexLock lock(&mu_);
  int64_t pragma[3] = {0, 0, 0};
  const char* names[3] = {"PRAGMA page_count", "PRAGMA page_size", "PRAGMA freelist_count"};
  for (int i = 0; i < 3; ++i) {
    HG_ASSIGN_OR_RETURN(sqlite3_stmt * raw, Prepare(names[i]));
    Stmt s(raw);
    if (int rc = s.Step(); rc != SQLITE_ROW) return SqlError(rc, names[i]);
    pragma[i] = s.Int(0);
  }
  return StoreStatus{.revision = rev_,
                     .compact_revision = std::max<Revision>(0, CompactRevLocked()),
                     .db_size = pragma[0] * pragma[1],
                     .db_size_in_use = (pragma[0] - pragma[2]) * pragma[1]};
}

// --- leases ------------------------------------------------------------------------------------

absl::StatusOr<LeaseGrantResponse> SqliteKv::LeaseGrant(int64_t ttl_seconds) {
  if (ttl_seconds > kMaxLeaseTtl) return absl::InvalidArgumentError("lease TTL too large");
  int64_t ttl = std::max<int64_t>(ttl_seconds, 1);
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  absl::MutexLock lock(&mu_);
  LeaseId id = 0;
  while (id == 0 || leases_.contains(id)) id = static_cast<LeaseId>(rng() >> 1);
  leases_[id] = Lease{.ttl = ttl, .expiry = clock_.SteadyNow() + std::chrono::seconds(ttl)};
  lease_gen_++;
  return LeaseGrantResponse{.id = id, .ttl = ttl};
}

absl::StatusOr<int64_t> SqliteKv::LeaseKeepAliveOnce(LeaseId id) {
  absl::MutexLock lock(&mu_);
  auto it = leases_.find(id);
  SteadyTime now = clock_.SteadyNow();
  // A lease past its expiry is gone even if the lease thread has not revoked it yet.
  if (it == leases_.end() || it->second.expiry <= now) {
    return absl::NotFoundError(absl::StrCat("lease not found: ", id));
  }
  it->second.expiry = now + std::chrono::seconds(it->second.ttl);
  lease_gen_++;
  return it->second.ttl;
}

absl::Status SqliteKv::LeaseRevoke(LeaseId id) {
  absl::MutexLock lock(&mu_);
  if (!leases_.contains(id)) return absl::NotFoundError(absl::StrCat("lease not found: ", id));
  return RevokeLocked(id);
}

absl::Status SqliteKv::RevokeLocked(LeaseId id) {
  auto it = leases_.find(id);
  std::vector<std::string> keys(it->second.keys.begin(), it->second.keys.end());
  leases_.erase(it);
  lease_gen_++;
  if (keys.empty()) return absl::OkStatus();
  return DeleteKeysLocked(keys);
}

absl::StatusOr<LeaseTimeToLiveResponse> SqliteKv::LeaseTimeToLive(LeaseId id, bool keys) {
  absl::MutexLock lock(&mu_);
  LeaseTimeToLiveResponse resp{.id = id, .ttl = -1};
  auto it = leases_.find(id);
  SteadyTime now = clock_.SteadyNow();
  if (it == leases_.end() || it->second.expiry <= now) return resp;
  double remaining = std::chrono::duration<double>(it->second.expiry - now).count();
  resp.ttl = static_cast<int64_t>(std::ceil(remaining));
  resp.granted_ttl = it->second.ttl;
  if (keys) resp.keys.assign(it->second.keys.begin(), it->second.keys.end());
  return resp;
}

void SqliteKv::LeaseLoop() {
  absl::MutexLock lock(&mu_);
  while (!closing_) {
    SteadyTime now = clock_.SteadyNow();
    std::vector<LeaseId> due;
    for (const auto& [id, lease] : leases_) {
      if (lease.expiry <= now) due.push_back(id);
    }
    for (LeaseId id : due) {
      if (absl::Status st = RevokeLocked(id); !st.ok()) {
        // The lease is gone from memory; its keys stay until the next Open removes them.
        Log().Error("lease expiry failed", {{"lease", id}, {"error", std::string(st.message())}});
      }
    }
    absl::Time deadline = absl::InfiniteFuture();
    if (!leases_.empty()) {
      SteadyTime first = leases_.begin()->second.expiry;
      for (const auto& [id, lease] : leases_) first = std::min(first, lease.expiry);
      deadline = clock_.Now() + absl::FromChrono(first - now);
    }
    uint64_t gen = lease_gen_;
    clock_.WaitUntil(mu_, deadline, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return closing_ || lease_gen_ != gen;
    });
  }
}

// --- watch -------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Watch>> SqliteKv::StartWatch(const WatchRequest& req,
                                                            WatchHandler handler) {
  HG_RETURN_IF_ERROR(CheckRange(req.key, req.range_end));
  if (!handler) return absl::InvalidArgumentError("watch without handler");
  auto w = std::make_shared<WatchState>();
  w->req = req;
  w->handler = std::move(handler);
  w->kv = this;
  absl::MutexLock lock(&mu_);
  if (closing_) return absl::FailedPreconditionError("store is closing");
  w->next = req.start_revision > 0 ? req.start_revision : rev_ + 1;
  watches_.push_back(w);
  w->thread = std::thread([this, w] { WatchLoop(w); });
  return std::make_unique<SqliteWatch>(w);
}

void SqliteKv::CancelWatch(WatchState& w) {
  // Taking mu_ re-evaluates the loop's Await condition on unlock, so it sees `cancelled`.
  absl::MutexLock lock(&mu_);
  auto it =
      std::find_if(watches_.begin(), watches_.end(), [&](const auto& p) { return p.get() == &w; });
  if (it != watches_.end()) watches_.erase(it);
}

absl::StatusOr<std::vector<WatchResponse>> SqliteKv::ReadEventsLocked(const WatchState& w,
                                                                      Revision from, Revision to) {
  HG_ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                      Prepare(absl::StrCat("SELECT ", kEventColumns,
                                           " FROM history WHERE rev >= :from AND rev <= :to AND ",
                                           KeyClause(w.req.range_end), " ORDER BY rev, sub")));
  Stmt s(raw);
  s.Bind(":from", from);
  s.Bind(":to", to);
  s.BindRange(w.req.key, w.req.range_end);
  std::vector<WatchResponse> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    Revision rev = s.Int(0);
    if (out.empty() || out.back().revision != rev) out.push_back(WatchResponse{.revision = rev});
    WatchEvent e;
    if (s.Int(2) != 0) {
      e.type = EventType::kDelete;
      e.kv.key = s.Blob(3);
      e.kv.mod_revision = s.Int(6);
    } else {
      e.type = EventType::kPut;
      e.kv = s.Kv(3);
    }
    if (w.req.prev_kv && !s.IsNull(10)) {
      e.prev_kv = KeyValue{.key = e.kv.key,
                           .value = s.Blob(9),
                           .create_revision = s.Int(10),
                           .mod_revision = s.Int(11),
                           .version = s.Int(12),
                           .lease = s.Int(13)};
    }
    out.back().events.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return SqlError(rc, "read history");
  return out;
}

void SqliteKv::WatchLoop(const std::shared_ptr<WatchState>& w) {
  while (true) {
    std::vector<WatchResponse> batches;
    bool final = false;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return closing_ || w->cancelled.load() || rev_ >= w->next;
      };
      mu_.Await(absl::Condition(&ready));
      if (closing_ || w->cancelled.load()) return;
      Revision compact = CompactRevLocked();
      if (w->next <= compact) {
        batches.push_back(
            WatchResponse{.revision = rev_, .status = CompactedError(w->next, compact)});
        final = true;
      } else {
        Revision to = std::min(rev_, w->next + kWatchReadRevisions - 1);
        auto read = ReadEventsLocked(*w, w->next, to);
        if (read.ok()) {
          batches = std::move(*read);
          w->next = to + 1;
        } else {
          batches.push_back(WatchResponse{.revision = rev_, .status = read.status()});
          final = true;
        }
      }
    }
    // Deliver outside the lock: the handler may call back into the store.
    for (const auto& b : batches) {
      if (w->cancelled.load()) return;
      w->handler(b);
    }
    if (final) return;
  }
}

}  // namespace hg::store
