"""Helpers for the edge tests: a real gunicorn edge process, real WebSocket clients, raw sockets.

`EdgeProcess(settings)` runs exactly what production runs
(`gunicorn -k websocket_edge.worker.EdgeWorker ... 'websocket_edge.app:get_app()'`) on free
public/internal ports with the settings in its environment, and stops it with SIGTERM.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import struct
import subprocess
import time
import uuid
from pathlib import Path

import orjson
import requests
import websocket

from functions import contracts, tokens
from functions.settings import Settings
from local.stack.components import edge_argv, edge_settings
from local.stack.process import free_port

REPO = Path(__file__).resolve().parents[2]
APP_ORIGIN = "https://app.example"   # the allowed Origin of the test edges


def uid(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class EdgeProcess:
    def __init__(self, settings: Settings, log_dir: Path, *, graceful_timeout: int = 15, **changes):
        self.public_port = free_port()
        self.internal_port = free_port()
        self.settings = edge_settings(settings, f"edge-{self.public_port}", self.internal_port, **changes)
        self.log_path = Path(log_dir) / f"edge-{self.public_port}.log"
        self.graceful_timeout = graceful_timeout
        self.proc: subprocess.Popen | None = None

    # --- process ----------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> "EdgeProcess":
        env = dict(os.environ)
        env.update(self.settings.to_env())
        env["PYTHONUNBUFFERED"] = "1"
        argv = edge_argv(self.public_port, self.internal_port, graceful_timeout=self.graceful_timeout,
                         extra=("--access-logfile", "-"))
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"edge exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(f"{self.public_url}/healthz", timeout=0.5).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"edge not healthy in {timeout}s:\n{self.log()}")

    def terminate(self) -> None:
        """SIGTERM to gunicorn's master (a graceful shutdown)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(self.graceful_timeout + 10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""

    # --- addresses ----------------------------------------------------------------------------
    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.public_port}"

    @property
    def internal_url(self) -> str:
        return f"http://127.0.0.1:{self.internal_port}"

    def ws_url(self, token: str | None = None) -> str:
        url = f"ws://127.0.0.1:{self.public_port}/ws"
        return f"{url}?access_token={token}" if token else url

    def token(self, user_id: str, role: str = "customer", ttl_s: int = 600) -> str:
        return tokens.mint(self.settings, user_id, role, ttl_s=ttl_s)

    def connect(self, user_id: str | None = None, *, token: str | None = None, timeout: float = 10.0,
                **kwargs) -> websocket.WebSocket:
        token = token or self.token(user_id or uid("user"))
        kwargs.setdefault("origin", APP_ORIGIN)
        return websocket.create_connection(self.ws_url(token), timeout=timeout, **kwargs)

    # --- delivery API -------------------------------------------------------------------------
    def delivery(self, method: str, path: str = "", *, secret: bool = True, port: str = "internal",
                 **kwargs) -> requests.Response:
        base = self.internal_url if port == "internal" else self.public_url
        headers = kwargs.pop("headers", {})
        if secret:
            headers[contracts.DELIVERY_SECRET_HEADER] = self.settings.delivery_secret
        return requests.request(method, f"{base}{contracts.DELIVERY_PATH}{path}", headers=headers,
                                timeout=10, **kwargs)


# --- raw HTTP (to see exactly what comes before any 101) -------------------------------------

def raw_upgrade(port: int, *, path: str = "/ws", headers: dict[str, str] | None = None,
                key: str | None = None, version: str | None = "13", http: str = "HTTP/1.1",
                timeout: float = 5.0) -> tuple[int, dict[str, str], bytes, bool]:
    """Send an upgrade request by hand; (status, headers, body, server closed the socket)."""
    lines = [f"GET {path} {http}", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key if key is not None else base64.b64encode(os.urandom(16)).decode()}"]
    if version is not None:
        lines.append(f"Sec-WebSocket-Version: {version}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        closed = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                closed = True
                break
            data += chunk
            if data.startswith(b"HTTP/1.1 101"):
                break
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ")[1])
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    return status, parsed, body, closed


# --- reading from a websocket-client socket -----------------------------------------------------

def recv_json(ws: websocket.WebSocket, timeout: float = 10.0) -> dict:
    ws.settimeout(timeout)
    while True:
        opcode, data = ws.recv_data(control_frame=False)
        if opcode == websocket.ABNF.OPCODE_TEXT:
            return orjson.loads(data)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise AssertionError(f"closed while waiting for a frame: {close_code(data)}")


def recv_until(ws: websocket.WebSocket, predicate, timeout: float = 10.0) -> tuple[dict, list[dict]]:
    """Read JSON frames until one matches; (match, frames skipped before it)."""
    skipped = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no matching frame in {timeout}s; saw {skipped}")
        frame = recv_json(ws, left)
        if predicate(frame):
            return frame, skipped
        skipped.append(frame)


def close_code(payload: bytes) -> tuple[int | None, str]:
    if len(payload) < 2:
        return None, ""
    return struct.unpack("!H", payload[:2])[0], payload[2:].decode("utf-8", "replace")


def read_until_close(ws: websocket.WebSocket, timeout: float = 10.0) -> tuple[list, int | None, str]:
    """Every data frame until the server's close frame: (frames, close code, reason)."""
    frames = []
    ws.settimeout(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            frame = ws.recv_frame()
        except websocket.WebSocketConnectionClosedException:
            return frames, None, "connection dropped"
        except (ConnectionResetError, BrokenPipeError):
            return frames, None, "connection reset"
        if frame.opcode == websocket.ABNF.OPCODE_CLOSE:
            code, reason = close_code(frame.data)
            try:
                ws.send_close()
            except Exception:
                pass
            return frames, code, reason
        if frame.opcode == websocket.ABNF.OPCODE_TEXT:
            frames.append(orjson.loads(frame.data))
        elif frame.opcode == websocket.ABNF.OPCODE_BINARY:
            frames.append(frame.data)
    raise AssertionError(f"no close frame in {timeout}s; frames: {frames}")
