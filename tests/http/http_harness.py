"""Helpers for the HTTP API tests (import as `from http_harness import ...`): v2 events in
the recorded shape, a client calling the handler, and a stand-in for the worker that
stores messages the way it does (the messages, then the partition's commit).
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlencode

import orjson
import pytest

from functions import tables
from functions.http.api import HttpApi, match_route
from functions.message_items import message_item
from functions.store import Store, now_ms
from local.emulators.context import LambdaContext

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"
RECORDED = json.loads((EVENTS_DIR / "apiGatewayHttpV2Get.json").read_text())


def new_id(prefix: str = "x") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# Fixtures of the HTTP API over the stack's store (`settings` and `ddb` from tests/conftest.py),
# imported by tests/http's and tests/push's conftest.py.

@pytest.fixture
def uid():
    return new_id


@pytest.fixture
def api(settings, ddb):
    return HttpApi(settings, ddb)


@pytest.fixture
def client(api):
    return Client(api)



def v2_event(method: str, path: str, *, user: str | None = "alice", role: str = "customer",
             query: dict | None = None, body=None, raw_body: str | None = None, base64_body: bool = False,
             route_key: str | None = None, path_parameters: dict | None = None) -> dict:
    """An HTTP API payload 2.0 event shaped like the recorded one, for `method path`.
    The routeKey and pathParameters are what API Gateway would put (matched against the
    route table) unless given; `user=None` leaves the authorizer out."""
    event = copy.deepcopy(RECORDED)
    route, params = match_route(method, path.split("?")[0])
    event["routeKey"] = route_key or (route.key if route else "$default")
    event["requestContext"]["routeKey"] = event["routeKey"]
    event["rawPath"] = path
    event["requestContext"]["http"].update(method=method, path=path)
    event["requestContext"]["requestId"] = uuid.uuid4().hex
    event["rawQueryString"] = urlencode(query or {})
    if query:
        event["queryStringParameters"] = dict(query)
    else:
        event.pop("queryStringParameters", None)
    params = path_parameters if path_parameters is not None else (params if route else None)
    if params:
        event["pathParameters"] = params
    else:
        event.pop("pathParameters", None)
    if user is None:
        event["requestContext"].pop("authorizer")
    else:
        event["requestContext"]["authorizer"]["jwt"]["claims"] = {
            "sub": user, "role": role, "iss": "tidings-local", "aud": "tidings", "exp": str(int(time.time()) + 600)}
    if raw_body is None and body is not None:
        raw_body = orjson.dumps(body).decode()
    if raw_body is not None:
        if base64_body:
            event["body"], event["isBase64Encoded"] = base64.b64encode(raw_body.encode()).decode(), True
        else:
            event["body"], event["isBase64Encoded"] = raw_body, False
    return event


class Client:
    """Calls the handler like API Gateway would, as one user at a time."""

    def __init__(self, api: HttpApi):
        self.api = api

    def call(self, method: str, path: str, **kwargs):
        response = self.api.handle(v2_event(method, path, **kwargs), LambdaContext("tidings-http-api"))
        assert set(response) == {"statusCode", "headers", "body"}, response
        assert response["headers"]["content-type"] == "application/json"
        return response["statusCode"], orjson.loads(response["body"])

    def room(self, owner: str, members: dict[str, str] | None = None, role: str = "customer") -> str:
        room_id = new_id("room")
        status, body = self.call("POST", "/rooms", user=owner, role=role, body={
            "roomId": room_id, "name": "test room",
            "members": [{"userId": u, "role": r} for u, r in (members or {}).items()]})
        assert status == 201, body
        return room_id




def path(*parts: str) -> str:
    return "/" + "/".join(quote(p, safe="") for p in parts)


class Sender:
    """Stores messages like the worker (the messages, then their partition's commit), one
    writer per room: each room on a partition of its own, so tests never share one."""

    def __init__(self, settings, ddb):
        self.store = Store(settings, ddb)
        self.lock = threading.Lock()

    def send(self, room_id: str, sender: str, count: int = 1, role: str = "customer", batch: int = 25) -> int:
        """Append `count` messages; returns the room's lastSeq after."""
        partition = f"http-tests-{room_id}-0"
        with self.lock:
            head = self.store.heads([room_id]).get(room_id) or {}
            seq = int(head.get("lastSeq") or 0)
            offset = self.store.commits([partition])[partition]
            left = count
            while left:
                n = min(batch, left)
                items = []
                for _ in range(n):
                    seq += 1
                    offset += 1
                    rec = {"clientMsgId": f"c{seq}", "senderId": sender, "senderRole": role,
                           "body": f"message {seq}", "sentAt": now_ms()}
                    items.append(message_item(room_id, seq, rec, partition, offset, now_ms()))
                self.store.batch_write({tables.MESSAGES: items})
                self.store.batch_write({tables.PARTITION_COMMITS: [{"partition": partition, "offset": offset}]})
                left -= n
            return seq


