"""Helpers for the functions/ tests: recorded events, Kafka event builders, a fake edge.

The `settings` and `ddb` fixtures (a real dynalite with the tables created) come from the
shared tests/conftest.py.
"""

from __future__ import annotations

import base64
import itertools
import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import orjson
import pytest

from functions import contracts

sys.path.insert(0, str(Path(__file__).resolve().parent))   # `import worker_world`

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"


@pytest.fixture
def load_event():
    def load(name: str) -> dict:
        return json.loads((EVENTS_DIR / f"{name}.json").read_text())
    return load


@pytest.fixture
def uid():
    """A unique id with a prefix, so tests sharing a dynalite never meet."""
    return lambda prefix="x": f"{prefix}-{uuid.uuid4().hex[:10]}"


# --- Kafka events as Lambda builds them --------------------------------------------------------

class KafkaEvents:
    """Builds Lambda's self-managed Kafka event from record values, with growing offsets."""

    def __init__(self, topic: str = "tidings.chat"):
        self.topic = topic
        self.offsets = itertools.count(100)

    def record(self, value, *, partition: int = 0, offset: int | None = None, key: str | bytes | None = "",
               raw_value: bytes | None = None) -> dict:
        if key == "" and isinstance(value, dict):
            key = value.get("roomId")
        data = raw_value if raw_value is not None else orjson.dumps(value)
        rec = {"topic": self.topic, "partition": partition,
               "offset": next(self.offsets) if offset is None else offset,
               "timestamp": int(time.time() * 1000), "timestampType": "CREATE_TIME",
               "value": base64.b64encode(data).decode(),
               "headers": [{contracts.HEADER_SCHEMA: list(b"1")}, {contracts.HEADER_EDGE: list(b"edge-test")}]}
        if key is not None:
            rec["key"] = base64.b64encode(key.encode() if isinstance(key, str) else key).decode()
        return rec

    def event(self, *records: dict) -> dict:
        grouped: dict[str, list] = {}
        for rec in records:
            grouped.setdefault(f"{rec['topic']}-{rec['partition']}", []).append(rec)
        return {"eventSource": "SelfManagedKafka", "bootstrapServers": "127.0.0.1:9092", "records": grouped}


@pytest.fixture
def kafka(uid):
    """Events of a topic of this test's own: partitions are committed in the shared store, so
    tests must not share a partition (functions/partition_commit.py)."""
    return KafkaEvents(uid("tidings.chat"))


# --- a stand-in for an edge's delivery API ------------------------------------------------------

class FakeEdge:
    """POST /@connections (batched) and POST /@connections/{id}; records what it receives.
    Answers 410 for ids in `gone`; `fail_next` is a list of statuses to answer first."""

    def __init__(self, secret: str):
        self.secret = secret
        self.gone: set[str] = set()
        self.busy_once: set[str] = set()
        self.fail_next: list[int] = []
        self.posts: list[dict] = []      # {"path", "headers", "body"}
        self.lock = threading.Lock()
        edge = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = edge.handle(self.path, dict(self.headers), body)
                data = orjson.dumps(answer) if answer is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def handle(self, path: str, headers: dict, body: bytes):
        with self.lock:
            status, answer = self._answer(path, headers, body)
            self.posts.append({"path": path, "headers": headers, "body": body, "status": status})
            return status, answer

    def _answer(self, path: str, headers: dict, body: bytes):
        if headers.get(contracts.DELIVERY_SECRET_HEADER) != self.secret:
            return 403, {"message": "forbidden"}
        if self.fail_next:
            return self.fail_next.pop(0), {"message": "try later"}
        if path == contracts.DELIVERY_PATH:
            results = {}
            for item in orjson.loads(body)["items"]:
                for cid in item["connectionIds"]:
                    if cid in self.gone:
                        results[cid] = 410
                    elif cid in self.busy_once:
                        results[cid] = 429
                    else:
                        results.setdefault(cid, 200)
            self.busy_once -= {c for c, s in results.items() if s == 429}
            return 200, {"results": results}
        cid = unquote(path.rsplit("/", 1)[-1])
        return (410, None) if cid in self.gone else (200, None)

    @property
    def batches(self) -> list[list[dict]]:
        """The items of every accepted batched POST, in order."""
        return [orjson.loads(p["body"])["items"] for p in self.posts
                if p["path"] == contracts.DELIVERY_PATH and p["status"] == 200]

    def events_for(self, connection_id: str) -> list[dict]:
        """What one connection was sent, in order (410-answered ids included)."""
        return [item["data"] for items in self.batches for item in items
                if connection_id in item["connectionIds"]]

    def clear(self) -> None:
        with self.lock:
            self.posts.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def edge_factory(settings):
    edges: list[FakeEdge] = []

    def make() -> FakeEdge:
        edges.append(FakeEdge(settings.delivery_secret))
        return edges[-1]

    yield make
    for e in edges:
        e.close()


@pytest.fixture
def edge(edge_factory):
    return edge_factory()
