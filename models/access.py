"""Who may do what to which breakout: the role and tenant rules in one place."""

from __future__ import annotations

from models.errors import Forbidden
from models.records import Breakout, Identity, Role

SESSION_READERS = frozenset({Role.ANALYST, Role.HOST, Role.ADMIN})


def require_same_org(identity: Identity, breakout: Breakout) -> None:
    if identity.org_id != breakout.org_id:
        raise Forbidden("this breakout belongs to another organisation")


def require_can_join(identity: Identity, breakout: Breakout) -> None:
    require_same_org(identity, breakout)


def require_can_read_sessions(identity: Identity, breakout: Breakout) -> None:
    if identity.role not in SESSION_READERS:
        raise Forbidden(f"role {identity.role} may not read sessions")
    require_same_org(identity, breakout)
