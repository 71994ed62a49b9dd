"""What every HTTP API route shares: errors, the caller, input checks, room access.

A route is a plain function `route(req: Request) -> (status, body)`; it raises
`HttpError` for anything the client got wrong. `functions.http.api` turns both into the
API Gateway v2 response. Checks here never let bad input reach DynamoDB: ids are
matched against the contracts' regexes, numbers are parsed strictly, bodies must be JSON
objects with known fields of the right types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Mapping

from functions import contracts, tables
from functions.attachments import Attachments
from functions.connections import Connections
from functions.delivery import Deliverer
from functions.events import HttpApiEvent
from functions.read_marks import ReadMarks
from functions.record_producer import RecordProducer
from functions.rooms import Rooms
from functions.settings import Settings
from functions.history import Messages
from functions.store import Store

MAX_BODY_BYTES = 64 * 1024
MAX_SEQ = 2 ** 53 - 1           # JSON-safe integers only
_DIGITS = re.compile(r"[0-9]{1,16}")


class HttpError(Exception):
    """A 4xx (or 503) answer with the JSON error body {"error": {"code", "message"}}."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def bad_request(message: str) -> HttpError:
    return HttpError(400, contracts.ERR_BAD_REQUEST, message)


@dataclass(frozen=True)
class Caller:
    """Who is calling: from the JWT authorizer's claims, and from nowhere else."""

    user_id: str
    role: str


def caller_of(event: HttpApiEvent) -> Caller:
    """The caller from requestContext.authorizer.jwt.claims (sub, role), or 401."""
    claims = event.jwt_claims
    sub, role = claims.get("sub"), claims.get("role")
    if not contracts.USER_ID.valid(sub):
        raise HttpError(401, contracts.ERR_UNAUTHORIZED, "no valid caller identity (sub claim)")
    if role not in contracts.ROLES:
        raise HttpError(401, contracts.ERR_UNAUTHORIZED, "no valid caller role (role claim)")
    return Caller(sub, role)


class Deps:
    """The collaborators routes use, built lazily over one DynamoDB client."""

    def __init__(self, settings: Settings, client=None, producer=None):
        self.settings = settings
        self._client = client
        if producer is not None:   # tests give a stand-in; else built on first use (below)
            self.producer = producer

    @cached_property
    def store(self) -> Store:
        return Store(self.settings, self._client)

    @cached_property
    def rooms(self) -> Rooms:
        return Rooms(self.settings, self.store.client)

    @cached_property
    def messages(self) -> Messages:
        return Messages(self.settings, self.store.client)

    @cached_property
    def connections(self) -> Connections:
        return Connections(self.settings, self.store.client)

    @cached_property
    def read_marks(self) -> ReadMarks:
        return ReadMarks(self.settings, self.store.client)

    @cached_property
    def attachments(self) -> Attachments:
        return Attachments(self.settings, self.store.client)

    @cached_property
    def deliverer(self) -> Deliverer:
        return Deliverer(self.settings)

    @cached_property
    def producer(self) -> RecordProducer:
        """Kafka, for message changes (functions/http/changes.py): one per warm container."""
        return RecordProducer(self.settings)


@dataclass
class Request:
    event: HttpApiEvent
    caller: Caller
    params: dict[str, str]
    deps: Deps

    # --- path and query -------------------------------------------------------------
    def room_id(self) -> str:
        return check_room_id(self.params.get("roomId"), "path parameter roomId")

    def user_id(self) -> str:
        return check_user_id(self.params.get("userId"), "path parameter userId")

    def query_int(self, name: str, *, low: int = 0, high: int = MAX_SEQ) -> int | None:
        raw = self.event.query(name)
        if raw is None:
            return None
        if not isinstance(raw, str) or not _DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
            raise bad_request(f"query parameter {name} must be an integer in {low}..{high}")
        return int(raw)

    # --- body -------------------------------------------------------------------------
    def json_object(self, allowed: tuple[str, ...]) -> dict[str, Any]:
        """The body as a JSON object with only `allowed` keys (400/413 otherwise)."""
        try:
            data = self.event.body_bytes
        except (ValueError, TypeError, AttributeError):
            raise HttpError(400, contracts.ERR_BAD_FRAME, "body is not valid base64 or text") from None
        if len(data) > MAX_BODY_BYTES:
            raise HttpError(413, contracts.ERR_TOO_LARGE, f"body over {MAX_BODY_BYTES} bytes")
        if not data.strip():
            raise HttpError(400, contracts.ERR_BAD_FRAME, "a JSON object body is required")
        try:
            body = contracts.decode(data)
        except ValueError:
            raise HttpError(400, contracts.ERR_BAD_FRAME, "body is not valid JSON") from None
        if not isinstance(body, dict):
            raise HttpError(400, contracts.ERR_BAD_FRAME, "body must be a JSON object")
        unknown = sorted(k for k in body if k not in allowed)
        if unknown:
            raise bad_request(f"unknown field(s): {', '.join(unknown)[:200]} "
                              f"(allowed: {', '.join(allowed)})")
        return body

    # --- room access ------------------------------------------------------------------
    def member_room(self, room_id: str) -> dict:
        """The room (no `subs`) if the caller is a member: 404 unknown room, 403 otherwise.
        One BatchGetItem for the room and the caller's member item."""
        found = self.deps.store.batch_get({
            tables.ROOMS: [{"roomId": room_id}],
            tables.MEMBERS: [{"roomId": room_id, "userId": self.caller.user_id}]})
        if not found[tables.ROOMS]:
            raise HttpError(404, contracts.ERR_UNKNOWN_ROOM, f"no room {room_id}")
        if not found[tables.MEMBERS]:
            raise HttpError(403, contracts.ERR_FORBIDDEN, f"not a member of room {room_id}")
        room = dict(found[tables.ROOMS][0])
        room.pop("subs", None)
        room["me"] = found[tables.MEMBERS][0]
        return room


# --- value checks -------------------------------------------------------------------------

def check_room_id(value: Any, what: str = "roomId") -> str:
    if not contracts.ROOM_ID.valid(value):
        raise bad_request(f"{what} must match {contracts.ROOM_ID.pattern}")
    return value


def check_user_id(value: Any, what: str = "userId") -> str:
    if not contracts.USER_ID.valid(value):
        raise bad_request(f"{what} must match {contracts.USER_ID.pattern}")
    return value


def check_role(value: Any, what: str = "role") -> str:
    if value not in contracts.ROLES:
        raise bad_request(f"{what} must be one of {', '.join(contracts.ROLES)}")
    return value


def check_seq(value: Any, what: str = "seq") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEQ:
        raise bad_request(f"{what} must be an integer in 0..{MAX_SEQ}")
    return value


def member_view(item: Mapping[str, Any]) -> dict:
    return {"userId": item["userId"], "role": item.get("role"), "joinedAt": item.get("joinedAt")}
