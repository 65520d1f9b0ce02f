// OutputCapture: bounded capture of a run's output (internal to executor/, tested directly).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hg::executor {

// Keeps at most `cap` bytes of a stream of any length: kHeadAndTail keeps the first cap/2 and
// the last cap - cap/2 bytes (shell output: the start says what ran, the end why it failed);
// kHead keeps the first `cap` (an HTTP body). Not thread-safe.
class OutputCapture {
 public:
  enum class Keep { kHeadAndTail, kHead };
  OutputCapture(size_t cap, Keep keep);

  void Append(std::string_view data);
  uint64_t total() const { return total_; }

  // The kept bytes as valid UTF-8, with "\n… [hourglass: T bytes total, O omitted] …\n" where
  // bytes were dropped (a multi-byte character cut by the boundary counts as omitted).
  std::string Finish() const;

 private:
  size_t head_cap_;
  size_t tail_cap_;
  std::string head_;
  std::string tail_;       // ring buffer of tail_cap_ bytes once full
  size_t tail_start_ = 0;  // index of the oldest byte in tail_ once full
  uint64_t total_ = 0;
};

// Replaces every byte that is not part of a well-formed UTF-8 sequence with U+FFFD.
std::string SanitizeUtf8(std::string_view in);

}  // namespace hg::executor
