"""What a session and the edge's resources are built from: settings and collaborators.

`app.get_app()` builds the real ones (Kafka producer, DynamoDB tables) and is the only
place that names them; everything else, tests' fakes included, sees the typed ports of
ports.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

from functions.settings import Settings
from websocket_edge.admission import Admission
from websocket_edge.hub import Hub, PendingAuth
from websocket_edge.json_protocol import JsonProtocol
from websocket_edge.metrics import EdgeMetrics
from websocket_edge.ports import History, Membership, Producer, Subscriptions
from websocket_edge.stomp_protocol import stomp_protocols


def default_protocols() -> dict[str, Callable]:
    """Subprotocol name → protocol factory `(identity, settings) -> Protocol`."""
    return {JsonProtocol.name: JsonProtocol, **stomp_protocols()}


@dataclass
class EdgeState:
    shutting_down: bool = False     # refuse upgrades (503), /healthz says 503
    accepting_sends: bool = True    # False while draining: sends answered `unavailable`


@dataclass
class EdgeDeps:
    settings: Settings
    producer: Producer
    connections: Subscriptions
    rooms: Membership
    messages: History
    hub: Hub = field(default_factory=Hub)
    metrics: EdgeMetrics = field(default_factory=EdgeMetrics)
    protocols: Mapping[str, Callable] = field(default_factory=default_protocols)
    clock: Callable[[], float] = time.time
    state: EdgeState = field(default_factory=EdgeState)
    pending: PendingAuth | None = None   # sockets without a token yet; made from settings
    admission: Admission | None = None   # None: no backpressure

    def __post_init__(self) -> None:
        if self.pending is None:
            self.pending = PendingAuth(self.settings.max_unauthenticated_per_address,
                                       self.settings.max_unauthenticated)
