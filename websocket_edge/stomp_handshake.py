"""The STOMP handshake terms, pure: which WebSocket subprotocol to answer, which STOMP
version a CONNECT gets (within the subprotocol's) and the heart-beats both sides agree on.
A CONNECT that cannot be agreed to raises `stomp.StompError`.
"""

from __future__ import annotations

import re

from websocket_edge.stomp import StompError

SUPPORTED_VERSIONS = ("1.0", "1.1", "1.2")  # ascending
SUBPROTOCOLS = {"v10.stomp": "1.0", "v11.stomp": "1.1", "v12.stomp": "1.2"}

_HEARTBEAT_RE = re.compile(r"\s*([0-9]{1,10})\s*,\s*([0-9]{1,10})\s*")
_VERSION_RE = re.compile(r"[0-9]+\.[0-9]+")


def _tokens(offered: str | list[str] | tuple | None) -> list[str]:
    if isinstance(offered, (list, tuple)):
        offered = ",".join(offered)
    return [t.strip().lower() for t in (offered or "").split(",")]


def select_subprotocol(offered: str | list[str] | None) -> str | None:
    """Which Sec-WebSocket-Protocol to answer: the highest vXY.stomp offered, else "stomp"
    if offered, else None (answer none)."""
    tokens = _tokens(offered)
    best = max((t for t in tokens if t in SUBPROTOCOLS), key=SUBPROTOCOLS.get, default=None)
    return best or ("stomp" if "stomp" in tokens else None)


def negotiate_version(accept_version: str | None, offered_subprotocol: str | None = None) -> str:
    """The highest version the client accepts (no header means 1.0, as the spec says) and
    we support, restricted to the versions named by the WebSocket subprotocol(s), if any
    (e.g. "v12.stomp" or "v10.stomp, v11.stomp"; plain "stomp" restricts nothing)."""
    if accept_version is None:
        accepted = {"1.0"}
    else:
        accepted = {v.strip() for v in accept_version.split(",") if _VERSION_RE.fullmatch(v.strip())}
    candidates = accepted & set(SUPPORTED_VERSIONS)
    by_subprotocol = {SUBPROTOCOLS[t] for t in _tokens(offered_subprotocol) if t in SUBPROTOCOLS}
    if by_subprotocol:
        candidates &= by_subprotocol
    if not candidates:
        raise StompError("Supported protocol versions are " + " ".join(SUPPORTED_VERSIONS))
    return max(candidates, key=SUPPORTED_VERSIONS.index)


def negotiate_heartbeat(client_hb: str | None, server_cx: int, server_cy: int) -> tuple[int, int]:
    """(server_send_every_ms, server_expect_every_ms); 0 means none.

    `client_hb` is the CONNECT heart-beat header "cx,cy" (None means "0,0"); `server_cx`
    is how often the server can send, `server_cy` how often it wants to receive."""
    match = _HEARTBEAT_RE.fullmatch("0,0" if client_hb is None else client_hb)
    if not match:
        raise StompError(f"invalid heart-beat header {str(client_hb)[:40]!r} (expected 'cx,cy')")
    cx, cy = int(match.group(1)), int(match.group(2))
    send = max(server_cx, cy) if server_cx and cy else 0
    expect = max(cx, server_cy) if cx and server_cy else 0
    return send, expect
