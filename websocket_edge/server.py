"""`EdgeServer`: the WSGI application gunicorn runs. Sockets to sessions, the rest to falcon.

By the time a request gets here the handler has already decided the upgrade (handler.py):
an upgraded `/ws` request carries `wsgi.websocket` and becomes a `Session`. Every other
request is plain HTTP: a non-canonical path is refused (400) before any routing, then the
listener it arrived on (listeners.py, from the socket) picks the app: the public one
(health, the 426 for /ws) or the internal one (delivery API, metrics, health). The two
share no route table, so no spelling of a path reaches the delivery API from the public
port. The handler finds the upgrade policy as `EdgeServer.handshake`; the worker calls
`shutdown` on SIGTERM.
"""

from __future__ import annotations

import logging
import time

import gevent
import orjson

from functions import contracts
from functions.request_paths import canonical_target
from websocket_edge import bounded
from websocket_edge.deps import EdgeDeps
from websocket_edge.handshake import Handshake
from websocket_edge.listeners import Listener, listener_of
from websocket_edge.session import Session

log = logging.getLogger("tidings.edge.server")


class EdgeServer:
    def __init__(self, public_api, internal_api, deps: EdgeDeps, handshake: Handshake):
        self.public_api = public_api
        self.internal_api = internal_api
        self.deps = deps
        self.handshake = handshake
        self.metrics = deps.metrics

    def __call__(self, environ, start_response):
        ws = environ.get("wsgi.websocket")
        if ws is not None:
            Session(ws, environ, self.deps).run()
            return []
        if canonical_target(environ) is None:
            body = orjson.dumps({"code": contracts.ERR_BAD_REQUEST, "message": "malformed request path"})
            start_response("400 Bad Request", [("Content-Type", "application/json"),
                                               ("Content-Length", str(len(body)))])
            return [body]
        if listener_of(environ, self.deps.settings.edge_internal_port) is Listener.INTERNAL:
            return self.internal_api(environ, start_response)
        return self.public_api(environ, start_response)

    def shutdown(self, budget_s: float) -> None:
        """Refuse upgrades and sends, let every accepted message get its ack or error, close
        every socket with 1012, let sessions unregister, flush their presence records."""
        d = self.deps
        deadline = time.monotonic() + budget_s
        d.state.shutting_down = True
        d.state.accepting_sends = False
        if d.admission is not None:   # sends held by backpressure are answered now, not dropped
            d.admission.release_all()
            gevent.sleep(0)
        log.info("shutting down: %d connections, %d records in flight", len(d.hub),
                 getattr(d.producer, "pending", 0))
        d.producer.drain(time.monotonic() + budget_s / 2)
        for session in d.hub.sessions() + d.pending.sessions():
            session.close(bounded.CLOSE_RESTART, "service restart")
        while len(d.hub) and time.monotonic() < deadline - 1.0:
            gevent.sleep(0.05)
        d.producer.close(deadline)
        log.info("shutdown done: %d connections left", len(d.hub))
