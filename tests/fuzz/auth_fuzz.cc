// libFuzzer target for what auth/ reads from outside: an Authorization header and the token in
// it, stored token records and audit entries (the store is outside input too), GET /audit
// cursors. Besides "no crash, no leak" it checks: a parsed token re-formats to the same text; a
// decoded record or entry re-encodes and decodes to the same value; a cursor accepted is the
// shape the log writes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "auth/audit_entry.h"
#include "auth/token.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "auth_fuzz invariant violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto token = hg::auth::BearerTokenOf(input)) {
    Check(!token->empty(), "empty bearer token");
    if (auto parsed = hg::auth::ParseToken(*token)) {
      Check(hg::auth::FormatToken(*parsed) == *token, "token text round trip");
      Check(hg::auth::ValidateTokenName(parsed->name).ok(), "parsed name is invalid");
    }
  }
  if (auto parsed = hg::auth::ParseToken(input)) {
    Check(hg::auth::FormatToken(*parsed) == input, "token text round trip");
  }
  if (auto record = hg::auth::DecodeTokenRecord(input); record.ok()) {
    auto again = hg::auth::DecodeTokenRecord(hg::auth::EncodeTokenRecord(*record));
    Check(again.ok() && again->name == record->name && again->role == record->role &&
              again->hash == record->hash && again->salt == record->salt,
          "token record round trip");
    (void)hg::auth::SecretMatches(*record, input);
  }
  if (auto entry = hg::auth::DecodeAuditEntry(input); entry.ok()) {
    auto again = hg::auth::DecodeAuditEntry(hg::auth::EncodeAuditEntry(*entry));
    Check(again.ok() && again->actor == entry->actor && again->target == entry->target &&
              again->status == entry->status,
          "audit entry round trip");
  }
  if (hg::auth::IsAuditCursor(input)) Check(input.size() == 28, "cursor shape");
  return 0;
}
