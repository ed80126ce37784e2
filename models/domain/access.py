"""Who may do what to which breakout: the role and tenant rules in one place."""

from __future__ import annotations

from datetime import UTC, datetime

from models.domain.errors import Forbidden, NotFound, Unauthorized
from models.domain.records import Breakout, Identity, Role

# Who may do what, always within their own organisation (README: "Roles and tenants").
JOINERS = frozenset({Role.ATTENDEE, Role.HOST, Role.ADMIN})
HOSTS = frozenset({Role.HOST, Role.ADMIN})
SESSION_READERS = frozenset({Role.ANALYST, Role.HOST, Role.ADMIN})


def require_role(identity: Identity, roles: frozenset[Role], action: str) -> None:
    if identity.role not in roles:
        raise Forbidden(f"role {identity.role} may not {action}")


def require_same_org(identity: Identity, breakout: Breakout) -> None:
    """Another organisation's breakout answers exactly as one that does not exist: whoever
    asks learns nothing of what other organisations have."""
    if identity.org_id != breakout.org_id:
        raise NotFound(f"breakout {breakout.id} does not exist")


def _require(identity: Identity, breakout: Breakout, roles: frozenset[Role], action: str) -> None:
    require_role(identity, roles, action)
    require_same_org(identity, breakout)


def require_unexpired(identity: Identity, now: datetime) -> None:
    """A connection outlives its token, but acts on it only while the token is valid."""
    if now > identity.valid_until:
        raise Unauthorized("the token has expired; reconnect with a fresh one")


JOIN = "join breakouts"


def require_can_join(identity: Identity, breakout: Breakout) -> None:
    _require(identity, breakout, JOINERS, JOIN)


HOST = "watch or end breakouts"


def require_can_host(identity: Identity, breakout: Breakout) -> None:
    """Watching a breakout's presence and ending it."""
    _require(identity, breakout, HOSTS, HOST)


def require_can_read_sessions(identity: Identity, breakout: Breakout) -> None:
    _require(identity, breakout, SESSION_READERS, "read sessions")


# Schools: the org's admins change them; its analysts, hosts and admins read them and their
# attendance. Attendees may record their own check-ins and check-outs (a mobile app).
SCHOOL_READERS = frozenset({Role.ANALYST, Role.HOST, Role.ADMIN})
SCHOOL_WRITERS = frozenset({Role.ADMIN})
READ_SCHOOLS = "read schools and their attendance"
CHANGE_SCHOOLS = "change schools, their users or their attendance"


def require_can_check_in(identity: Identity, user_id: str) -> None:
    if identity.role is Role.ATTENDEE and identity.user_id == user_id:
        return
    require_role(identity, SCHOOL_WRITERS, "record another user's check-ins")


# Corrections of the record (README "Corrections"): a breakout's hosts and the org's admins
# correct its attendance, the org's admins a school day; whoever reads reports reads the log.
CORRECT_BREAKOUTS = "correct breakout attendance"
CORRECT_SCHOOLS = "correct school days"


def require_can_correct(identity: Identity, breakout: Breakout) -> None:
    _require(identity, breakout, HOSTS, CORRECT_BREAKOUTS)


def system_reader(org_id: str, who: str) -> Identity:
    """Whom the server's own jobs (certificates, webhooks) read an org's reports as: its
    analyst, never a person."""
    return Identity(
        user_id=f"system:{who}",
        name=who,
        org_id=org_id,
        role=Role.ANALYST,
        valid_until=datetime.max.replace(tzinfo=UTC),
    )
