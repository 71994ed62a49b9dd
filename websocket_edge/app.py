"""The edge application: `create_app(deps)` wires it, `get_app()` builds it from the environment.

    gunicorn -k websocket_edge.worker.EdgeWorker -w 1 \
        --bind 127.0.0.1:8001 --bind 127.0.0.1:8101 --no-control-socket \
        'websocket_edge.app:get_app()'

Two falcon apps, one per listener (listeners.py decides which from the socket itself):
- public (clients): `/ws` (426 without an upgrade) and `/healthz`. Nothing else exists there.
- internal (the functions only): the delivery API `/@connections`, `/@connections/{id}`
  (behind the delivery secret), `/metrics`, `/healthz`.
The upgrade of /ws is decided by the handler before falcon (handler.py, server.py).
Do not use gunicorn's --preload: the producer's poller greenlet must start in the worker.
"""

from __future__ import annotations

import logging
import sys

import falcon
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from functions import contracts
from functions.settings import Settings
from websocket_edge.connections_api import BatchResource, ConnectionResource, DeliverySecret
from websocket_edge.deps import EdgeDeps
from websocket_edge.handshake import WS_PATH, Handshake
from websocket_edge.server import EdgeServer


class Health:
    def __init__(self, deps: EdgeDeps):
        self.deps = deps

    def on_get(self, req, resp):
        d = self.deps
        state = "shutting_down" if d.state.shutting_down else "ok"
        resp.status = falcon.HTTP_503 if d.state.shutting_down else falcon.HTTP_200
        resp.media = {"status": state, "edgeId": d.settings.edge_id, "connections": len(d.hub),
                      "producerPending": getattr(d.producer, "pending", None),
                      "kafkaLastError": getattr(d.producer, "last_error", None)}


class Metrics:
    def __init__(self, registry):
        self.registry = registry

    def on_get(self, req, resp):
        resp.content_type = CONTENT_TYPE_LATEST
        resp.data = generate_latest(self.registry)


class UpgradeRequired:
    def on_get(self, req, resp):
        resp.status = falcon.HTTP_426
        resp.set_header("Upgrade", "websocket")
        resp.media = {"code": contracts.ERR_BAD_REQUEST, "message": "WebSocket upgrade required"}


def public_api(deps: EdgeDeps) -> falcon.App:
    """What clients reach: the WebSocket path and the health check."""
    api = falcon.App()
    api.add_route("/healthz", Health(deps))
    api.add_route(WS_PATH, UpgradeRequired())
    return api


def internal_api(deps: EdgeDeps) -> falcon.App:
    """What only the functions reach: the delivery API (secret checked per resource), metrics."""
    api = falcon.App(middleware=[DeliverySecret(deps.settings)])
    api.add_route("/healthz", Health(deps))
    api.add_route("/metrics", Metrics(deps.metrics.registry))
    api.add_route(contracts.DELIVERY_PATH, BatchResource(deps.hub, deps.metrics))
    api.add_route(contracts.DELIVERY_PATH + "/{connection_id}", ConnectionResource(deps.hub, deps.metrics))
    return api


def create_app(deps: EdgeDeps) -> EdgeServer:
    handshake = Handshake(deps.settings, connections_of=deps.hub.connections_of,
                          shutting_down=lambda: deps.state.shutting_down,
                          supported=tuple(deps.protocols), pending=deps.pending)
    return EdgeServer(public_api(deps), internal_api(deps), deps, handshake)


def _configure_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        for noisy in ("botocore", "boto3", "urllib3"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def get_app() -> EdgeServer:
    """Everything from the environment (functions.settings): what gunicorn loads."""
    from functions.connections import Connections
    from functions.rooms import Rooms
    from functions.history import Messages
    from websocket_edge.admission import Admission
    from websocket_edge.metrics import EdgeMetrics
    from websocket_edge.pipeline_lag import PipelineLag
    from websocket_edge.producer import Producer

    _configure_logging()
    settings = Settings.from_env()
    settings.require_deployable_secrets("the edge")
    metrics = EdgeMetrics()
    producer = Producer(settings, metrics=metrics).start()
    deps = EdgeDeps(settings=settings, producer=producer, connections=Connections(settings),
                    rooms=Rooms(settings), messages=Messages(settings), metrics=metrics)
    if settings.backpressure_delay_s > 0:
        deps.admission = Admission(settings, on_window=lambda window: _announce_window(deps, window))
        lag = PipelineLag(settings)
        lag.subscribe(deps.admission.on_reading)
        lag.subscribe(lambda reading: _observe_lag(deps, reading))
        lag.start()
    return create_app(deps)


def _announce_window(deps: EdgeDeps, window: int) -> None:
    for session in deps.hub.sessions():
        session.flow(window)


def _observe_lag(deps: EdgeDeps, reading) -> None:
    m = deps.metrics
    m.pipeline_lag.set(reading.lag)
    m.pipeline_drain.set(reading.drain_per_s)
    m.admission_rate.set(deps.admission.rate or 0)
