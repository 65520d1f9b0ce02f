#include "worker/spool.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"

namespace hg::worker {
namespace {

absl::Status Errno(std::string_view what, const std::string& path) {
  const int err = errno;
  return absl::InternalError(absl::StrCat("spool ", Av(what), " ", path, ": ", std::strerror(err)));
}

absl::StatusOr<std::string> ReadAll(int fd, const std::string& path) {
  std::string out;
  char buf[8192];
  if (::lseek(fd, 0, SEEK_SET) < 0) return Errno("seek", path);
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace

std::string ResultSpool::EncodeEntry(const FinishEntry& e) {
  nlohmann::json j = {{"op", "result"},
                      {"id", e.id},
                      {"record_revision", e.record_revision},
                      {"inflight_revision", e.inflight_revision},
                      {"lease", e.lease},
                      {"lock_key", e.lock_key},
                      {"worker_id", e.worker_id},
                      {"attempt", e.attempt},
                      {"claim_unknown", e.claim_unknown},
                      {"record", e.record}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<FinishEntry> ResultSpool::DecodeEntry(std::string_view line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return absl::InvalidArgumentError("not a JSON object");
  FinishEntry e;
  try {
    e.id = j.at("id").get<std::string>();
    e.record_revision = j.at("record_revision").get<int64_t>();
    e.inflight_revision = j.at("inflight_revision").get<int64_t>();
    e.lease = j.at("lease").get<int64_t>();
    e.lock_key = j.at("lock_key").get<std::string>();
    e.worker_id = j.at("worker_id").get<std::string>();
    e.attempt = j.at("attempt").get<int>();
    e.claim_unknown = j.value("claim_unknown", false);
    e.record = j.at("record").get<std::string>();
  } catch (const nlohmann::json::exception& ex) {
    return absl::InvalidArgumentError(absl::StrCat("bad spool line: ", ex.what()));
  }
  return e;
}

absl::StatusOr<std::unique_ptr<ResultSpool>> ResultSpool::Open(const std::string& path) {
  if (path.empty()) return std::unique_ptr<ResultSpool>(new ResultSpool(path, -1));
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("open", path);
  std::unique_ptr<ResultSpool> spool(new ResultSpool(path, fd));
  // One worker per spool: a second process would replay and mark the first one's results.
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("spool ", path,
                     " is in use by another worker process: give each worker its own --data "
                     "(or --spool)"));
  }
  absl::StatusOr<std::string> text = ReadAll(fd, path);
  if (!text.ok()) return text.status();

  // Replay: results in file order, minus those with a later "done" line.
  std::vector<FinishEntry> results;
  absl::flat_hash_set<std::string> done;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("op")) continue;  // torn line
    if (j["op"] == "done" && j.contains("id") && j["id"].is_string()) {
      done.insert(j["id"].get<std::string>());
      continue;
    }
    auto entry = DecodeEntry(Sv(line));
    if (!entry.ok()) continue;
    done.erase(entry->id);  // a result spooled again after an earlier done (re-claimed run)
    results.push_back(*std::move(entry));
  }
  absl::MutexLock lock(&spool->mu_);
  for (FinishEntry& e : results) {
    if (done.contains(e.id)) continue;
    // The last line of one id wins (a result can be spooled twice across restarts).
    std::erase_if(spool->loaded_, [&](const FinishEntry& o) { return o.id == e.id; });
    spool->outstanding_.insert(e.id);
    spool->loaded_.push_back(std::move(e));
  }
  if (spool->outstanding_.empty() && ::ftruncate(fd, 0) != 0) return Errno("truncate", path);
  return spool;
}

ResultSpool::~ResultSpool() {
  absl::MutexLock lock(&mu_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

absl::Status ResultSpool::WriteLocked(const std::string& line, bool sync) {
  if (fd_ < 0) return absl::OkStatus();
  size_t off = 0;
  while (off < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write", path_);
    }
    off += static_cast<size_t>(n);
  }
  if (sync && ::fdatasync(fd_) != 0) return Errno("fsync", path_);
  return absl::OkStatus();
}

absl::Status ResultSpool::Append(const FinishEntry& entry) {
  absl::MutexLock lock(&mu_);
  outstanding_.insert(entry.id);
  return WriteLocked(EncodeEntry(entry) + "\n", /*sync=*/true);
}

absl::Status ResultSpool::MarkDone(const std::string& id) {
  absl::MutexLock lock(&mu_);
  if (outstanding_.erase(id) == 0) return absl::OkStatus();
  if (outstanding_.empty()) {
    if (fd_ >= 0 && ::ftruncate(fd_, 0) != 0) return Errno("truncate", path_);
    return absl::OkStatus();
  }
  nlohmann::json j = {{"op", "done"}, {"id", id}};
  return WriteLocked(j.dump() + "\n", /*sync=*/false);
}

size_t ResultSpool::outstanding() const {
  absl::MutexLock lock(&mu_);
  return outstanding_.size();
}

}  // namespace hg::worker
