"""The delivery API (API Gateway's @connections contract plus a batched form), falcon resources.

    POST   /@connections/{id}   raw body: one server event (JSON object with "type") or raw data
                                 → 200 | 410 {"message":"Gone"} | 413 | 429
    GET    /@connections/{id}   → 200 {connectedAt, identity{sourceIp,userAgent}, lastActiveAt}
    DELETE /@connections/{id}   → 204 (the socket is closed) | 410
    POST   /@connections        {"items":[{"connectionIds":[...],"data":{...}}]}
                                 → 200 {"results":{id: 200|410|429}}, items applied in order

Mounted only on the internal listener's app (app.internal_api); the public app has no
such routes, whatever the spelling of the path. Each resource here requires the delivery
secret header (`DeliverySecret`, by resource, not by path): without it, 403.
"""

from __future__ import annotations

import time
from collections import Counter

import falcon
import orjson

from functions import contracts
from functions.settings import Settings
from websocket_edge.handshake import delivery_secret_ok
from websocket_edge.hub import FULL, GONE, OK, Hub
from websocket_edge.protocol import ServerEvent

MAX_BATCH_BYTES = 16 * 1024 * 1024
_GONE_BODY = b'{"message":"Gone"}'
_PRECEDENCE = {OK: 0, FULL: 1, GONE: 2}   # one id in several items: the worst result wins


def _read_body(req: falcon.Request, limit: int) -> bytes:
    if req.content_length is not None and req.content_length > limit:
        raise falcon.HTTPContentTooLarge(description=f"body over {limit} bytes")
    data = req.bounded_stream.read(limit + 1)
    if len(data) > limit:
        raise falcon.HTTPContentTooLarge(description=f"body over {limit} bytes")
    return data


def _as_event(data: bytes) -> ServerEvent | bytes:
    """A JSON object with a string "type" is a server event; anything else is raw data."""
    if data[:1] == b"{":
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return data
        if isinstance(obj, dict) and isinstance(obj.get("type"), str):
            return ServerEvent(obj, data)
    return data


class DeliverySecret:
    """Middleware of the internal app: a resource that says `requires_delivery_secret` is
    served only to a request with the right X-Tidings-Delivery-Secret."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource, params) -> None:
        if getattr(resource, "requires_delivery_secret", False) and \
                not delivery_secret_ok(self.settings, req.get_header(contracts.DELIVERY_SECRET_HEADER)):
            raise falcon.HTTPForbidden(description="delivery secret missing or wrong")


class _Base:
    requires_delivery_secret = True

    def __init__(self, hub: Hub, metrics):
        self.hub = hub
        self.metrics = metrics

    def _count(self, status: int, n: int = 1) -> None:
        self.metrics.deliveries.labels(result=str(status)).inc(n)


class ConnectionResource(_Base):
    """/@connections/{connection_id}"""

    def _gone(self, resp: falcon.Response) -> None:
        resp.status = falcon.HTTP_410
        resp.content_type = falcon.MEDIA_JSON
        resp.data = _GONE_BODY

    def on_post(self, req, resp, connection_id: str) -> None:
        data = _read_body(req, contracts.MAX_DELIVERY_DATA_BYTES)
        status = self.hub.deliver(connection_id, _as_event(data))
        self._count(status)
        if status == GONE:
            self._gone(resp)
        elif status == FULL:
            resp.status = falcon.HTTP_429
            resp.media = {"message": "connection too slow; it was closed to catch up"}
        else:
            resp.status = falcon.HTTP_200

    def on_get(self, req, resp, connection_id: str) -> None:
        session = self.hub.get(connection_id)
        if session is None:
            self._gone(resp)
            return
        resp.media = session.info()

    def on_delete(self, req, resp, connection_id: str) -> None:
        session = self.hub.get(connection_id)
        if session is None:
            self._gone(resp)
            return
        session.close(1000, "closed by the server")
        resp.status = falcon.HTTP_204


class BatchResource(_Base):
    """/@connections (batched POST)."""

    def _observe_latency(self, data: dict, now_ms: float) -> None:
        """A message's sentAt (the edge that took it) to its arrival here, for the histogram."""
        sent_at = data.get("sentAt")
        if data.get("type") == contracts.EVENT_MESSAGE and isinstance(sent_at, (int, float)) \
                and not isinstance(sent_at, bool):
            self.metrics.delivery_latency.observe(max(0.0, now_ms - sent_at) / 1000)

    def on_post(self, req, resp) -> None:
        body = _read_body(req, MAX_BATCH_BYTES)
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise falcon.HTTPBadRequest(description="body is not JSON") from None
        items = doc.get("items") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise falcon.HTTPBadRequest(description='expected {"items": [...]}')
        prepared = []
        for index, item in enumerate(items):
            ids = item.get("connectionIds") if isinstance(item, dict) else None
            data = item.get("data") if isinstance(item, dict) else None
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise falcon.HTTPBadRequest(description=f"items[{index}].connectionIds must be a list of strings")
            if isinstance(data, dict):
                encoded = contracts.encode(data)
                event = ServerEvent(data, encoded) if isinstance(data.get("type"), str) else encoded
            elif isinstance(data, str):
                encoded = event = data.encode("utf-8")
            else:
                raise falcon.HTTPBadRequest(description=f"items[{index}].data must be an object or a string")
            if len(encoded) > contracts.MAX_DELIVERY_DATA_BYTES:
                raise falcon.HTTPContentTooLarge(description=f"items[{index}].data over the limit")
            prepared.append((ids, event))
        results: dict[str, int] = {}
        tally: Counter[int] = Counter()   # counted once per status, not per delivery (hot path)
        now_ms = time.time() * 1000
        for ids, event in prepared:   # in order: room order holds for every recipient
            if isinstance(event, ServerEvent):
                self._observe_latency(event.data, now_ms)
            for connection_id in ids:
                status = self.hub.deliver(connection_id, event)
                tally[status] += 1
                previous = results.get(connection_id)
                if previous is None or _PRECEDENCE[status] > _PRECEDENCE[previous]:
                    results[connection_id] = status
        for status, n in tally.items():
            self._count(status, n)
        resp.media = {"results": results}
