"""`EdgeServer`: the WSGI application gunicorn runs. Sockets to sessions, the rest to falcon.

By the time a request gets here the handler has already decided the upgrade (handler.py):
an upgraded `/ws` request carries `wsgi.websocket` and becomes a `Session`; every other
request is plain HTTP for the falcon app (health, metrics, delivery API). The handler finds
the upgrade policy as `EdgeServer.handshake`, and the worker calls `shutdown` on SIGTERM.
"""

from __future__ import annotations

import logging
import time

import gevent

from websocket_edge import bounded
from websocket_edge.deps import EdgeDeps
from websocket_edge.handshake import Handshake
from websocket_edge.session import Session

log = logging.getLogger("tidings.edge.server")


class EdgeServer:
    def __init__(self, api, deps: EdgeDeps, handshake: Handshake):
        self.api = api
        self.deps = deps
        self.handshake = handshake
        self.metrics = deps.metrics

    def __call__(self, environ, start_response):
        ws = environ.get("wsgi.websocket")
        if ws is not None:
            Session(ws, environ, self.deps).run()
            return []
        return self.api(environ, start_response)

    def shutdown(self, budget_s: float) -> None:
        """Refuse upgrades and sends, let every accepted message get its ack or error, close
        every socket with 1012, let sessions unregister, flush their presence records."""
        d = self.deps
        deadline = time.monotonic() + budget_s
        d.state.shutting_down = True
        d.state.accepting_sends = False
        log.info("shutting down: %d connections, %d records in flight", len(d.hub),
                 getattr(d.producer, "pending", 0))
        d.producer.drain(time.monotonic() + budget_s / 2)
        for session in d.hub.sessions():
            session.close(bounded.CLOSE_RESTART, "service restart")
        while len(d.hub) and time.monotonic() < deadline - 1.0:
            gevent.sleep(0.05)
        d.producer.close(deadline)
        log.info("shutdown done: %d connections left", len(d.hub))
