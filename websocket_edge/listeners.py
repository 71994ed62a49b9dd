"""Which listener a request arrived on: the public one (clients) or the internal one.

The answer comes from the accepted socket's own local port (gunicorn puts the socket in
`environ["gunicorn.sock"]`), never from a header or a path, so nothing a client sends can
move a request from one listener to the other. A WSGI caller without a socket (falcon's
test client) is judged by SERVER_PORT, which its server sets from its own binding.
"""

from __future__ import annotations

import enum
from typing import Mapping


class Listener(enum.Enum):
    PUBLIC = "public"       # /ws and /healthz, nothing else
    INTERNAL = "internal"   # the delivery API, /metrics, /healthz


def local_port(environ: Mapping) -> int | None:
    sock = environ.get("gunicorn.sock")
    if sock is not None:
        try:
            address = sock.getsockname()
        except OSError:
            return None
        return address[1] if isinstance(address, tuple) and len(address) >= 2 else None
    port = str(environ.get("SERVER_PORT") or "")
    return int(port) if port.isdigit() else None


def listener_of(environ: Mapping, internal_port: int) -> Listener:
    """INTERNAL only for the internal port; anything else, or unknown, is PUBLIC (fails closed)."""
    return Listener.INTERNAL if local_port(environ) == internal_port else Listener.PUBLIC
