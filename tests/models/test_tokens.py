from __future__ import annotations

import stat
import time
from pathlib import Path

import jwt
import pytest

from models.errors import Unauthorized
from models.records import Role
from models.tokens import TokenAuthority, load_or_create_secret
from tests.support import TEST_SECRET


def test_minted_token_verifies_to_its_identity() -> None:
    authority = TokenAuthority(TEST_SECRET)
    token = authority.mint(user_id="u1", name="Ada", org_id="org-a", role=Role.HOST, ttl_s=60)
    identity = authority.verify(token)
    assert (identity.user_id, identity.name, identity.org_id, identity.role) == (
        "u1",
        "Ada",
        "org-a",
        Role.HOST,
    )
    assert identity.expires_at.timestamp() == pytest.approx(time.time() + 60, abs=5)


@pytest.mark.parametrize(
    "claims",
    [
        {"org": "o", "role": "attendee", "exp": 9999999999},  # no sub
        {"sub": "u", "role": "attendee", "exp": 9999999999},  # no org
        {"sub": "u", "org": "o", "exp": 9999999999},  # no role
        {"sub": "u", "org": "o", "role": "attendee"},  # no exp
        {"sub": "u", "org": "o", "role": "root", "exp": 9999999999},
        {"sub": "u" * 200, "org": "o", "role": "attendee", "exp": 9999999999},
        {"sub": "u/../x", "org": "o", "role": "attendee", "exp": 9999999999},
        {"sub": 5, "org": "o", "role": "attendee", "exp": 9999999999},
        {"sub": "u", "org": "o", "role": "attendee", "exp": 9999999999, "name": ["x"]},
        {"sub": "u", "org": "o", "role": "attendee", "exp": 1000},  # expired
    ],
)
def test_incomplete_or_invalid_claims_are_unauthorized(claims: dict[str, object]) -> None:
    with pytest.raises(Unauthorized):
        TokenAuthority(TEST_SECRET).verify(jwt.encode(claims, TEST_SECRET))


@pytest.mark.parametrize("token", [None, "", 42, {"token": "x"}, "a.b.c"])
def test_non_tokens_are_unauthorized(token: object) -> None:
    with pytest.raises(Unauthorized):
        TokenAuthority(TEST_SECRET).verify(token)


def test_other_algorithms_are_refused() -> None:
    unsigned = jwt.encode(
        {"sub": "u", "org": "o", "role": "admin", "exp": 9999999999}, None, algorithm="none"
    )
    with pytest.raises(Unauthorized):
        TokenAuthority(TEST_SECRET).verify(unsigned)


def test_generated_secret_is_kept_private_and_reused(tmp_path: Path) -> None:
    first = load_or_create_secret(None, tmp_path / "var")
    second = load_or_create_secret(None, tmp_path / "var")
    assert first == second and len(first) >= 32
    mode = (tmp_path / "var" / "auth_secret").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_configured_secret_wins(tmp_path: Path) -> None:
    assert load_or_create_secret("configured", tmp_path) == "configured"
    assert not (tmp_path / "auth_secret").exists()
