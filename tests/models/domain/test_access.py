"""The role table of README, cell by cell, at the rule level (events and routes test it too)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from models.domain.access import (
    require_can_host,
    require_can_join,
    require_can_read_sessions,
    require_unexpired,
)
from models.domain.errors import Forbidden, NotFound, Unauthorized
from models.domain.records import Breakout, Identity, Role

BREAKOUT = Breakout(id="b1", org_id="org-a", name=None, ended_at=None)
Rule = Callable[[Identity, Breakout], None]

TABLE: dict[str, dict[Role, bool]] = {
    "join": {Role.ATTENDEE: True, Role.HOST: True, Role.ANALYST: False, Role.ADMIN: True},
    "host": {Role.ATTENDEE: False, Role.HOST: True, Role.ANALYST: False, Role.ADMIN: True},
    "read": {Role.ATTENDEE: False, Role.HOST: True, Role.ANALYST: True, Role.ADMIN: True},
}
RULES: dict[str, Rule] = {
    "join": require_can_join,
    "host": require_can_host,
    "read": require_can_read_sessions,
}


def identity(role: Role, org: str = "org-a") -> Identity:
    return Identity("u1", "Ada", org, role, datetime.now(UTC) + timedelta(hours=1))


@pytest.mark.parametrize("action", sorted(TABLE))
@pytest.mark.parametrize("role", list(Role))
def test_role_table_within_the_org(action: str, role: Role) -> None:
    rule = RULES[action]
    if TABLE[action][role]:
        rule(identity(role), BREAKOUT)
    else:
        with pytest.raises(Forbidden):
            rule(identity(role), BREAKOUT)


@pytest.mark.parametrize("action", sorted(TABLE))
@pytest.mark.parametrize("role", list(Role))
def test_nothing_crosses_orgs(action: str, role: Role) -> None:
    # Refused for the role, or (a role that may) as if the breakout did not exist.
    with pytest.raises((Forbidden, NotFound)) as refused:
        RULES[action](identity(role, org="org-b"), BREAKOUT)
    if TABLE[action][role]:
        assert isinstance(refused.value, NotFound)


def test_expired_identity_acts_no_more() -> None:
    now = datetime.now(UTC)
    require_unexpired(identity(Role.ATTENDEE), now)
    with pytest.raises(Unauthorized):
        require_unexpired(identity(Role.ATTENDEE), now + timedelta(hours=2))
