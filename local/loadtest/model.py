"""The shapes a simulated user and its generator share, so neither module imports the other:
a room of users (``Room``), what the generator reads of a member (``RoomMember``) and what a
user uses of its generator (``GeneratorView``). `client.User` is the member,
`worker.Generator` the generator.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from functions.settings import Settings
from local.loadtest.codec import JsonCodec, StompCodec
from local.loadtest.scenario import Options
from local.loadtest.stats import Second


class RoomMember(Protocol):
    """A room's user as the generator sees it when it starts the room and checks deliveries."""

    subscribed_ok: bool
    dropped: bool
    received: set[str]          # clientMsgIds delivered to this user

    def begin_sending(self) -> None: ...


class Room:
    __slots__ = ("id", "members", "acked", "pending", "started", "subscribed")

    def __init__(self, room_id: str):
        self.id = room_id
        self.members: list[RoomMember] = []
        self.acked: set[str] = set()      # clientMsgIds acked (also late acks)
        self.pending = 0                  # members not yet subscribed or failed
        self.started = False
        self.subscribed = 0               # members that subscribed (= expected receivers)


class GeneratorView(Protocol):
    """What a user reads and calls of the generator process running it."""

    opts: Options
    settings: Settings
    codec: JsonCodec | StompCodec
    loop: asyncio.AbstractEventLoop
    padding: str                      # filler after a message body's clientMsgId and send time
    stopping: bool
    stop_sending: bool
    open_connections: int
    timed_out: set[str]               # clientMsgIds given up on (a later ack is a late ack)
    last_delivery_at: float

    def sec(self, now: float) -> Second: ...

    def count(self, name: str, n: int = 1) -> None: ...

    def not_sent(self, n: int) -> None: ...

    def room_ready(self, room: Room) -> None: ...

    def user_finished(self, user: RoomMember) -> None: ...
