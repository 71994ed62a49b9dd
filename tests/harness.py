"""Reusable helpers for tests that talk to the local stack (import as ``from harness import ...``).

The session's stack itself comes from the ``local_stack`` fixture in tests/conftest.py;
what is here works with any Settings (the fixture's, or a stack a test builds itself).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable, Iterable

from functions.settings import Settings
from local.paths import REPO_ROOT
from local.stack.logs import tail  # noqa: F401 (re-exported)
from local.stack.process import free_port, is_listening, wait_until  # noqa: F401 (re-exported)
from local.stack.stack import Stack


def unique(prefix: str = "t") -> str:
    """A short unique name for topics, rooms, users, tables of one test."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def settings_for_tests(**changes) -> Settings:
    """Settings for a test stack: the environment's (e.g. TIDINGS_PARTITIONS) plus changes."""
    import dataclasses

    return dataclasses.replace(Settings.from_env(), **changes)


def make_stack(home: Path | str, *, settings: Settings | None = None, **kwargs) -> Stack:
    """A Stack in its own home on free ports (never the user's running stack)."""
    kwargs.setdefault("ports", "auto")
    return Stack(home, settings=settings or settings_for_tests(), **kwargs)


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.05,
             message: str = "condition") -> object:
    """Poll until predicate returns something truthy; return it, or fail with message."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001
            last_exc = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}"
                                 + (f" (last error: {last_exc!r})" if last_exc else ""))
        time.sleep(interval)


# --------------------------------------------------------------------------- Kafka


def admin(settings: Settings):
    from local.stack.kafka import admin as _admin

    return _admin(settings.kafka_bootstrap)


def create_topic(settings: Settings, name: str | None = None, partitions: int = 1) -> str:
    from confluent_kafka.admin import NewTopic

    name = name or unique("test")
    client = admin(settings)  # keep a reference: a collected client cancels its futures
    for fut in client.create_topics([NewTopic(name, num_partitions=partitions,
                                              replication_factor=1)]).values():
        fut.result(timeout=30)
    return name


def producer(settings: Settings, **conf):
    """An idempotent, acks=all producer (what the edge uses)."""
    from confluent_kafka import Producer

    base = {"bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": True, "acks": "all",
            "linger.ms": 0}
    base.update(conf)
    return Producer(base)


def produce_sync(settings: Settings, topic: str, records: Iterable[tuple[bytes | str, bytes | str]],
                 timeout: float = 30.0) -> list:
    """Produce (key, value) pairs and wait for every delivery report; returns the Messages."""
    prod = producer(settings)
    delivered, errors = [], []

    def report(err, msg):
        (errors if err else delivered).append(err or msg)

    for key, value in records:
        prod.produce(topic, key=key, value=value, on_delivery=report)
    remaining = prod.flush(timeout)
    assert remaining == 0, f"{remaining} records not delivered within {timeout}s"
    assert not errors, f"delivery failed: {errors}"
    return delivered


def consumer(settings: Settings, topics: list[str], group: str | None = None, **conf):
    from confluent_kafka import Consumer

    base = {"bootstrap.servers": settings.kafka_bootstrap, "group.id": group or unique("group"),
            "auto.offset.reset": "earliest", "enable.auto.commit": False}
    base.update(conf)
    c = Consumer(base)
    c.subscribe(topics)
    return c


def consume(settings: Settings, topic: str, count: int, timeout: float = 30.0) -> list:
    """Read count records from the beginning of topic (a fresh consumer group)."""
    c = consumer(settings, [topic])
    out = []
    try:
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            out.append(msg)
    finally:
        c.close()
    assert len(out) >= count, f"consumed {len(out)} of {count} records from {topic} in {timeout}s"
    return out


# --------------------------------------------------------------------------- CLI


def run_invoke(*args: str, env: dict[str, str] | None = None, timeout: float = 300.0) -> subprocess.CompletedProcess:
    """Run `invoke ARGS` in the repo with env on top of os.environ; output captured as text."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=REPO_ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def port_env(stack: Stack) -> dict[str, str]:
    """TIDINGS_PORT_* variables that reproduce stack's port map in a child `invoke`."""
    from local.stack.stack import port_env_name

    return {port_env_name(name, label): str(port)
            for name, labels in stack.ports.items() for label, port in labels.items()}


__all__ = [
    "admin", "consume", "consumer", "create_topic", "free_port", "is_listening", "make_stack",
    "port_env", "produce_sync", "producer", "run_invoke", "tail", "settings_for_tests", "unique",
    "wait_for", "wait_until",
]
