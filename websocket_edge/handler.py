"""`EdgeHandler`: gevent-websocket's handler, deciding every upgrade before the 101.

gevent-websocket 0.10.1 sends the 101 before the WSGI app runs, so the checks (Origin,
token, subprotocol; see handshake.py) happen here in `upgrade_websocket`. A refusal is a
plain HTTP response with a bytes JSON body, `Content-Length` and `Connection: close`; no
socket is ever opened for it. It also fixes what the library gets wrong before a socket
exists (str bodies that raise after the headers went out, a bad base64 key answered 500,
the "402 Bad Request" typo) and logs like gunicorn's `PyWSGIHandler`, with the token
removed from the logged URI.

The handshake policy comes from the WSGI application (`server.EdgeServer.handshake`), the
one object gunicorn gives the handler.
"""

from __future__ import annotations

import base64
import binascii
import logging

import orjson
from gunicorn.workers.ggevent import PyWSGIHandler
from geventwebsocket.handler import WebSocketHandler

from websocket_edge import handshake as hs
from websocket_edge.bounded import BoundedWebSocket, Transport

log = logging.getLogger("tidings.edge.handler")

SUPPORTED_VERSIONS = ("13",)


class EdgeHandler(WebSocketHandler, PyWSGIHandler):
    """WebSocketHandler first (upgrade), PyWSGIHandler for gunicorn's environ and access log."""

    ws_transport: Transport | None = None

    # --- logging ------------------------------------------------------------------------
    def log_request(self):
        environ = getattr(self, "environ", None)
        if environ is None or getattr(self.server, "log", None) is None or not hasattr(self.server.log, "access"):
            return
        safe = dict(environ)
        query = safe.get("QUERY_STRING") or ""
        if hs.TOKEN_QUERY_PARAM in query:
            safe["QUERY_STRING"] = hs.redact_query(query)
            raw = safe.get("RAW_URI") or ""
            path, sep, raw_query = raw.partition("?")
            safe["RAW_URI"] = path + sep + hs.redact_query(raw_query)
        safe.setdefault("RAW_URI", safe.get("PATH_INFO", ""))
        self.environ = safe
        try:
            PyWSGIHandler.log_request(self)
        except Exception:   # a log line must never break a connection
            log.debug("access log failed", exc_info=True)
        finally:
            self.environ = environ

    # --- refusing ----------------------------------------------------------------------
    def _refuse(self, status: str, code: str, message: str, headers=()):
        body = orjson.dumps({"code": code, "message": message})
        self.close_connection = True
        self.start_response(status, [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
            *headers,
        ])
        metrics = getattr(getattr(self.application, "metrics", None), "handshake_rejected", None)
        if metrics is not None:
            metrics.labels(status=status.split(" ", 1)[0]).inc()
        return [body]

    # --- upgrading ---------------------------------------------------------------------
    def upgrade_websocket(self):
        env = self.environ
        if env.get("REQUEST_METHOD", "") != "GET":
            return None
        if env.get("HTTP_UPGRADE", "").lower() != "websocket":
            return None
        if "upgrade" not in env.get("HTTP_CONNECTION", "").lower():
            return None
        if self.request_version != "HTTP/1.1":
            return self._refuse("400 Bad Request", "bad_request", "WebSocket needs HTTP/1.1")
        version = env.get("HTTP_SEC_WEBSOCKET_VERSION")
        if not version:
            return self._refuse("426 Upgrade Required", "bad_request", "Sec-WebSocket-Version missing",
                                (("Sec-WebSocket-Version", ", ".join(SUPPORTED_VERSIONS)),))
        if version.strip() not in SUPPORTED_VERSIONS:
            return self._refuse("400 Bad Request", "bad_request", f"unsupported WebSocket version {version!r}",
                                (("Sec-WebSocket-Version", ", ".join(SUPPORTED_VERSIONS)),))
        key = env.get("HTTP_SEC_WEBSOCKET_KEY", "").strip()
        try:
            key_ok = len(base64.b64decode(key, validate=True)) == 16
        except (binascii.Error, ValueError):
            key_ok = False
        if not key_ok:
            return self._refuse("400 Bad Request", "bad_request", "invalid Sec-WebSocket-Key")

        policy = getattr(self.application, "handshake", None)
        if policy is None:   # not our application: fail closed
            return self._refuse("500 Internal Server Error", "internal", "no handshake policy")
        decision = policy.evaluate(env)
        if isinstance(decision, hs.Reject):
            return self._refuse(decision.status, decision.code, decision.message, decision.headers)

        env[hs.ENV_IDENTITY] = decision.identity
        env[hs.ENV_SUBPROTOCOL] = decision.subprotocol
        env[hs.ENV_SUBPROTOCOL_ECHO] = decision.echo
        # The library's own subprotocol matching (substring, via app_protocol) is not used:
        # our start_response adds the chosen one to the 101.
        result = super().upgrade_websocket()
        websocket = getattr(self, "websocket", None)
        if websocket is not None:
            self.ws_transport = Transport(policy.settings.max_message_bytes, policy.settings.send_timeout_s)
            websocket.__class__ = BoundedWebSocket
        return result

    def start_response(self, status, headers, exc_info=None):
        if str(status).startswith("101"):
            echo = self.environ.get(hs.ENV_SUBPROTOCOL_ECHO)
            if echo:
                headers = [*headers, ("Sec-WebSocket-Protocol", echo)]
        return super().start_response(status, headers, exc_info)
