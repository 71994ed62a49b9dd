"""Helpers of the security tests: raw HTTP (HTTP libraries tidy `//` and `/./` away before
sending, an attacker does not), the odd spellings of a path, and the edge's route tables."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class User:
    id: str
    role: str
    token: str


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def raw_http(port: int, method: str, target: str, headers: dict[str, str] | None = None,
             body: bytes = b"", timeout: float = 10.0) -> Reply:
    """One HTTP/1.1 request with `target` sent byte for byte as given."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
             f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        while chunk := sock.recv(65536):
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    return Reply(int(status_line.split(" ")[1]), parsed, payload)


def variants(path: str) -> list[str]:
    """Non-canonical spellings of `path` that some router or prefix check might still take."""
    p = path.lstrip("/")
    first, _, rest = p.partition("/")
    out = [f"//{p}", f"///{p}", f"/./{p}", f"/{p}/", f"/{p}/.", f"/x/../{p}", f"/{p}/..",
            f"/%2e/{p}", f"/%2E%2e/{p}", f"/%2F{p}", "/" + p.replace("/", "%2F"), "/" + p.replace("/", "%2f"),
            f"/{first}%2F{rest}" if rest else f"/{first}%2F", f"/{p}%00", f"/%00/{p}", f"/{p}%0a",
            f"/{p}%5C", f"/{p}\\", f"/{quote(first, safe='')}//{rest}"]
    return list(dict.fromkeys(v for v in out if v != "/" + p))


def edge_routes() -> tuple[list[str], list[str]]:
    """Every route template of the edge's public and internal apps, read from falcon's router
    (a route added later is walked too)."""
    from functions.settings import Settings
    from websocket_edge.app import internal_api, public_api
    from websocket_edge.deps import EdgeDeps

    deps = EdgeDeps(settings=Settings(), producer=None, connections=None, rooms=None, messages=None)

    def walk(nodes):
        for node in nodes:
            if node.resource is not None:
                yield node.uri_template
            yield from walk(node.children)

    return list(walk(public_api(deps)._router._roots)), list(walk(internal_api(deps)._router._roots))
