from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from config import load_settings
from models.auth.tokens import TokenAuthority, TokenConfigError, load_or_create_secret
from models.domain.errors import Unauthorized
from models.domain.records import Role
from tests.support.servers import TEST_SECRET


def test_minted_token_verifies_to_its_identity() -> None:
    authority = TokenAuthority(secret=TEST_SECRET)
    token = authority.mint(user_id="u1", name="Ada", org_id="org-a", role=Role.HOST, ttl_s=60)
    identity = authority.verify(token)
    assert (identity.user_id, identity.name, identity.org_id, identity.role) == (
        "u1",
        "Ada",
        "org-a",
        Role.HOST,
    )
    assert identity.valid_until.timestamp() == pytest.approx(time.time() + 60 + 30, abs=5)


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
        TokenAuthority(secret=TEST_SECRET).verify(jwt.encode(claims, TEST_SECRET))


@pytest.mark.parametrize("token", [None, "", 42, {"token": "x"}, "a.b.c"])
def test_non_tokens_are_unauthorized(token: object) -> None:
    with pytest.raises(Unauthorized):
        TokenAuthority(secret=TEST_SECRET).verify(token)


def test_other_algorithms_are_refused() -> None:
    unsigned = jwt.encode(
        {"sub": "u", "org": "o", "role": "admin", "exp": 9999999999}, None, algorithm="none"
    )
    with pytest.raises(Unauthorized):
        TokenAuthority(secret=TEST_SECRET).verify(unsigned)


def test_generated_secret_is_kept_private_and_reused(tmp_path: Path) -> None:
    first = load_or_create_secret(None, tmp_path / "var")
    second = load_or_create_secret(None, tmp_path / "var")
    assert first == second and len(first) >= 32
    mode = (tmp_path / "var" / "auth_secret").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_configured_secret_wins(tmp_path: Path) -> None:
    assert load_or_create_secret("configured", tmp_path) == "configured"
    assert not (tmp_path / "auth_secret").exists()


def _rsa_pem() -> tuple[Any, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, public.decode()


CLAIMS = {"sub": "u1", "org": "org-a", "role": "host", "name": "Ada", "exp": 9999999999}


def test_rs256_tokens_verify_with_the_public_key() -> None:
    key, public = _rsa_pem()
    authority = TokenAuthority(public_key=public)
    assert authority.verify(jwt.encode(CLAIMS, key, algorithm="RS256")).role is Role.HOST


def test_es256_tokens_verify_with_the_public_key() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    authority = TokenAuthority(public_key=public.decode())
    assert authority.verify(jwt.encode(CLAIMS, key, algorithm="ES256")).user_id == "u1"


def test_hs256_signed_with_the_public_key_bytes_is_refused() -> None:
    # The classic algorithm-confusion forgery: HMAC keyed with the (public) RSA key.
    _, public = _rsa_pem()
    authority = TokenAuthority(public_key=public)
    header = _b64({"alg": "HS256", "typ": "JWT"})
    payload = _b64(CLAIMS)
    signature = hmac.new(public.encode(), f"{header}.{payload}".encode(), hashlib.sha256)
    forged = (
        f"{header}.{payload}.{base64.urlsafe_b64encode(signature.digest()).decode().rstrip('=')}"
    )
    with pytest.raises(Unauthorized):
        authority.verify(forged)


def _b64(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")


def test_jwks_picks_the_key_by_kid(tmp_path: Path) -> None:
    key, _ = _rsa_pem()
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "k1", "alg": "RS256", "use": "sig"})
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    settings = load_settings({"AUTH_JWKS_FILE": str(tmp_path / "jwks.json")})
    authority = TokenAuthority.from_settings(settings)

    good = jwt.encode(CLAIMS, key, algorithm="RS256", headers={"kid": "k1"})
    unknown = jwt.encode(CLAIMS, key, algorithm="RS256", headers={"kid": "k2"})
    assert authority.verify(good).user_id == "u1"
    with pytest.raises(Unauthorized):
        authority.verify(unknown)
    with pytest.raises(TokenConfigError):
        authority.mint(user_id="u", name="n", org_id="o", role=Role.HOST, ttl_s=60)


def test_issuer_and_audience_are_checked_when_configured() -> None:
    authority = TokenAuthority(secret=TEST_SECRET, issuer="https://idp", audience="attendance")
    right = {**CLAIMS, "iss": "https://idp", "aud": "attendance"}
    assert authority.verify(jwt.encode(right, TEST_SECRET)).user_id == "u1"
    for wrong in ({**right, "iss": "https://evil"}, {**right, "aud": "other"}, CLAIMS):
        with pytest.raises(Unauthorized):
            authority.verify(jwt.encode(wrong, TEST_SECRET))
    # What `run.py token` mints for such a server passes it.
    minted = authority.mint(user_id="u", name="n", org_id="o", role=Role.HOST, ttl_s=60)
    assert authority.verify(minted).user_id == "u"


def test_not_before_is_checked_with_leeway() -> None:
    authority = TokenAuthority(secret=TEST_SECRET, leeway_s=30)
    soon = {**CLAIMS, "nbf": int(time.time()) + 10}
    later = {**CLAIMS, "nbf": int(time.time()) + 600}
    assert authority.verify(jwt.encode(soon, TEST_SECRET)).user_id == "u1"
    with pytest.raises(Unauthorized, match="not valid yet"):
        authority.verify(jwt.encode(later, TEST_SECRET))


def test_expiry_within_leeway_passes_and_sets_valid_until() -> None:
    authority = TokenAuthority(secret=TEST_SECRET, leeway_s=30)
    just_expired = {**CLAIMS, "exp": int(time.time()) - 5}
    identity = authority.verify(jwt.encode(just_expired, TEST_SECRET))
    assert identity.valid_until.timestamp() == just_expired["exp"] + 30


def test_unreadable_key_files_are_config_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    for settings in (
        load_settings({"AUTH_PUBLIC_KEY": str(tmp_path / "missing.pem")}),
        load_settings({"AUTH_JWKS_FILE": str(tmp_path / "bad.json")}),
    ):
        with pytest.raises(TokenConfigError):
            TokenAuthority.from_settings(settings)
