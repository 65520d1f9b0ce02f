#include "coord/election.h"

#include <utility>

#include "common/status.h"
#include "coord/wait.h"

namespace hg::coord {

Election::Election(Session& session, std::string prefix)
    : session_(session), prefix_(std::move(prefix)), dir_(prefix_ + "/"), me_(dir_) {}

absl::Status Election::Campaign(std::string value, std::stop_token stop, absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    if (campaigning_) return absl::FailedPreconditionError("coord: Campaign already running");
    campaigning_ = true;
  }
  struct Done {
    Election* self;
    ~Done() {
      absl::MutexLock lock(&self->mu_);
      self->campaigning_ = false;
    }
  } done{this};

  // Queue up, or keep the place in line this session already has (etcd: resumed campaign).
  HG_ASSIGN_OR_RETURN(internal::Enqueued mine, internal::Enqueue(session_, prefix_, value));
  me_.Queued(mine.key, mine.rev);
  if (!mine.created && mine.existing_value != value) {
    HG_ASSIGN_OR_RETURN(bool put, internal::GuardedPut(session_, mine.key, mine.rev, value));
    if (!put) return SessionLostError("election key gone while campaigning");
  }
  if (!mine.owner || mine.owner->create_revision != mine.rev) {
    internal::Waiter waiter(session_, std::move(stop), deadline);
    absl::Status status = waiter.WaitForTurn(dir_, mine.key, mine.rev);
    if (!status.ok()) {
      if (status.code() == absl::StatusCode::kCancelled ||
          status.code() == absl::StatusCode::kDeadlineExceeded) {
        // Withdraw, as etcd does on a cancelled context. Best effort: the lease cleans up.
        if (internal::GuardedDelete(session_.kv(), mine.key, mine.rev).ok()) me_.Forget(mine.rev);
      }
      return status;
    }
  }
  me_.Owned(mine.key, mine.rev);
  return absl::OkStatus();
}

absl::Status Election::Proclaim(std::string value) {
  if (!me_.owner()) return absl::FailedPreconditionError("coord: not the leader");
  const std::string key = me_.key();
  const store::Revision rev = me_.rev();
  HG_ASSIGN_OR_RETURN(bool put, internal::GuardedPut(session_, key, rev, std::move(value)));
  if (!put) {
    me_.Forget(rev);
    return absl::FailedPreconditionError("coord: not the leader (key gone)");
  }
  return absl::OkStatus();
}

absl::Status Election::Resign() {
  if (!me_.owner()) return absl::OkStatus();
  const store::Revision rev = me_.rev();
  HG_RETURN_IF_ERROR(internal::GuardedDelete(session_.kv(), me_.key(), rev).status());
  me_.Forget(rev);
  return absl::OkStatus();
}

absl::StatusOr<store::KeyValue> Election::Leader() const {
  absl::StatusOr<store::RangeResponse> resp =
      session_.kv().Range(internal::ByCreateRevision(dir_, 1));
  if (!resp.ok()) return resp.status();
  if (resp->kvs.empty()) return absl::NotFoundError("coord: no leader");
  return std::move(resp->kvs.front());
}

absl::StatusOr<std::unique_ptr<PrefixWatch>> Election::Observe(ObserveHandler handler) const {
  // The leader is the oldest key; report only when it (or its value) changes.
  struct Last {
    bool delivered = false;
    std::optional<store::KeyValue> leader;
  };
  auto watch = std::make_unique<PrefixWatch>(
      session_.kv(), session_.clock(), dir_,
      [handler = std::move(handler), last = Last{}](
          const PrefixWatch::State& state, const std::vector<PrefixWatch::Change>&) mutable {
        std::optional<store::KeyValue> leader;
        for (const auto& [key, kv] : state) {
          if (!leader || kv.create_revision < leader->create_revision) leader = kv;
        }
        const bool same = last.delivered && leader.has_value() == last.leader.has_value() &&
                          (!leader || (leader->key == last.leader->key &&
                                       leader->create_revision == last.leader->create_revision &&
                                       leader->value == last.leader->value));
        if (same) return;
        last.delivered = true;
        last.leader = leader;
        handler(leader);
      });
  absl::Status status = watch->Start();
  if (!status.ok()) return status;
  return watch;
}

bool Election::IsLeader() const { return me_.owner() && session_.IsAlive(); }

std::string Election::key() const { return me_.key(); }

store::Revision Election::term() const { return me_.rev(); }

store::Compare Election::IsLeaderGuard() const { return me_.Guard(); }

}  // namespace hg::coord
