#include "coord/registry.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace hg::coord {

using store::Compare;

namespace {

Member ToMember(const std::string& dir, const store::KeyValue& kv) {
  return Member{.id = kv.key.substr(dir.size()),
                .metadata = kv.value,
                .lease = kv.lease,
                .create_revision = kv.create_revision,
                .mod_revision = kv.mod_revision};
}

}  // namespace

Registry::Registry(store::Kv& kv, const Clock& clock, std::string prefix)
    : kv_(kv), clock_(clock), prefix_(std::move(prefix)), dir_(prefix_ + "/") {}

absl::StatusOr<std::string> Registry::KeyOf(const std::string& id) const {
  if (id.empty() || id.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("coord: bad member id \"", id, "\""));
  }
  return dir_ + id;
}

absl::Status Registry::Register(Session& session, const std::string& id,
                                const std::string& metadata) {
  HG_ASSIGN_OR_RETURN(const std::string key, KeyOf(id));
  HG_RETURN_IF_ERROR(session.status());
  const store::LeaseId lease = session.lease();
  const store::PutRequest put{.key = key, .value = metadata, .lease = lease};
  // Create it if absent, or update it if it is ours; never take over another lease's entry.
  store::TxnRequest txn;
  txn.compare.push_back(Compare::CreateRevision(key, Compare::Result::kEqual, 0));
  txn.success.push_back(put);
  txn.failure.push_back(store::RangeRequest::Key(key));
  HG_ASSIGN_OR_RETURN(store::TxnResponse resp, kv_.Txn(txn));
  if (resp.succeeded) return absl::OkStatus();
  const auto& kvs = std::get<store::RangeResponse>(resp.responses.at(0)).kvs;
  if (!kvs.empty() && kvs.front().lease != lease) {
    return absl::AlreadyExistsError(absl::StrCat(
        "coord: member ", id, " is registered by another session (lease ", kvs.front().lease, ")"));
  }
  store::TxnRequest update;
  update.compare.push_back(Compare::Lease(key, Compare::Result::kEqual, lease));
  update.success.push_back(put);
  HG_ASSIGN_OR_RETURN(store::TxnResponse updated, kv_.Txn(update));
  if (!updated.succeeded) {
    return absl::UnavailableError(absl::StrCat("coord: member ", id, " changed, try again"));
  }
  return absl::OkStatus();
}

absl::Status Registry::Deregister(Session& session, const std::string& id) {
  HG_ASSIGN_OR_RETURN(const std::string key, KeyOf(id));
  store::TxnRequest txn;
  txn.compare.push_back(Compare::Lease(key, Compare::Result::kEqual, session.lease()));
  txn.success.push_back(store::DeleteRequest::Key(key));
  return kv_.Txn(txn).status();
}

absl::StatusOr<std::vector<Member>> Registry::List() const {
  HG_ASSIGN_OR_RETURN(store::RangeResponse resp, kv_.Range(store::RangeRequest::Prefix(dir_)));
  std::vector<Member> members;
  members.reserve(resp.kvs.size());
  for (const store::KeyValue& kv : resp.kvs) members.push_back(ToMember(dir_, kv));
  return members;
}

absl::StatusOr<std::unique_ptr<PrefixWatch>> Registry::Watch(WatchHandler handler) const {
  auto watch = std::make_unique<PrefixWatch>(
      kv_, clock_, dir_,
      [dir = dir_, handler = std::move(handler)](const PrefixWatch::State& state,
                                                 const std::vector<PrefixWatch::Change>& changes) {
        std::vector<Member> members;
        members.reserve(state.size());
        for (const auto& [key, kv] : state) members.push_back(ToMember(dir, kv));
        std::vector<MemberChange> events;
        events.reserve(changes.size());
        for (const PrefixWatch::Change& change : changes) {
          if (change.after) {
            events.push_back(
                {change.before ? MemberChange::Kind::kUpdated : MemberChange::Kind::kJoined,
                 ToMember(dir, *change.after)});
          } else if (change.before) {
            events.push_back({MemberChange::Kind::kLeft, ToMember(dir, *change.before)});
          }
        }
        handler(members, events);
      });
  HG_RETURN_IF_ERROR(watch->Start());
  return watch;
}

}  // namespace hg::coord
