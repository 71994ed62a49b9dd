"""Prometheus metrics of one edge worker, on a registry of its own (served at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class EdgeMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.connections = Gauge("tidings_edge_connections", "Open WebSocket connections", ["protocol"], registry=r)
        self.connections_total = Counter("tidings_edge_connections_opened", "WebSocket connections opened",
                                         ["protocol"], registry=r)
        self.closes = Counter("tidings_edge_closes", "WebSocket connections closed, by close code",
                              ["code"], registry=r)
        self.handshake_rejected = Counter("tidings_edge_handshake_rejected",
                                          "Upgrades refused before the 101, by HTTP status", ["status"], registry=r)
        self.frames_in = Counter("tidings_edge_frames_in", "Client messages received", ["protocol"], registry=r)
        self.frames_out = Counter("tidings_edge_frames_out", "Frames sent to clients", ["protocol"], registry=r)
        self.errors = Counter("tidings_edge_errors", "Error frames sent to clients, by code", ["code"], registry=r)
        self.produced = Counter("tidings_edge_produced", "Records produced, by record type and outcome",
                                ["type", "outcome"], registry=r)
        self._produced_children: dict[tuple[str, str], object] = {}
        self.produce_latency = Histogram(
            "tidings_edge_produce_seconds", "Produce to delivery report", registry=r,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
        self.producer_queue = Gauge("tidings_edge_producer_queue", "Records waiting for a delivery report",
                                    registry=r)
        self.deliveries = Counter("tidings_edge_deliveries", "Delivery API results per connection",
                                  ["result"], registry=r)
        self.slow_consumers = Counter("tidings_edge_slow_consumers", "Connections closed 1013 for a full queue",
                                      registry=r)
        self.delivery_latency = Histogram(
            "tidings_edge_delivery_latency_seconds", "A message's sentAt (taken by an edge) to its delivery "
            "reaching this edge: Kafka, the worker, the store and the fan-out", registry=r,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0))
        self.gap_fills = Counter("tidings_edge_gap_fills", "Live seq jumps filled from the store", registry=r)
        self.rechecks_filled = Counter("tidings_edge_rechecks_filled",
                                       "New subscriptions whose re-read found messages that had not come live",
                                       registry=r)
        self.pipeline_lag = Gauge("tidings_edge_pipeline_lag", "Records in Kafka the chat worker has not handled",
                                  registry=r)
        self.pipeline_drain = Gauge("tidings_edge_pipeline_drain_per_second",
                                    "Records the chat worker handles per second", registry=r)
        self.admission_rate = Gauge("tidings_edge_admission_rate",
                                    "Sends a second this edge admits under backpressure (0: no limit)", registry=r)
        self.send_hold = Histogram(
            "tidings_edge_send_hold_seconds", "How long a send waited for admission (backpressure)", registry=r,
            buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))

    def produced_of(self, kind: str, outcome: str):
        """The `produced` child of (type, outcome), looked up once: `labels()` on every record
        was a visible share of the edge's CPU."""
        child = self._produced_children.get((kind, outcome))
        if child is None:
            child = self._produced_children[(kind, outcome)] = self.produced.labels(type=kind, outcome=outcome)
        return child
