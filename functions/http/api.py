"""The HTTP API function: API Gateway HTTP API (payload format 2.0) -> tidings routes.

    handler(event, context) -> {"statusCode", "headers": {"content-type": "application/json"}, "body"}

The route table `ROUTES` is the one list of what the API serves; docs/openapi.yaml must
match it (a test checks) and local/emulators/gateway.py matches requests against it. An event whose
`routeKey` is one of the table's is dispatched to it with its `pathParameters`; any other
routeKey (`$default`, the catch-all route) is matched here against `rawPath`, giving a
JSON 404 for an unknown path and 405 for a known path with another method.

The caller is the JWT authorizer's claims (`sub`, `role`) and nothing else: no claims, 401.
Bad input is always a 4xx with {"error": {"code": contracts.ERR_*, "message"}}; a store
that is unavailable is a 503; anything else unexpected is logged and answered 500.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from functions import contracts, logs
from functions.entry import WarmHandler
from functions.events import HttpApiEvent
from functions.http import attachments, changes, messages, push, reads, rooms
from functions.http.common import Deps, HttpError, Request, caller_of
from functions.settings import Settings
from functions.store import StoreError

log = logs.get_logger(__name__)

JSON_HEADERS = {"content-type": "application/json"}
# DynamoDB answers that mean "try again later", not "your request is wrong".
_TRANSIENT_CODES = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
                    "InternalServerError", "ServiceUnavailable", "InternalFailure"}


@dataclass(frozen=True)
class Route:
    method: str
    path: str                       # OpenAPI / API Gateway template, e.g. /rooms/{roomId}
    fn: Callable[[Request], tuple]

    @property
    def key(self) -> str:
        """The API Gateway route key, e.g. "GET /rooms/{roomId}"."""
        return f"{self.method} {self.path}"

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.path.strip("/").split("/"))

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(s[1:-1] for s in self.segments if s.startswith("{"))

    def match(self, path: str) -> dict[str, str] | None:
        """Path parameters (URL-decoded) if `path` (a raw path) fits the template."""
        parts = path.strip("/").split("/") if path.startswith("/") else None
        if parts is None or len(parts) != len(self.segments) or path.endswith("/") and path != "/":
            return None
        params = {}
        for template, part in zip(self.segments, parts):
            if template.startswith("{"):
                if not part:
                    return None
                params[template[1:-1]] = unquote(part)
            elif template != part:
                return None
        return params


ROUTES: tuple[Route, ...] = (
    Route("POST", "/rooms", rooms.create_room),
    Route("GET", "/rooms", rooms.list_rooms),
    Route("GET", "/rooms/{roomId}", rooms.get_room),
    Route("POST", "/rooms/{roomId}/members", rooms.add_member),
    Route("DELETE", "/rooms/{roomId}/members/{userId}", rooms.remove_member),
    Route("GET", "/rooms/{roomId}/messages", messages.list_messages),
    Route("PUT", "/rooms/{roomId}/read", reads.put_read),
    Route("GET", "/rooms/{roomId}/read", reads.get_reads),
    Route("GET", "/rooms/{roomId}/presence", reads.presence),
    Route("GET", "/me", reads.me),
    # push notifications (issue 15)
    Route("PUT", "/devices", push.put_device),
    Route("GET", "/devices", push.list_devices),
    Route("DELETE", "/devices/{deviceId}", push.delete_device),
    Route("PUT", "/rooms/{roomId}/mute", push.put_mute),
    Route("GET", "/push/config", push.push_config),
    # photo attachments (issue 16)
    Route("POST", "/rooms/{roomId}/attachments", attachments.create_attachment),
    Route("GET", "/rooms/{roomId}/attachments/{attId}", attachments.get_attachment),
    # edit, delete, react (issue 16): produced to Kafka, applied by the chat worker
    Route("PATCH", "/rooms/{roomId}/messages/{seq}", changes.edit_message),
    Route("DELETE", "/rooms/{roomId}/messages/{seq}", changes.delete_message),
    Route("POST", "/rooms/{roomId}/messages/{seq}/reactions", changes.react_to_message),
)
BY_KEY: dict[str, Route] = {r.key: r for r in ROUTES}


def match_route(method: str, path: str) -> tuple[Route, dict[str, str]] | tuple[None, list[str]]:
    """(route, path parameters) for a method and raw path; else (None, methods allowed on
    the path), an empty list meaning no such path."""
    allowed = []
    for route in ROUTES:
        params = route.match(path)
        if params is None:
            continue
        if route.method == method.upper():
            return route, params
        allowed.append(route.method)
    return None, allowed


def resolve(event: HttpApiEvent) -> tuple[Route, dict[str, str]]:
    route = BY_KEY.get(event.route_key) if isinstance(event.route_key, str) else None
    if route is not None:
        params = event.path_parameters
        if any(not isinstance(params.get(p), str) for p in route.params):
            raise HttpError(400, contracts.ERR_BAD_REQUEST, "missing path parameters")
        return route, {p: params[p] for p in route.params}
    method, path = event.method, event.raw_path
    if not isinstance(method, str) or not isinstance(path, str):
        raise HttpError(400, contracts.ERR_BAD_REQUEST, "no method or path")
    found, extra = match_route(method, path)
    if found is not None:
        return found, extra
    if extra:
        raise HttpError(405, contracts.ERR_BAD_REQUEST, f"method {method} not allowed on {path}",
                        headers={"allow": ", ".join(sorted(extra))})
    raise HttpError(404, contracts.ERR_NOT_FOUND, f"no route for {method} {path}")


def response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> dict:
    return {"statusCode": status, "headers": {**JSON_HEADERS, **(headers or {})},
            "body": orjson.dumps(body).decode("utf-8")}


def error_response(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> dict:
    return response(status, {"error": {"code": code, "message": message}}, headers)


def _transient(exc: Exception) -> bool:
    if isinstance(exc, StoreError):
        return True
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") in _TRANSIENT_CODES
    return isinstance(exc, BotoCoreError)  # connection refused, timeouts


class HttpApi:
    """The API over one set of collaborators (tests pass a dynalite client, and may pass a
    stand-in for the Kafka producer of message changes)."""

    def __init__(self, settings: Settings, client=None, producer=None):
        self.deps = Deps(settings, client, producer)

    def handle(self, event: Any, context: Any = None) -> dict:
        logs.bind_invocation(context)
        started = time.monotonic()
        route_key, status = None, 500
        try:
            if not isinstance(event, Mapping):
                raise HttpError(400, contracts.ERR_BAD_REQUEST, "the event is not an object")
            view = HttpApiEvent(event)
            caller = caller_of(view)
            route, params = resolve(view)
            route_key = route.key
            result = route.fn(Request(view, caller, params, self.deps))
            status, body = result[0], result[1]
            return response(status, body, result[2] if len(result) > 2 else None)
        except HttpError as exc:
            status = exc.status
            return error_response(exc.status, exc.code, exc.message, exc.headers)
        except Exception as exc:  # noqa: BLE001 - the API answers, it never crashes
            if _transient(exc):
                status = 503
                log.warning("store unavailable", route=route_key, error=repr(exc))
                return error_response(503, contracts.ERR_UNAVAILABLE, "the store is unavailable, try again",
                                      {"retry-after": "1"})
            log.exception("unexpected error", route=route_key)
            return error_response(500, contracts.ERR_INTERNAL, "internal error")
        finally:
            log.info("http", route=route_key, status=status,
                     ms=round((time.monotonic() - started) * 1000, 1))


def _build() -> Callable[[Any, Any], dict]:
    settings = Settings.from_env()
    settings.require_deployable_secrets("the HTTP API")
    return HttpApi(settings).handle


# The Lambda entry point (settings from the environment, built on first call).
handler = WarmHandler(_build)
