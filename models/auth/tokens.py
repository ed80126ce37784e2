"""Signed JWTs: verifying them into an Identity, and minting HS256 ones for `run.py token`."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt

from config import Settings
from models.domain.errors import Unauthorized
from models.domain.fields import MAX_NAME_CHARS, is_clean, is_token_id
from models.domain.records import Identity, Role

SYMMETRIC_ALGORITHMS = ("HS256",)
ASYMMETRIC_ALGORITHMS = ("RS256", "ES256")


class TokenConfigError(ValueError):
    """The configured key material cannot be used; the message says which and why."""


def secret_path(var_dir: Path) -> Path:
    """Where the generated HS256 secret is kept when AUTH_SECRET is not set."""
    return var_dir / "auth_secret"


def load_or_create_secret(configured: str | None, var_dir: Path) -> str:
    """The configured secret, else one generated once and kept (mode 0600) under var_dir."""
    if configured:
        return configured
    path = secret_path(var_dir)
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    # O_EXCL: when two workers start at once, one writes and the other reads what it wrote.
    try:
        with path.open("x") as handle:
            path.chmod(0o600)
            handle.write(secret)
    except FileExistsError:
        return path.read_text().strip()
    return secret


class TokenAuthority:
    """Verifies tokens with exactly one kind of key: an HS256 secret, a public key, or a JWKS.

    Only the algorithms of that kind are accepted, so a token signed with `none`, or an HS256
    token "signed" with a public key's bytes, never passes.
    """

    def __init__(
        self,
        *,
        secret: str | None = None,
        public_key: str | None = None,
        jwks: jwt.PyJWKSet | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        leeway_s: int = 30,
    ) -> None:
        if sum(key is not None for key in (secret, public_key, jwks)) != 1:
            raise TokenConfigError("exactly one of a secret, a public key or a JWKS is needed")
        self._secret = secret
        self._public_key = public_key
        self._jwks = jwks
        self._issuer = issuer
        self._audience = audience
        self._leeway_s = leeway_s

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenAuthority:
        """AUTH_JWKS_FILE, else AUTH_PUBLIC_KEY, else AUTH_SECRET (or the generated one)."""
        policy: dict[str, Any] = {
            "issuer": settings.auth_issuer,
            "audience": settings.auth_audience,
            "leeway_s": settings.auth_leeway_s,
        }
        if settings.auth_jwks_file is not None:
            return cls(jwks=_read_jwks(settings.auth_jwks_file), **policy)
        if settings.auth_public_key is not None:
            return cls(public_key=_read_text(settings.auth_public_key), **policy)
        secret = load_or_create_secret(settings.auth_secret, settings.var_dir)
        return cls(secret=secret, **policy)

    def mint(self, *, user_id: str, name: str, org_id: str, role: Role, ttl_s: int) -> str:
        """An HS256 token; only a server holding the secret can mint."""
        if self._secret is None:
            raise TokenConfigError(
                "this server verifies tokens with a public key; mint them with your identity "
                "provider"
            )
        now = datetime.now(UTC)
        claims: dict[str, Any] = {
            "sub": user_id,
            "name": name,
            "org": org_id,
            "role": role.value,
            "iat": now,
            "exp": now + timedelta(seconds=ttl_s),
        }
        if self._issuer:
            claims["iss"] = self._issuer
        if self._audience:
            claims["aud"] = self._audience
        return jwt.encode(claims, self._secret, algorithm=SYMMETRIC_ALGORITHMS[0])

    def verify(self, token: object) -> Identity:
        """The identity a token carries; Unauthorized for anything missing, forged or expired."""
        if not isinstance(token, str) or not token:
            raise Unauthorized("a token is required")
        try:
            key, algorithms = self._key_for(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=list(algorithms),
                leeway=self._leeway_s,
                issuer=self._issuer,
                audience=self._audience,
                options={
                    "require": ["sub", "org", "role", "exp"],
                    "verify_aud": self._audience is not None,
                },
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthorized("the token is not valid yet") from None
        except (jwt.InvalidTokenError, jwt.PyJWKError, ValueError):
            # ValueError: text that is no token at all (a lone surrogate cannot even be encoded)
            raise Unauthorized("the token is not valid") from None
        return _identity_from_claims(claims, self._leeway_s)

    def _key_for(self, token: str) -> tuple[Any, tuple[str, ...]]:
        if self._secret is not None:
            return self._secret, SYMMETRIC_ALGORITHMS
        if self._public_key is not None:
            return self._public_key, ASYMMETRIC_ALGORITHMS
        assert self._jwks is not None  # noqa: S101 - __init__ guarantees one key kind
        kid = jwt.get_unverified_header(token).get("kid")
        if not isinstance(kid, str):
            raise jwt.InvalidTokenError("no kid")
        try:
            return self._jwks[kid].key, ASYMMETRIC_ALGORITHMS
        except KeyError:
            raise jwt.InvalidTokenError("unknown kid") from None


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise TokenConfigError(f"cannot read {path}: {exc.strerror}") from None


def _read_jwks(path: Path) -> jwt.PyJWKSet:
    try:
        return jwt.PyJWKSet.from_dict(json.loads(_read_text(path)))
    except (ValueError, jwt.PyJWKError) as exc:
        raise TokenConfigError(f"{path} is not a usable JWKS: {exc}") from None


def _identity_from_claims(claims: dict[str, object], leeway_s: int) -> Identity:
    user_id, org_id, role = claims.get("sub"), claims.get("org"), claims.get("role")
    name = claims.get("name", user_id)
    if not isinstance(user_id, str) or not is_token_id(user_id):
        raise Unauthorized("the token's subject is not a valid user id")
    if not isinstance(org_id, str) or not is_token_id(org_id):
        raise Unauthorized("the token's org is not a valid id")
    if not isinstance(name, str) or len(name) > MAX_NAME_CHARS or not is_clean(name):
        raise Unauthorized("the token's name is not valid")
    try:
        parsed_role = Role(str(role))
    except ValueError:
        raise Unauthorized("the token's role is not one we know") from None
    expires = claims["exp"]
    try:
        if isinstance(expires, bool) or not isinstance(expires, int | float):
            raise ValueError(expires)
        valid_until = datetime.fromtimestamp(expires + leeway_s, UTC)
    except (ValueError, OverflowError, OSError):  # e.g. exp 1e20: past any datetime
        raise Unauthorized("the token's expiry is not a time") from None
    return Identity(
        user_id=user_id, name=name, org_id=org_id, role=parsed_role, valid_until=valid_until
    )
