"""`EdgeWorker`: gunicorn's gevent WebSocket worker with our handler and a graceful SIGTERM.

    gunicorn -k websocket_edge.worker.EdgeWorker -w 1 \
        --bind 127.0.0.1:8001 --bind 127.0.0.1:8101 --no-control-socket \
        'websocket_edge.app:get_app()'

On SIGTERM gunicorn stops accepting and waits `--graceful-timeout` for open requests; open
WebSockets would simply be killed at its end. So on SIGTERM the worker also starts the
application's own shutdown (`EdgeServer.shutdown`: refuse new upgrades, drain the producer so
every accepted message is acked or errored, close the sockets with 1012, unregister) and, when
gunicorn's loop returns, waits for it to finish its last flush.
"""

from __future__ import annotations

import gevent
from geventwebsocket.gunicorn.workers import GeventWebSocketWorker

from websocket_edge.handler import EdgeHandler

# Keep this much of gunicorn's graceful timeout for the last steps (unregister, final flush).
_MARGIN_S = 2.0


class EdgeWorker(GeventWebSocketWorker):
    wsgi_handler = EdgeHandler
    _shutdown = None

    def handle_exit(self, sig, frame):
        super().handle_exit(sig, frame)
        if self._shutdown is None:
            # A signal handler must not block: the shutdown runs in its own greenlet.
            self._shutdown = gevent.spawn(self._graceful)

    def _graceful(self):
        shutdown = getattr(self.wsgi, "shutdown", None)
        if shutdown is None:
            return
        budget = max(1.0, float(self.cfg.graceful_timeout) - _MARGIN_S)
        try:
            shutdown(budget)
        except Exception:
            self.log.exception("edge shutdown failed")

    def run(self):
        try:
            super().run()
        finally:
            if self._shutdown is not None:
                self._shutdown.join(timeout=_MARGIN_S + 1.0)
