#include "auth/role.h"

namespace hg::auth {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "viewer";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
    if (name == RoleName(r)) return r;
  }
  return std::nullopt;
}

std::string_view AccessName(Access access) {
  switch (access) {
    case Access::kOpen:
      return "open";
    case Access::kView:
      return "view";
    case Access::kOperate:
      return "operate";
    case Access::kAdmin:
      return "admin";
  }
  return "admin";
}

std::optional<Role> RequiredRole(Access access) {
  switch (access) {
    case Access::kOpen:
      return std::nullopt;
    case Access::kView:
      return Role::kViewer;
    case Access::kOperate:
      return Role::kOperator;
    case Access::kAdmin:
      return Role::kAdmin;
  }
  return Role::kAdmin;
}

bool Allows(Role role, Access access) {
  const std::optional<Role> need = RequiredRole(access);
  return !need || static_cast<int>(role) >= static_cast<int>(*need);
}

}  // namespace hg::auth
