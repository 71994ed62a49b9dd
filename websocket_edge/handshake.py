"""The upgrade policy, decided from the request alone BEFORE the 101 response.

`Handshake.evaluate(environ)` answers `Accept(identity, subprotocol, echo)` or
`Reject(status, code, message)`. It is pure apart from the injected token verifier and the
two callables that tell whether the edge is shutting down and how many sockets a user holds
here, so it is tested without sockets; `handler.EdgeHandler` applies its answer.

Order of the checks: canonical path (400), path and listener (404), shutting down (503),
Origin (403), subprotocol (400), token (401), connections of this user on this edge (429).

The token is optional here. A browser cannot set headers on a WebSocket, so instead of
putting it in the URL (where access logs, proxies and history keep it) a client may send
it in its first frame (STOMP CONNECT, JSON `auth`): it is then accepted with no identity
yet (`Accept.identity is None`), while the unauthenticated sockets stay under their caps
(`hub.PendingAuth`), and the session gives it a short deadline.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Mapping
from urllib.parse import parse_qsl

from functions import contracts
from functions.request_paths import canonical_target
from functions.settings import Settings
from websocket_edge.listeners import Listener, listener_of

if TYPE_CHECKING:   # functions.tokens (PyJWT) imports ssl: keep it out of gunicorn's master
    from functions.tokens import Identity

WS_PATH = "/ws"
JSON_SUBPROTOCOL = "tidings.json"
# Server preference, best first. STOMP wins when a client offers both.
SUBPROTOCOL_PREFERENCE = ("v12.stomp", "v11.stomp", "v10.stomp", JSON_SUBPROTOCOL)
TOKEN_QUERY_PARAM = "access_token"

# environ keys the handler fills for the session
ENV_IDENTITY = "tidings.identity"
ENV_SUBPROTOCOL = "tidings.subprotocol"         # the protocol the session speaks
ENV_SUBPROTOCOL_ECHO = "tidings.subprotocol_echo"  # what the 101 names (None if none offered)


@dataclass(frozen=True)
class Accept:
    identity: "Identity | None"   # None: the token comes in the first frame
    subprotocol: str
    echo: str | None


@dataclass(frozen=True)
class Reject:
    status: str           # e.g. "401 Unauthorized"
    code: str             # a contracts.ERR_* code, also the JSON body's "code"
    message: str
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def status_code(self) -> int:
        return int(self.status.split(" ", 1)[0])


def choose_subprotocol(header: str | None, supported: Iterable[str] = SUBPROTOCOL_PREFERENCE,
                       ) -> tuple[str | None, str | None]:
    """(protocol to speak, protocol to echo). Nothing offered: JSON, no echo. No match: (None, None).

    `supported` is what this edge can speak (the protocols it has sessions for); the choice
    follows the server preference among those."""
    offered = {part.strip() for part in (header or "").split(",") if part.strip()}
    if not offered:
        return JSON_SUBPROTOCOL, None
    supported = set(supported)
    for name in SUBPROTOCOL_PREFERENCE:
        if name in offered and name in supported:   # exact token match, never a substring
            return name, name
    return None, None


def origin_allowed(origin: str | None, allowed: tuple[str, ...], allow_missing: bool = False) -> bool:
    """'*' allows any Origin and none at all; otherwise the Origin must be listed exactly.
    A request without Origin (a native client, not a browser) passes when `allow_missing`."""
    if "*" in allowed:
        return True
    if not origin:
        return allow_missing
    wanted = origin.strip().rstrip("/").lower()
    return any(wanted == entry.strip().rstrip("/").lower() for entry in allowed)


def extract_token(environ: Mapping[str, str]) -> str | None:
    """`Authorization: Bearer <token>` first, else the `access_token` query parameter."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = auth.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    for key, value in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=False):
        if key == TOKEN_QUERY_PARAM:
            return value
    return None


def redact_query(query: str) -> str:
    """The query string with the token's value hidden (for access logs)."""
    if TOKEN_QUERY_PARAM not in query:
        return query
    parts = []
    for part in query.split("&"):
        key, sep, _ = part.partition("=")
        parts.append(f"{key}{sep}***" if key == TOKEN_QUERY_PARAM and sep else part)
    return "&".join(parts)


def delivery_secret_ok(settings: Settings, presented: str | None) -> bool:
    if not presented:
        return False
    return hmac.compare_digest(presented.encode("utf-8", "replace"), settings.delivery_secret.encode())


class Handshake:
    def __init__(self, settings: Settings, *,
                 verify: Callable[[Settings, str | None], "Identity"] | None = None,
                 connections_of: Callable[[str], int] = lambda user_id: 0,
                 shutting_down: Callable[[], bool] = lambda: False,
                 supported: Iterable[str] = SUBPROTOCOL_PREFERENCE,
                 pending=None):
        from functions import tokens   # here, not at import: the worker has patched ssl by now

        self.settings = settings
        self.supported = tuple(name for name in SUBPROTOCOL_PREFERENCE if name in set(supported))
        self._verify = verify or tokens.verify
        self._token_error = tokens.TokenError
        self._connections_of = connections_of
        self._shutting_down = shutting_down
        self._pending = pending   # hub.PendingAuth, or None: a token is required at the handshake

    def evaluate(self, environ: Mapping[str, str]) -> Accept | Reject:
        s = self.settings
        path = canonical_target(environ)
        if path is None:
            return Reject("400 Bad Request", contracts.ERR_BAD_REQUEST, "malformed request path")
        if path != WS_PATH or listener_of(environ, s.edge_internal_port) is not Listener.PUBLIC:
            return Reject("404 Not Found", contracts.ERR_NOT_FOUND, "no WebSocket here")
        if self._shutting_down():
            return Reject("503 Service Unavailable", contracts.ERR_UNAVAILABLE,
                          "edge restarting, connect again", (("Retry-After", "1"),))
        if not origin_allowed(environ.get("HTTP_ORIGIN"), s.allowed_origins, s.allow_missing_origin):
            return Reject("403 Forbidden", contracts.ERR_FORBIDDEN, "origin not allowed")
        subprotocol, echo = choose_subprotocol(environ.get("HTTP_SEC_WEBSOCKET_PROTOCOL"), self.supported)
        if subprotocol is None:
            supported = ", ".join(self.supported)
            return Reject("400 Bad Request", contracts.ERR_BAD_REQUEST,
                          f"no supported subprotocol offered (supported: {supported})")
        token = extract_token(environ)
        if token is None and self._pending is not None:
            refusal = self._pending.refusal(environ.get("REMOTE_ADDR", ""))
            if refusal is not None:
                return Reject("429 Too Many Requests", contracts.ERR_RATE_LIMITED, refusal, (("Retry-After", "5"),))
            return Accept(None, subprotocol, echo)
        try:
            identity = self._verify(s, token)
        except self._token_error as exc:
            return Reject("401 Unauthorized", contracts.ERR_UNAUTHORIZED, str(exc),
                          (("WWW-Authenticate", 'Bearer realm="tidings"'),))
        if self._connections_of(identity.user_id) >= s.max_connections_per_user:
            return Reject("429 Too Many Requests", contracts.ERR_RATE_LIMITED,
                          "too many connections for this user", (("Retry-After", "5"),))
        return Accept(identity, subprotocol, echo)
