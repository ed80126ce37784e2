"""The Ed25519 key that signs certificates, as compact JWS (RFC 7515, `alg: EdDSA`), and the
verification anyone can redo with its public key (RFC 8037 JWK, `kid` its RFC 7638 thumbprint).

The key comes from SIGNING_KEY (PEM text), else SIGNING_KEY_FILE, else a key generated once into
VAR_DIR (mode 0600). Its private half is never logged or served."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from config import Settings

ALGORITHM = "EdDSA"
# The media type of a credential secured with JOSE (W3C VC-JOSE-COSE).
TYPE = "vc+jwt"


class SigningKeyError(ValueError):
    """The configured signing key cannot be used; the message says which and why (never the key)."""


class Unverified(ValueError):  # noqa: N818 - reads as "the certificate is unverified: why"
    """A certificate that does not verify; the message says why."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_jwk(public: Ed25519PublicKey) -> dict[str, str]:
    """The public key as a JWK with its `kid` (RFC 7638 thumbprint)."""
    x = _b64url(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    # The thumbprint hashes the required members in lexicographic order, without spaces.
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    kid = _b64url(hashlib.sha256(canonical.encode()).digest())
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": ALGORITHM, "use": "sig"}


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey

    @property
    def jwk(self) -> dict[str, str]:
        return public_jwk(self.private.public_key())

    @property
    def kid(self) -> str:
        return self.jwk["kid"]

    def sign(self, payload: dict[str, Any]) -> str:
        """The payload as a compact JWS."""
        return jwt.encode(
            payload, self.private, algorithm=ALGORITHM, headers={"kid": self.kid, "typ": TYPE}
        )

    def __repr__(self) -> str:  # never the private key, in a log or a traceback
        return f"SigningKey(kid={self.kid!r})"


def key_path(var_dir: Path) -> Path:
    return var_dir / "signing_key.pem"


def _parse(pem: bytes, where: str) -> SigningKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise SigningKeyError(f"{where} is not a PEM private key without a password") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{where} is not an Ed25519 key")
    return SigningKey(key)


def load_signing_key(settings: Settings) -> SigningKey:
    """The configured key, else the one generated once into VAR_DIR (made now if missing)."""
    if settings.signing_key:
        return _parse(settings.signing_key.encode(), "SIGNING_KEY")
    if settings.signing_key_file is not None:
        try:
            pem = settings.signing_key_file.read_bytes()
        except OSError as exc:
            raise SigningKeyError(f"SIGNING_KEY_FILE cannot be read: {exc.strerror}") from None
        return _parse(pem, "SIGNING_KEY_FILE")
    path = key_path(settings.var_dir)
    if not path.exists():
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:  # O_EXCL: of two workers starting at once, one writes and the other reads it
            with path.open("xb") as handle:
                path.chmod(0o600)
                handle.write(pem)
        except FileExistsError:
            pass
    return _parse(path.read_bytes(), str(path))


def payload_of(token: str) -> dict[str, Any]:
    """The payload of a JWS this server made (read, not verified)."""
    payload: dict[str, Any] = json.loads(_unb64url(token.split(".")[1]))
    return payload


def verify(token: str, keys: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and payload of a compact JWS signed by one of `keys` (JWKs), or Unverified
    saying why not. Only EdDSA with an Ed25519 key whose `kid` the header names is accepted."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise Unverified("not a compact JWS (three base64url parts joined by dots)")
    try:
        header = json.loads(_unb64url(parts[0]))
        payload = json.loads(_unb64url(parts[1]))
        signature = _unb64url(parts[2])
    except (ValueError, UnicodeDecodeError):
        raise Unverified("a part is not base64url-encoded JSON") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise Unverified("the header or the payload is not a JSON object")
    if header.get("alg") != ALGORITHM:
        raise Unverified(f"alg is {header.get('alg')!r}, not {ALGORITHM!r}")
    by_kid = {key.get("kid"): key for key in keys}
    found = by_kid.get(header.get("kid"))
    if found is None:
        raise Unverified(f"no known key has kid {header.get('kid')!r}")
    if found.get("kty") != "OKP" or found.get("crv") != "Ed25519":
        raise Unverified("the key of that kid is not an Ed25519 key")
    try:
        public = Ed25519PublicKey.from_public_bytes(_unb64url(str(found["x"])))
        public.verify(signature, f"{parts[0]}.{parts[1]}".encode())
    except (InvalidSignature, ValueError, KeyError):
        raise Unverified("the signature does not match: the certificate was altered") from None
    return header, payload
