#include "executor/output.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace hg::executor {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Expected length of the sequence a lead byte starts (0 for anything else).
size_t LeadLength(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0xC2 && u <= 0xDF) return 2;
  if (u >= 0xE0 && u <= 0xEF) return 3;
  if (u >= 0xF0 && u <= 0xF4) return 4;
  return 0;
}

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 if there is none (RFC 3629:
// no overlongs, no surrogates, nothing above U+10FFFF).
size_t SequenceLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  const size_t n = LeadLength(s[i]);
  if (n == 0 || i + n > s.size()) return 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c == 0xE0) lo = 0xA0;
  if (c == 0xED) hi = 0x9F;
  if (c == 0xF0) lo = 0x90;
  if (c == 0xF4) hi = 0x8F;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  }
  return n;
}

bool IsContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Bytes at the end of `s` that start a multi-byte character the cut left incomplete.
size_t IncompleteSuffix(std::string_view s) {
  for (size_t back = 1; back <= std::min<size_t>(3, s.size()); ++back) {
    const char c = s[s.size() - back];
    if (IsContinuation(c)) continue;
    return LeadLength(c) > back ? back : 0;
  }
  return 0;
}

// Continuation bytes at the start of `s` whose lead byte the cut dropped.
size_t OrphanPrefix(std::string_view s) {
  size_t n = 0;
  while (n < s.size() && n < 3 && IsContinuation(s[n])) ++n;
  return n;
}

}  // namespace

std::string SanitizeUtf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    const size_t n = SequenceLength(in, i);
    if (n == 0) {
      out.append(kReplacement);
      ++i;
    } else {
      out.append(in.substr(i, n));
      i += n;
    }
  }
  return out;
}

OutputCapture::OutputCapture(size_t cap, Keep keep)
    : head_cap_(keep == Keep::kHead ? cap : cap / 2),
      tail_cap_(keep == Keep::kHead ? 0 : cap - cap / 2) {}

void OutputCapture::Append(std::string_view data) {
  total_ += data.size();
  const size_t to_head = std::min(data.size(), head_cap_ - head_.size());
  head_.append(data.substr(0, to_head));
  data.remove_prefix(to_head);
  if (data.empty() || tail_cap_ == 0) return;
  if (data.size() >= tail_cap_) {  // the new data alone fills the tail
    tail_.assign(data.substr(data.size() - tail_cap_));
    tail_start_ = 0;
    return;
  }
  const size_t room = tail_cap_ - tail_.size();
  const size_t fill = std::min(room, data.size());
  tail_.append(data.substr(0, fill));
  data.remove_prefix(fill);
  // Overwrite the oldest bytes of the full ring.
  while (!data.empty()) {
    const size_t n = std::min(data.size(), tail_cap_ - tail_start_);
    tail_.replace(tail_start_, n, data.substr(0, n));
    tail_start_ = (tail_start_ + n) % tail_cap_;
    data.remove_prefix(n);
  }
}

std::string OutputCapture::Finish() const {
  std::string tail = tail_.substr(tail_start_) + tail_.substr(0, tail_start_);
  const uint64_t kept_raw = head_.size() + tail.size();
  if (kept_raw == total_) return SanitizeUtf8(head_ + tail);
  std::string_view head = head_;
  std::string_view tail_view = tail;
  head.remove_suffix(IncompleteSuffix(head));
  tail_view.remove_prefix(OrphanPrefix(tail_view));
  const uint64_t omitted = total_ - head.size() - tail_view.size();
  return absl::StrCat(SanitizeUtf8(head), "\n\xE2\x80\xA6 [hourglass: ", total_, " bytes total, ",
                      omitted, " omitted] \xE2\x80\xA6\n", SanitizeUtf8(tail_view));
}

}  // namespace hg::executor
