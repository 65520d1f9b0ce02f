// Status helpers shared by every module. Errors are values (absl::Status); see STYLE.md "Errors".
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define HG_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status hg_status_ = (expr);      \
    if (!hg_status_.ok()) return hg_status_; \
  } while (false)

#define HG_STATUS_CONCAT_INNER(a, b) a##b
#define HG_STATUS_CONCAT(a, b) HG_STATUS_CONCAT_INNER(a, b)

// HG_ASSIGN_OR_RETURN(auto x, MakeX()); — unwraps an absl::StatusOr or returns its error.
#define HG_ASSIGN_OR_RETURN(lhs, expr) \
  HG_ASSIGN_OR_RETURN_IMPL(HG_STATUS_CONCAT(hg_statusor_, __LINE__), lhs, expr)
// `tmp` is an identifier and `lhs` may be a declaration: neither can be parenthesized.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define HG_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(*tmp)
// NOLINTEND(bugprone-macro-parentheses)
