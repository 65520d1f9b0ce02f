// Registry: service membership under a key prefix (DESIGN.md `workers/<worker-id>`).
//
// A member puts `<prefix>/<id>` = metadata (JSON, opaque here) under its session's lease, so it
// disappears when the member stops or dies (at the latest when its lease expires, within TTL).
// Readers (List, Watch) need no session.
//
// Errors: kInvalidArgument for a bad id; kAlreadyExists when the id is registered under another
// lease (a second process with the same id); kAborted (IsSessionLost) if the session is over;
// the store's errors otherwise.
//
// Thread safety: all methods may be called from any thread. `kv` and `clock` must outlive the
// Registry, and a Session passed to Register must outlive that call.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "coord/prefix_watch.h"
#include "coord/session.h"
#include "store/kv.h"

namespace hg::coord {

struct Member {
  std::string id;
  std::string metadata;
  store::LeaseId lease = 0;
  store::Revision create_revision = 0;  // when it joined
  store::Revision mod_revision = 0;     // last metadata update
  friend bool operator==(const Member&, const Member&) = default;
};

struct MemberChange {
  enum class Kind { kJoined, kUpdated, kLeft };
  Kind kind = Kind::kJoined;
  Member member;  // for kLeft: the member as last seen
};

class Registry {
 public:
  // Members live at `prefix` + "/" + id.
  Registry(store::Kv& kv, const Clock& clock, std::string prefix);

  // Registers (or updates the metadata of) `id` under `session`'s lease. An id is a non-empty
  // string without '/'.
  absl::Status Register(Session& session, const std::string& id, const std::string& metadata);
  // Removes `id` if it is registered under `session`'s lease; OK if absent.
  absl::Status Deregister(Session& session, const std::string& id);

  // Live members, sorted by id.
  absl::StatusOr<std::vector<Member>> List() const;

  // Calls `handler` with every live member (sorted by id) and what changed: first at once with
  // every member as joined, then after each change. Threads as PrefixWatch. Stop by destroying
  // the returned object.
  using WatchHandler = std::function<void(const std::vector<Member>& members,
                                          const std::vector<MemberChange>& changes)>;
  absl::StatusOr<std::unique_ptr<PrefixWatch>> Watch(WatchHandler handler) const;

  const std::string& prefix() const { return prefix_; }

 private:
  absl::StatusOr<std::string> KeyOf(const std::string& id) const;

  store::Kv& kv_;
  const Clock& clock_;
  const std::string prefix_;
  const std::string dir_;  // prefix_ + "/"
};

}  // namespace hg::coord
