"""Push devices and room mutes: PUT/GET /devices, DELETE /devices/{deviceId},
PUT /rooms/{roomId}/mute, GET /push/config (what a client needs to subscribe)."""

from __future__ import annotations

from functions import contracts
from functions.http.common import HttpError, Request, bad_request
from functions.push.devices import DEVICE_ID_RE, PLATFORMS, Devices, InvalidDevice, parse_registration, public_view
from functions.push.member_state import MAX_MUTE_MS, MemberState
from functions.read_marks import NotMember
from functions.store import now_ms


def _devices(req: Request) -> Devices:
    # Built once per warm function, over the routes' DynamoDB client.
    deps = req.deps
    if not hasattr(deps, "push_devices"):
        deps.push_devices = Devices(deps.settings, deps.store.client)
    return deps.push_devices


def put_device(req: Request):
    body = req.json_object(("platform", "token", "subscription", "appId"))
    try:
        fields = parse_registration(body, req.deps.settings)
    except InvalidDevice as exc:
        raise bad_request(str(exc)) from None
    item, created = _devices(req).register(req.caller.user_id, fields)
    return (201 if created else 200), public_view(item)


def list_devices(req: Request):
    items = sorted(_devices(req).of_user(req.caller.user_id), key=lambda d: (d.get("createdAt") or 0, d["deviceId"]))
    return 200, {"devices": [public_view(d) for d in items]}


def delete_device(req: Request):
    device = req.params.get("deviceId")
    if not isinstance(device, str) or not DEVICE_ID_RE.match(device):
        raise bad_request(f"path parameter deviceId must match {DEVICE_ID_RE.pattern}")
    # Another user's device answers exactly like one that does not exist.
    if not _devices(req).delete(req.caller.user_id, device):
        raise HttpError(404, contracts.ERR_NOT_FOUND, f"you have no device {device}")
    return 200, {"deviceId": device, "deleted": True}


def put_mute(req: Request):
    room_id = req.room_id()
    body = req.json_object(("until",))
    until = body.get("until", ...)
    if until is ...:
        raise bad_request("until is required (ms since the epoch; 0 or null unmutes)")
    until = 0 if until is None else until
    if isinstance(until, bool) or not isinstance(until, int) or not 0 <= until <= MAX_MUTE_MS:
        raise bad_request(f"until must be null or an integer in 0..{MAX_MUTE_MS} (ms since the epoch)")
    req.member_room(room_id)
    try:
        MemberState(req.deps.settings, req.deps.store.client).mute(room_id, req.caller.user_id, until)
    except NotMember:  # removed between the check and the write
        raise HttpError(403, contracts.ERR_FORBIDDEN, f"not a member of room {room_id}") from None
    return 200, {"roomId": room_id, "userId": req.caller.user_id, "mutedUntil": until, "muted": until > now_ms()}


def push_config(req: Request):
    return 200, {"platforms": list(PLATFORMS), "vapidPublicKey": req.deps.settings.push_vapid_public_key}
