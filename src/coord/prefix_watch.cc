#include "coord/prefix_watch.h"

#include <algorithm>
#include <utility>

#include "common/logging.h"

namespace hg::coord {

PrefixWatch::PrefixWatch(store::Kv& kv, const Clock& clock, std::string prefix, Handler handler)
    : kv_(kv), clock_(clock), prefix_(std::move(prefix)), handler_(std::move(handler)) {}

PrefixWatch::~PrefixWatch() { Stop(); }

absl::Status PrefixWatch::Start() {
  {
    absl::MutexLock lock(&mu_);
    if (started_) return absl::FailedPreconditionError("coord: PrefixWatch already started");
    started_ = true;
  }
  absl::Status status = Resync(/*initial=*/true);
  if (!status.ok()) return status;
  supervisor_ = std::thread([this] { Supervise(); });
  return absl::OkStatus();
}

void PrefixWatch::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (supervisor_.joinable()) supervisor_.join();
  std::unique_ptr<store::Watch> watch;
  {
    absl::MutexLock lock(&mu_);
    watch = std::move(watch_);
  }
  if (watch) watch->Cancel();  // outside mu_: the handler takes it
}

absl::Status PrefixWatch::Resync(bool initial) {
  absl::StatusOr<store::RangeResponse> resp = kv_.Range(store::RangeRequest::Prefix(prefix_));
  if (!resp.ok()) return resp.status();
  {
    absl::MutexLock lock(&deliver_mu_);
    State fresh;
    for (store::KeyValue& kv : resp->kvs) fresh.emplace(kv.key, std::move(kv));
    std::vector<Change> changes;
    for (const auto& [key, kv] : state_) {
      auto it = fresh.find(key);
      if (it == fresh.end()) {
        changes.push_back({key, kv, std::nullopt});
      } else if (!(it->second == kv)) {
        changes.push_back({key, kv, it->second});
      }
    }
    for (const auto& [key, kv] : fresh) {
      if (!state_.contains(key)) changes.push_back({key, std::nullopt, kv});
    }
    state_ = std::move(fresh);
    if (initial || !changes.empty()) handler_(state_, changes);
  }
  {
    absl::MutexLock lock(&mu_);
    failed_ = false;  // before the watch starts: it may fail at once
  }
  absl::StatusOr<std::unique_ptr<store::Watch>> watch =
      kv_.StartWatch(store::WatchRequest::Prefix(prefix_, resp->revision + 1),
                     [this](const store::WatchResponse& r) { OnWatch(r); });
  absl::MutexLock lock(&mu_);
  if (!watch.ok()) {
    failed_ = true;
    return watch.status();
  }
  watch_ = std::move(*watch);
  return absl::OkStatus();
}

void PrefixWatch::OnWatch(const store::WatchResponse& resp) {
  if (!resp.events.empty()) {
    absl::MutexLock lock(&deliver_mu_);
    std::vector<Change> changes;
    for (const store::WatchEvent& ev : resp.events) {
      auto it = state_.find(ev.kv.key);
      std::optional<store::KeyValue> before;
      if (it != state_.end()) before = it->second;
      if (ev.type == store::EventType::kPut) {
        state_[ev.kv.key] = ev.kv;
        changes.push_back({ev.kv.key, std::move(before), ev.kv});
      } else if (it != state_.end()) {
        state_.erase(it);
        changes.push_back({ev.kv.key, std::move(before), std::nullopt});
      }
    }
    if (!changes.empty()) handler_(state_, changes);
  }
  if (!resp.status.ok()) {
    log::Logger("coord").Warn("prefix watch ended, re-listing",
                              {{"prefix", prefix_}, {"error", std::string(resp.status.message())}});
    absl::MutexLock lock(&mu_);
    failed_ = true;
  }
}

void PrefixWatch::Supervise() {
  constexpr absl::Duration kMinBackoff = absl::Milliseconds(100);
  constexpr absl::Duration kMaxBackoff = absl::Seconds(5);
  absl::Duration backoff = kMinBackoff;
  while (true) {
    std::unique_ptr<store::Watch> old;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](PrefixWatch* self)
               ABSL_NO_THREAD_SAFETY_ANALYSIS { return self->stopping_ || self->failed_; },
          this));
      if (stopping_) return;
      old = std::move(watch_);
    }
    if (old) old->Cancel();
    absl::Status status = Resync(/*initial=*/false);
    if (status.ok()) {
      backoff = kMinBackoff;
      continue;
    }
    log::Logger("coord").Warn("prefix re-list failed",
                              {{"prefix", prefix_}, {"error", std::string(status.message())}});
    absl::MutexLock lock(&mu_);
    clock_.WaitUntil(mu_, clock_.Now() + backoff, [this] {
      mu_.AssertHeld();
      return stopping_;
    });
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

}  // namespace hg::coord
