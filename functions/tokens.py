"""JWT access tokens: verify (edge handshake, HTTP gateway) and mint (local use only).

Rules, all enforced by `verify`:
- exactly one algorithm is accepted: `settings.jwt_algorithm` (HS256 with the shared secret,
  or RS256 with the public key). `alg: none` and HS/RS confusion (an HS256 token signed
  with the RSA public key as its secret) are refused because the list is fixed;
- `exp`, `iat`, `sub`, `iss` and `aud` are required; issuer and audience must match;
- `sub` must be a valid user id and `role` one of `contracts.ROLES`.

The returned `Identity` is all the rest of the system learns from a token: the sender of a
message is always `Identity.user_id`, never a field of the payload.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from functions.contracts import ROLES, USER_ID
from functions.settings import Settings

# A token longer than this is refused before any decoding (cheap protection of the hub).
MAX_TOKEN_CHARS = 8192
# Clock skew tolerated on exp/iat/nbf between the token issuer and us.
LEEWAY_S = 30
_REQUIRED = ["exp", "iat", "sub", "iss", "aud"]


class TokenError(Exception):
    """The token is missing, malformed, expired or not ours. `str(exc)` is safe to log."""


@dataclass(frozen=True)
class Identity:
    user_id: str
    role: str
    expires_at: float  # seconds since the epoch (the token's exp)


def _verification_key(settings: Settings) -> str:
    if settings.jwt_algorithm == "HS256":
        return settings.jwt_secret
    if not settings.jwt_public_key:  # Settings refuses this already; keep the guard local
        raise TokenError("no public key configured")
    return settings.jwt_public_key


def verify(settings: Settings, token: str | None) -> Identity:
    """The identity carried by `token`, or TokenError."""
    if not token or not isinstance(token, str):
        raise TokenError("missing token")
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenError("token too long")
    try:
        claims = jwt.decode(
            token,
            _verification_key(settings),
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=LEEWAY_S,
            options={"require": _REQUIRED, "verify_signature": True},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token expired") from exc
    except jwt.PyJWTError as exc:
        raise TokenError(f"invalid token: {exc}") from exc
    user_id = claims.get("sub")
    if not USER_ID.valid(user_id):
        raise TokenError("invalid token: bad sub")
    role = claims.get("role")
    if role not in ROLES:
        raise TokenError("invalid token: bad role")
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise TokenError("invalid token: bad exp")
    return Identity(user_id=user_id, role=role, expires_at=float(exp))


def mint(settings: Settings, user_id: str, role: str, ttl_s: int = 3600,
         now: float | None = None) -> str:
    """An HS256 token for `user_id` (local stack, tests, `invoke token`)."""
    if settings.jwt_algorithm != "HS256":
        raise TokenError("mint signs HS256 only; RS256 tokens come from the identity provider")
    if not USER_ID.valid(user_id or ""):
        raise TokenError(f"bad user id: {user_id!r}")
    if role not in ROLES:
        raise TokenError(f"bad role: {role!r} (one of {', '.join(ROLES)})")
    issued = int(time.time() if now is None else now)
    claims = {
        "sub": user_id,
        "role": role,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": issued,
        "exp": issued + int(ttl_s),
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
