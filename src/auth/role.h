// Roles of API callers and what each route requires (docs/design/security.md "Roles").
//
//   viewer   read jobs, history, ledgers, executions, the cluster
//   operator viewer + trigger, pause, resume, kill
//   admin    operator + create, edit, delete jobs, manage tokens, read the audit log
//
// Pure values; thread-safe.
#pragma once

#include <optional>
#include <string_view>

namespace hg::auth {

enum class Role { kViewer = 1, kOperator = 2, kAdmin = 3 };

// What a route requires of its caller. kOpen routes answer anyone (health, the UI's files).
enum class Access { kOpen, kView, kOperate, kAdmin };

std::string_view RoleName(Role role);                  // "viewer", "operator", "admin"
std::optional<Role> ParseRole(std::string_view name);  // exact, lower case
std::string_view AccessName(Access access);            // "open", "view", "operate", "admin"

// The least role that may call a route of `access`; nullopt for kOpen (no token needed).
std::optional<Role> RequiredRole(Access access);

// Whether `role` may call a route of `access`.
bool Allows(Role role, Access access);

}  // namespace hg::auth
