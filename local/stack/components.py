"""The components of the local stack: THE place to add one.

A component is a ``ComponentSpec(name, ports, build)``:
- ``ports``: label -> default port (the first is the main one). Tests get free ports
  instead; users override with TIDINGS_PORT_<NAME>[_<LABEL>] (see README).
- ``build(stack) -> Component``: argv, env extras, readiness, hooks. It reads
  ``stack.settings`` (a ``functions.settings.Settings`` already pointing at the stack's
  broker and store), ``stack.port(name, label)``, ``stack.layout`` (home/data/logs/run).
  Every process gets ``os.environ + stack.settings.to_env() + component.env``.

Start order is the order of COMPONENTS, adjusted for ``depends_on``. Adding an edge, for
instance, is a builder and one line in COMPONENTS:

    def edge(name):
        def build(stack):
            public, internal = stack.port(name, "public"), stack.port(name, "internal")
            s = dataclasses.replace(stack.settings, edge_id=name, edge_internal_port=internal,
                                    edge_delivery_url=f"http://127.0.0.1:{internal}")
            return Component(name, argv=[sys.executable, "-m", "gunicorn", ...],
                             ports={"public": public, "internal": internal}, env=s.to_env(),
                             ready_url=f"http://127.0.0.1:{public}/healthz",
                             depends_on=("kafka", "dynalite"))
        return build

    ComponentSpec("edge-a", {"public": 8001, "internal": 8101}, edge("edge-a")),
"""

from __future__ import annotations

import dataclasses
import sys

from functions.settings import Settings
from local.stack import dynalite, kafka, kafka_cluster, push_keys, s3rver, tables_setup
from local.stack.model import Component, ComponentSpec, StackView


def stack_settings(base: Settings, stack: StackView) -> Settings:
    """The settings every process of the stack uses: base settings aimed at the stack."""
    changes: dict = {"local_mode": True}
    if "kafka" in stack.ports:
        changes["kafka_bootstrap"] = kafka_cluster.bootstrap(stack)
        changes["kafka_security"] = "plaintext"
        changes["brokers"] = len(kafka_cluster.node_names(stack))
    if "dynalite" in stack.ports:
        changes["dynamodb_endpoint"] = f"http://127.0.0.1:{stack.port('dynalite')}"
    if "push-gateway" in stack.ports:
        changes.update(push_settings(stack))
    if "s3" in stack.ports:
        changes["s3_endpoint"] = f"http://127.0.0.1:{stack.port('s3')}"
    return dataclasses.replace(base, **changes)


# --- push notifications (issue 15): the local push gateway and the notifier ----------------

def push_settings(stack: StackView) -> dict:
    """Every push service at the local gateway, with keys made in the stack's home."""
    url = f"http://127.0.0.1:{stack.port('push-gateway')}"
    try:
        keys = push_keys.ensure(stack.layout.home / "push")
    except OSError:  # an unusable home: Stack.check() says so before anything starts
        return {}
    return {"push_fcm_url": url, "push_fcm_token_url": f"{url}/token", "push_apns_url": url,
            "push_webpush_hosts": (url.split("://", 1)[1],), "push_credentials": f"file:{keys['credentials']}",
            "push_vapid_public_key": keys["vapidPublicKey"]}


def push_gateway_component(stack: StackView) -> Component:
    port = stack.port("push-gateway")
    directory = stack.layout.home / "push"
    return Component(
        name="push-gateway",
        argv=[sys.executable, "-m", "local.emulators.push_gateway", "--port", str(port),
              "--config", str(directory / "gateway.json"), "--state", str(directory)],
        ports={"http": port},
        env={"PYTHONUNBUFFERED": "1"},
        ready_url=f"http://127.0.0.1:{port}/healthz",
        ready_timeout=30.0,
        prepare=lambda: push_keys.ensure(directory),
        stop_timeout=10.0,
        endpoints={"fcm": f"http://127.0.0.1:{port}/v1", "apns": f"http://127.0.0.1:{port}/3/device",
                   "webpush": f"http://127.0.0.1:{port}/wp", "log": f"http://127.0.0.1:{port}/_log"},
        description="local push gateway: FCM HTTP v1, APNs (HTTP/2), Web Push; checks and records each push",
    )


def notifier_component(stack: StackView) -> Component:
    """A second event source mapping on the chat topic, in its own consumer group, calling
    functions.push.notifier.handler. It waits out a push outage without limit (its batches
    are retried, never dead-lettered) and does not depend on the gateway being up."""
    return _esm_component(
        stack, "notifier", "functions.push.notifier.handler",
        "event source mapping (own consumer group): chat topic -> functions.push.notifier.handler",
        # Pushes are not latency-critical to the millisecond: batches of up to 1 s (and 500
        # records) cost the shared store a read per room and batch, not per message.
        env={"TIDINGS_CONSUMER_GROUP": stack.settings.push_consumer_group, "TIDINGS_MAX_RETRY_ATTEMPTS": "-1",
             "TIDINGS_BATCH_SIZE": "500", "TIDINGS_BATCH_WINDOW_MS": "1000"},
    )


def dynalite_component(stack: StackView) -> Component:
    port = stack.port("dynalite")
    settings = stack.settings
    endpoint = f"http://127.0.0.1:{port}"
    return Component(
        name="dynalite",
        argv=lambda: dynalite.argv(port=port, home_data=stack.layout.data),
        env=dynalite.env(),
        ports={"http": port},
        ready=lambda: dynalite.ready(endpoint, settings.aws_region),
        ready_timeout=60.0,
        install=dynalite.install,
        prepare=lambda: dynalite.data_dir(stack.layout.data).mkdir(parents=True, exist_ok=True),
        after_ready=lambda: tables_setup.ensure_tables(settings),
        stop_timeout=10.0,
        endpoints={"dynamodb": endpoint},
        description=f"dynalite {dynalite.DYNALITE_VERSION} (DynamoDB API), data in data/dynalite",
    )


# --- photo attachments (issue 16): the local S3 and its notifications to the check -----------

def s3_component(stack: StackView) -> Component:
    """s3rver with the attachments bucket; ObjectCreated of rooms/ keys go to attachment-check."""
    port = stack.port("s3")
    settings = stack.settings
    endpoint = f"http://127.0.0.1:{port}"
    notify = (f"http://127.0.0.1:{stack.port('attachment-check')}/invoke"
              if "attachment-check" in stack.ports else None)
    return Component(
        name="s3",
        argv=lambda: s3rver.argv(port=port, home_data=stack.layout.data, bucket=settings.attachments_bucket,
                                 notify_url=notify, notify_prefix="rooms/"),
        ports={"http": port},
        env=s3rver.env(),
        ready=lambda: s3rver.ready(endpoint, settings.attachments_bucket),
        ready_timeout=60.0,
        install=s3rver.install,
        prepare=lambda: s3rver.prepare(stack.layout.data),
        stop_timeout=10.0,
        endpoints={"s3": endpoint},
        description=f"s3rver {s3rver.S3RVER_VERSION} (S3 API; presigned SigV4 checked), bucket "
                    f"{settings.attachments_bucket}, data in data/s3rver",
    )


def attachment_check_component(stack: StackView) -> Component:
    """S3 event notifications -> functions.attachment_check.handler (local/emulators/s3_events.py)."""
    port = stack.port("attachment-check")
    return Component(
        name="attachment-check",
        argv=[sys.executable, "-m", "local.emulators.s3_events", "--port", str(port),
              "--handler", "functions.attachment_check.handler"],
        ports={"http": port},
        env={"PYTHONUNBUFFERED": "1"},
        ready_url=f"http://127.0.0.1:{port}/healthz",
        ready_timeout=60.0,
        depends_on=("dynalite",),
        stop_timeout=10.0,
        endpoints={"invoke": f"http://127.0.0.1:{port}/invoke"},
        description="S3 ObjectCreated notifications (rooms/) -> functions.attachment_check.handler",
    )


def edge_settings(base: Settings, edge_id: str, internal: int, **changes) -> Settings:
    """An edge's settings: its id, and the internal port the worker reaches it on."""
    return dataclasses.replace(base, edge_id=edge_id, edge_internal_port=internal,
                               edge_delivery_url=f"http://127.0.0.1:{internal}", **changes)


def edge_argv(public: int, internal: int, *, graceful_timeout: float = 20, extra: tuple[str, ...] = ()) -> list[str]:
    """gunicorn with one gevent-websocket worker bound to the public and the internal port."""
    return [sys.executable, "-m", "gunicorn", "-k", "websocket_edge.worker.EdgeWorker", "-w", "1",
            "--bind", f"127.0.0.1:{public}", "--bind", f"127.0.0.1:{internal}",
            # each open WebSocket holds one slot: room for 10,000 connections per edge
            "--worker-connections", "12000", "--graceful-timeout", str(graceful_timeout), "--timeout", "60",
            "--no-control-socket", *extra, "websocket_edge.app:get_app()"]


def edge_component(name: str):
    """A WebSocket edge: gunicorn with one gevent-websocket worker, a public and an internal port."""

    def build(stack: StackView) -> Component:
        public, internal = stack.port(name, "public"), stack.port(name, "internal")
        settings = edge_settings(stack.settings, name, internal)
        return Component(
            name=name,
            argv=edge_argv(public, internal),
            ports={"public": public, "internal": internal},
            env={**settings.to_env(), "PYTHONUNBUFFERED": "1"},
            ready_url=f"http://127.0.0.1:{public}/healthz",
            ready_timeout=60.0,
            depends_on=("kafka", "dynalite"),
            stop_timeout=30.0,
            endpoints={"websocket": f"ws://127.0.0.1:{public}/ws", "delivery": f"http://127.0.0.1:{internal}"},
            description="WebSocket edge (JSON and STOMP 1.2 on /ws; delivery API on the internal port)",
        )

    return build


def esm_component(stack: StackView) -> Component:
    """The local event source mapping feeding functions.chat_worker.handler."""
    return _esm_component(stack, "esm", "functions.chat_worker.handler",
                          "event source mapping: chat topic -> functions.chat_worker.handler")


def _esm_component(stack: StackView, name: str, handler: str, description: str,
                   env: dict[str, str] | None = None) -> Component:
    """A local.emulators.esm process (Kafka -> `handler`), ready once its metrics answer."""
    metrics = stack.port(name)
    return Component(
        name=name,
        argv=[sys.executable, "-m", "local.emulators.esm", "--handler", handler, "--metrics-port", str(metrics)],
        ports={"metrics": metrics},
        env={"PYTHONUNBUFFERED": "1", **(env or {})},
        ready_url=f"http://127.0.0.1:{metrics}/metrics",
        ready_timeout=60.0,
        depends_on=("kafka", "dynalite"),
        stop_timeout=30.0,
        endpoints={"metrics": f"http://127.0.0.1:{metrics}/metrics"},
        description=description,
    )


def _vendor_web_client() -> None:
    """The web client's STOMP library (@stomp/stompjs from npm) into local/web/vendor/."""
    from local.stack import browser

    browser.vendor_stompjs()


def gateway_component(stack: StackView) -> Component:
    """The local HTTP API gateway (payload 2.0 events for functions.http.api) + the web client."""
    port = stack.port("gateway")
    edges = tuple(f"ws://127.0.0.1:{stack.port(spec.name, 'public')}/ws" for spec in COMPONENTS
                  if spec.name.startswith("edge-") and spec.name in stack.ports)
    return Component(
        name="gateway",
        argv=[sys.executable, "-m", "local.emulators.gateway", "--port", str(port)],
        ports={"http": port},
        env={**dataclasses.replace(stack.settings, web_edges=edges).to_env(), "PYTHONUNBUFFERED": "1"},
        ready_url=f"http://127.0.0.1:{port}/healthz",
        ready_timeout=60.0,
        depends_on=("kafka", "dynalite"),   # edits, deletes, reactions are produced to Kafka
        install=_vendor_web_client,
        stop_timeout=15.0,
        endpoints={"web client": f"http://127.0.0.1:{port}/", "api": f"http://127.0.0.1:{port}/api"},
        description="HTTP API gateway (/api, JWT authorizer) and the web client (/)",
    )


COMPONENTS: list[ComponentSpec] = [
    ComponentSpec("dynalite", {"http": 8000}, dynalite_component),
    *kafka_cluster.node_specs(1),   # `kafka`, one broker (ports 9092 client, 9093 controller)
    ComponentSpec("esm", {"metrics": 9400}, esm_component),
    ComponentSpec("edge-a", {"public": 8001, "internal": 8101}, edge_component("edge-a")),
    ComponentSpec("edge-b", {"public": 8002, "internal": 8102}, edge_component("edge-b")),
    ComponentSpec("gateway", {"http": 8080}, gateway_component),
    ComponentSpec("push-gateway", {"http": 8091}, push_gateway_component),
    ComponentSpec("notifier", {"metrics": 9401}, notifier_component),
    ComponentSpec("attachment-check", {"http": 9402}, attachment_check_component),
    ComponentSpec("s3", {"http": 9000}, s3_component),
]


def broker_count(base: Settings, home_data) -> int:
    """TIDINGS_BROKERS, else as many as the home's Kafka data was formatted for, else 1."""
    return base.brokers or kafka.formatted_brokers(home_data) or 1


def specs(brokers: int = 1) -> list[ComponentSpec]:
    """COMPONENTS with ``brokers`` Kafka nodes (local/stack/kafka_cluster.py) in place of one."""
    if brokers == 1:
        return COMPONENTS
    single = [spec.name for spec in kafka_cluster.node_specs(1)]
    at = next(i for i, spec in enumerate(COMPONENTS) if spec.name in single)
    return COMPONENTS[:at] + kafka_cluster.node_specs(brokers) + COMPONENTS[at + len(single):]
