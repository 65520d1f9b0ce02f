// LeaderTerm: one leadership of the election (DESIGN.md "Why this is exactly-once"), handed to
// the leader's loops. Its Guard() is the fencing compare every leader write carries: it holds
// exactly while this leadership lasts. Pure value type.
#pragma once

#include <cstdint>
#include <string>

#include "store/kv.h"

namespace hg::coord {

struct LeaderTerm {
  int64_t term = 0;        // create revision of our election key
  std::string leader_key;  // our election key (the fencing compare's subject)

  store::Compare Guard() const {
    return store::Compare::CreateRevision(leader_key, store::Compare::Result::kEqual, term);
  }
};

}  // namespace hg::coord
