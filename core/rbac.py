"""The one permission matrix (DESIGN §7): what each role may do.

Routes ask for a permission, never for a role name, so the matrix is the only place
where a role's reach is decided. The README renders the same table.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from core.db.enums import Role


class Permission(StrEnum):
    """An action a route guards."""

    ACCOUNT_SELF = "account:self"
    """Own profile, sessions, logout, stream tickets."""
    STRATEGIES_OWN = "strategies:own"
    ORDERS_OWN = "orders:own"
    BROKERS_OWN = "brokers:own"
    """Connect, validate and disconnect one's own broker accounts."""
    NOTIFICATIONS_OWN = "notifications:own"
    ANALYTICS_OWN = "analytics:own"
    PLAYGROUND_OWN = "playground:own"
    BROKER_OPERATIONS = "brokers:operate"
    """Broker health and token status across users; never their strategies or orders."""
    ADMIN_USERS = "admin:users"
    ADMIN_STRATEGIES = "admin:strategies"
    ADMIN_SYSTEM = "admin:system"
    """Health, metrics, kill switch, DLQ, logs, audit, system-wide events."""
    ADMIN_ANALYTICS = "admin:analytics"


_TRADER: Final = frozenset({
    Permission.ACCOUNT_SELF, Permission.STRATEGIES_OWN, Permission.ORDERS_OWN,
    Permission.BROKERS_OWN, Permission.NOTIFICATIONS_OWN, Permission.ANALYTICS_OWN,
    Permission.PLAYGROUND_OWN,
})

MATRIX: Final[dict[Role, frozenset[Permission]]] = {
    Role.USER: _TRADER,
    Role.BROKER: frozenset({Permission.ACCOUNT_SELF, Permission.NOTIFICATIONS_OWN,
                            Permission.BROKER_OPERATIONS}),
    Role.ADMIN: frozenset(Permission),
}


def allowed(role: Role | str, permission: Permission) -> bool:
    """True if `role` holds `permission`; an unknown role holds nothing."""
    try:
        return permission in MATRIX[Role(role)]
    except ValueError:
        return False


def matrix_markdown() -> str:
    """The matrix as a Markdown table (role columns), as documented in the README."""
    roles = [Role.ADMIN, Role.USER, Role.BROKER]
    lines = ["| permission | " + " | ".join(r.value for r in roles) + " |",
             "|---|" + "---|" * len(roles)]
    for permission in Permission:
        marks = ["yes" if permission in MATRIX[r] else "no" for r in roles]
        lines.append(f"| `{permission.value}` | " + " | ".join(marks) + " |")
    return "\n".join(lines)
