"""Where STOMP frames go: the destinations of the old clients (`/pub/chat/send/{roomId}`,
`/sub/chat/{roomId}`, ...) and the room each one names; a destination that names no valid
room is None. Pure.
"""

from __future__ import annotations

from functions.contracts import ROOM_ID

SEND_PREFIX = "/pub/chat/send/"
TYPING_PREFIX = "/pub/chat/typing/"
SUBSCRIBE_PREFIX = "/sub/chat/"
# changes to a stored message (issue 16): destination prefix -> the record type it produces
CHANGE_PREFIXES = {"/pub/chat/edit/": "chat.edit", "/pub/chat/delete/": "chat.delete",
                   "/pub/chat/react/": "chat.react"}


def _room_after(prefix: str, destination: str | None) -> str | None:
    if not destination or not destination.startswith(prefix):
        return None
    room = destination[len(prefix):]
    return room if ROOM_ID.valid(room) else None


def parse_send_destination(destination: str | None) -> str | None:
    """Room id of `/pub/chat/send/{roomId}`, else None."""
    return _room_after(SEND_PREFIX, destination)


def parse_typing_destination(destination: str | None) -> str | None:
    """Room id of `/pub/chat/typing/{roomId}` (a typing indicator, never stored), else None."""
    return _room_after(TYPING_PREFIX, destination)


def parse_change_destination(destination: str | None) -> tuple[str, str] | None:
    """(record type, room id) of `/pub/chat/edit|delete|react/{roomId}`, else None."""
    for prefix, kind in CHANGE_PREFIXES.items():
        room = _room_after(prefix, destination)
        if room is not None:
            return kind, room
    return None


def parse_subscribe_destination(destination: str | None) -> str | None:
    """Room id of `/sub/chat/{roomId}`, else None."""
    return _room_after(SUBSCRIBE_PREFIX, destination)


def subscribe_destination(room_id: str) -> str:
    return SUBSCRIBE_PREFIX + room_id
