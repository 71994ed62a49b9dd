"""A chat worker on a real dynalite with real HTTP edges, and the records to feed it (the world
fixture of the chat worker tests)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from functions import chat_worker, contracts, tables
from functions.connections import Connections
from functions.delivery import Deliverer
from functions.partition_commit import PartitionCommits
from functions.rooms import Rooms
from functions.history import Messages
from functions.store import Store


class World:
    """A room with alice (customer) and bob (groomer): alice on edge A (a1), bob on edge B
    (b1) and on edge A (b2); plus carol, who is not a member, on edge B (c1)."""

    def __init__(self, settings, ddb, uid, edge_factory, kafka):
        self.settings, self.ddb, self.kafka = settings, ddb, kafka
        self.a, self.b = edge_factory(), edge_factory()
        self.room = uid("room")
        self.rooms = Rooms(settings, ddb)
        self.conns = Connections(settings, ddb)
        self.messages = Messages(settings, ddb)
        self.rooms.create(self.room, "Grooming", "alice", {"bob": "groomer"})
        self.a1, self.b1, self.b2, self.c1 = (uid(n) for n in ("a1", "b1", "b2", "c1"))
        self.edge_of = {self.a1: self.a, self.b1: self.b, self.b2: self.a, self.c1: self.b}
        for conn, user, role in ((self.a1, "alice", "customer"), (self.b1, "bob", "groomer"),
                                 (self.b2, "bob", "groomer"), (self.c1, "carol", "customer")):
            self.conns.register(conn, user, role, self.edge_of[conn].url, None, None, 0)
        for conn, user, role in ((self.a1, "alice", "customer"), (self.b1, "bob", "groomer"),
                                 (self.b2, "bob", "groomer")):
            self.conns.subscribe(self.room, conn, user, role, self.edge_of[conn].url)
        self.deliverer = Deliverer(settings, backoff_s=0.001, connect_timeout_s=0.5)
        self.worker = chat_worker.make_handler(settings, client=ddb, deliverer=self.deliverer)
        self.seq = 0

    def value(self, conn, user="alice", role="customer", body=None, room=None, cmid=None, kind=contracts.RECORD_SEND,
              **extra):
        self.seq += 1
        value = {"v": 1, "type": kind, "roomId": room or self.room, "senderId": user, "senderRole": role,
                 "sentAt": 1_900_000_000_000 + self.seq, "connectionId": conn, "edgeUrl": self.edge_of[conn].url}
        if kind == contracts.RECORD_SEND:
            value.update(clientMsgId=cmid or f"m{self.seq}", body=body or f"hello {self.seq}")
        value.update(extra)
        return value

    def run(self, *records, event=None):
        return self.worker(event or self.kafka.event(*records), None)

    def stored(self, room=None):
        return list(self.messages.messages_after(room or self.room, 0))

    def head(self, room=None):
        """The room's last stored message as the room list sees it: {roomId, lastSeq, lastMessage}."""
        return Store(self.settings, self.ddb).heads([room or self.room]).get(room or self.room)

    def commit(self, partition=0):
        """The partition's commit item: (committed offset, pending attempt or None)."""
        state = PartitionCommits(Store(self.settings, self.ddb)).read(f"{self.kafka.topic}-{partition}")
        return state.offset, state.pending

    def all_items(self, room=None):
        """Every message item of the room, stored or not (what a reader must never return)."""
        return list(Store(self.settings, self.ddb).query(
            tables.MESSAGES, KeyConditionExpression="roomId = :r", ExpressionAttributeValues={":r": room or self.room}))

    def got(self, conn, type_=None):
        events = self.edge_of[conn].events_for(conn)
        return [e for e in events if type_ is None or e["type"] == type_]

    def clear(self):
        self.a.clear()
        self.b.clear()


@pytest.fixture
def world(settings, ddb, uid, edge_factory, kafka):
    w = World(settings, ddb, uid, edge_factory, kafka)
    yield w
    w.deliverer.close()


class FailingStore(Store):
    """Writes the first chunk of a message write, then fails: chunks of one call run in
    parallel, so a failed call may leave any part of it written."""

    def batch_write(self, puts=None, deletes=None):
        messages = list((puts or {}).get(tables.MESSAGES, ()))
        if messages:
            super().batch_write({tables.MESSAGES: messages[:1]})
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}}, "BatchWriteItem")
        return super().batch_write(puts, deletes)


class CommitFails(PartitionCommits):
    """Claims and lets the messages be written, then the commit fails: everything written,
    nothing visible."""

    def commit(self, *args, **kwargs):
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}}, "UpdateItem")


def broken_worker(settings, ddb, world, how):
    if how == "write":
        return chat_worker.ChatWorker(settings, store=FailingStore(settings, ddb), deliverer=world.deliverer)
    worker = chat_worker.make_handler(settings, client=ddb, deliverer=world.deliverer)
    worker.commits = CommitFails(worker.store)
    return worker
