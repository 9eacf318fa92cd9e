"""Who may read an appeal in full: the one policy behind the v1 API and Open311's reads."""

from __future__ import annotations

from typing import Any

from appeals_platform.auth import Principal, Role


def can_see(principal: Principal | None, appeal: Any) -> bool:
    """Monitoring and operators see every appeal, an integration those it submitted, an
    agency those assigned to it; nobody else (anonymous readers get public views only)."""
    if principal is None:
        return False
    if principal.role in (Role.OPERATOR, Role.MONITORING):
        return True
    if principal.role is Role.INTEGRATION:
        return bool(principal.source == appeal["source"])
    return bool(principal.agency is not None and principal.agency == appeal["agency"])
