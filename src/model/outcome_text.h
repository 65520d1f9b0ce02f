// Error texts that carry meaning beyond their words: the writers (scheduler, dispatcher) and the
// schedule ledger (api/ledger.cc), which classifies records by them, share these constants so a
// rewording cannot silently break the ledger. Header-only; constants only.
#pragma once

#include <string_view>

namespace hg::model {

// Start of a `failed` record's error when no worker could take the run (ledger: `no_worker`).
inline constexpr std::string_view kNoWorkerAvailable = "no worker available";

// In the error of the `missed` record that also stands for earlier missed instants the
// scheduler counted but did not list one by one.
inline constexpr std::string_view kMissedCountedNotListed = "counted, not listed";

}  // namespace hg::model
