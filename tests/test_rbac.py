"""The permission matrix."""

from __future__ import annotations

from core.db.enums import Role
from core.rbac import MATRIX, Permission, allowed


def test_admin_holds_everything() -> None:
    assert MATRIX[Role.ADMIN] == frozenset(Permission)


def test_broker_operator_never_sees_trading_data() -> None:
    assert allowed(Role.BROKER, Permission.BROKER_OPERATIONS)
    for permission in (Permission.STRATEGIES_OWN, Permission.ORDERS_OWN,
                       Permission.ADMIN_USERS, Permission.ADMIN_STRATEGIES):
        assert not allowed(Role.BROKER, permission)


def test_user_has_no_admin_or_operator_permission() -> None:
    assert allowed(Role.USER, Permission.STRATEGIES_OWN)
    assert not any(allowed(Role.USER, p) for p in Permission
                   if p.value.startswith(("admin:", "brokers:operate")))


def test_unknown_role_holds_nothing() -> None:
    assert not allowed("superuser", Permission.ACCOUNT_SELF)
