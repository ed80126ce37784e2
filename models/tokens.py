"""Signed JWTs: minting them for `run.py token`, and verifying them into an Identity."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt

from models.errors import Unauthorized
from models.records import Identity, Role

ALGORITHM = "HS256"
LEEWAY_S = 10
_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")
_MAX_NAME_CHARS = 200


def load_or_create_secret(configured: str | None, var_dir: Path) -> str:
    """The configured secret, else one generated once and kept (mode 0600) under var_dir."""
    if configured:
        return configured
    path = var_dir / "auth_secret"
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
    """Mints and verifies the tokens of one secret."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def mint(self, *, user_id: str, name: str, org_id: str, role: Role, ttl_s: int) -> str:
        now = datetime.now(UTC)
        claims = {
            "sub": user_id,
            "name": name,
            "org": org_id,
            "role": role.value,
            "iat": now,
            "exp": now + timedelta(seconds=ttl_s),
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: object) -> Identity:
        """The identity a token carries; Unauthorized for anything missing, forged or expired."""
        if not isinstance(token, str) or not token:
            raise Unauthorized("a token is required")
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                leeway=LEEWAY_S,
                options={"require": ["sub", "org", "role", "exp"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired") from None
        except jwt.InvalidTokenError:
            raise Unauthorized("the token is not valid") from None
        return _identity_from_claims(claims)


def _identity_from_claims(claims: dict[str, object]) -> Identity:
    user_id, org_id, role = claims.get("sub"), claims.get("org"), claims.get("role")
    name = claims.get("name", user_id)
    if not isinstance(user_id, str) or not _ID_PATTERN.match(user_id):
        raise Unauthorized("the token's subject is not a valid user id")
    if not isinstance(org_id, str) or not _ID_PATTERN.match(org_id):
        raise Unauthorized("the token's org is not a valid id")
    if not isinstance(name, str) or len(name) > _MAX_NAME_CHARS:
        raise Unauthorized("the token's name is not valid")
    try:
        parsed_role = Role(str(role))
    except ValueError:
        raise Unauthorized("the token's role is not one we know") from None
    expires = claims["exp"]
    if not isinstance(expires, int | float):
        raise Unauthorized("the token's expiry is not a time")
    return Identity(
        user_id=user_id,
        name=name,
        org_id=org_id,
        role=parsed_role,
        expires_at=datetime.fromtimestamp(expires, UTC),
    )
