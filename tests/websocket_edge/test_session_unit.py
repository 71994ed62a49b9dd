"""session.Session with in-memory collaborators (unit level; the real thing is in test_flow.py).

What only a unit test can time exactly: a live message that arrives *while* the catch-up is
reading the store is buffered and delivered after the stored ones, without a gap and without
a duplicate; acks wait for the delivery report; a blocked client is closed 1013.
"""

from __future__ import annotations

import dataclasses
import time
from types import SimpleNamespace

import gevent
import orjson
import pytest
from gevent.event import AsyncResult, Event
from gevent.queue import Queue

from functions import contracts
from functions.rooms import UnknownRoom
from functions.settings import Settings
from functions.tokens import Identity
from websocket_edge import handshake
from websocket_edge.bounded import Transport
from websocket_edge.deps import EdgeDeps
from websocket_edge.protocol import ServerEvent
from websocket_edge.session import Session

ROOM = "room-1"


class FakeWS:
    OPCODE_TEXT, OPCODE_BINARY, OPCODE_PING = 1, 2, 9

    def __init__(self):
        self.inbox: Queue = Queue()
        self.sent: list[bytes] = []
        self.writes: list[int] = []   # frames per write
        self.closed = False
        self.close_code = None
        self.unblocked = Event()
        self.unblocked.set()
        self.handler = SimpleNamespace(ws_transport=Transport(65536))

    def receive(self):
        return self.inbox.get()

    def send_frames(self, frames):
        self.unblocked.wait()
        self.writes.append(len(frames))
        self.sent.extend(b"<ping>" if opcode == self.OPCODE_PING else data for data, opcode in frames)

    def close(self, code, reason=""):
        self.closed, self.close_code = True, code
        self.inbox.put(None)   # the peer answers our close

    def abort(self):
        self.closed = True
        self.inbox.put(None)

    def frames(self):
        return [orjson.loads(f) for f in self.sent if f != b"<ping>"]


class FakeProducer:
    def __init__(self):
        self.records: list[tuple[dict, str, AsyncResult]] = []

    def publish(self, record, key):
        result = AsyncResult()
        self.records.append((record, key, result))
        return result


class FakeStore:
    """Connections + Rooms + Messages in memory."""

    def __init__(self):
        self.rooms = {ROOM: {"alice"}}
        self.messages: dict[str, list[dict]] = {ROOM: []}
        self.subs: dict[str, set] = {}
        self.during_read = None   # called between store pages
        self.registered = {}

    # Connections
    def register(self, connection_id, user_id, role, edge_url, source_ip, user_agent, connected_at_ms):
        self.registered[connection_id] = user_id

    def refresh(self, connection_id, rooms):
        return set()

    def unregister(self, connection_id, rooms):
        self.registered.pop(connection_id, None)
        for room in rooms:
            self.subs.get(room, set()).discard(connection_id)

    def subscribe(self, room_id, connection_id, user_id, role, edge_url):
        if room_id not in self.rooms:
            raise UnknownRoom(room_id)
        self.subs.setdefault(room_id, set()).add(connection_id)

    def unsubscribe(self, room_id, connection_id):
        self.subs.get(room_id, set()).discard(connection_id)

    # Rooms
    def is_member(self, room_id, user_id):
        return user_id in self.rooms.get(room_id, ())

    # Messages
    def store(self, *seqs):
        for seq in seqs:
            self.messages[ROOM].append({"roomId": ROOM, "seq": seq, "messageId": f"{ROOM}:{seq}",
                                        "clientMsgId": f"c{seq}", "senderId": "bob", "senderRole": "groomer",
                                        "body": f"m{seq}", "sentAt": seq})

    def committed_seq(self, room_id):
        return max((m["seq"] for m in self.messages[room_id]), default=0)

    def committed_seq_if_member(self, room_id, user_id):
        high = self.committed_seq(room_id) if room_id in self.messages else 0
        return high if self.is_member(room_id, user_id) else None

    def messages_after(self, room_id, after_seq, upto=None):
        items = [m for m in self.messages[room_id] if m["seq"] > after_seq and (upto is None or m["seq"] <= upto)]
        gevent.sleep(0.01)   # a store round trip: other greenlets run
        if self.during_read:
            hook, self.during_read = self.during_read, None
            hook()
        yield from items

    def changed_up_to(self, room_id, seq, window=100):
        return [m for m in self.messages[room_id] if m["seq"] <= seq and m.get("changedSeq", -1) >= seq]


def live(seq):
    return ServerEvent({"type": "message", "room": ROOM, "seq": seq, "messageId": f"{ROOM}:{seq}",
                        "clientMsgId": f"c{seq}", "senderId": "bob", "senderRole": "groomer",
                        "body": f"m{seq}", "sentAt": seq})


@pytest.fixture
def world():
    settings = Settings(outbound_queue_size=8, heartbeat_ms=60000)
    store = FakeStore()
    producer = FakeProducer()
    deps = EdgeDeps(settings=settings, producer=producer, connections=store, rooms=store, messages=store,
                    clock=time.time)
    ws = FakeWS()
    environ = {handshake.ENV_IDENTITY: Identity("alice", "customer", time.time() + 600),
               handshake.ENV_SUBPROTOCOL: "tidings.json", "REMOTE_ADDR": "10.0.0.1"}
    session = Session(ws, environ, deps)
    runner = gevent.spawn(session.run)
    gevent.sleep(0.01)
    yield SimpleNamespace(ws=ws, session=session, store=store, producer=producer, deps=deps, runner=runner)
    if not ws.closed:
        ws.inbox.put(None)
    runner.join(timeout=5)


def settle():
    gevent.sleep(0.05)


def client(world, **frame):
    world.ws.inbox.put(orjson.dumps(frame).decode())
    settle()


def test_live_message_during_catch_up_is_buffered_not_lost(world):
    world.store.store(1, 2, 3)

    def meanwhile():   # while the catch-up reads the store, the worker delivers seq 3 (dup) and 4
        assert world.session.deliver(live(3)) == 200
        assert world.session.deliver(live(4)) == 200

    world.store.during_read = meanwhile
    client(world, type="subscribe", room=ROOM, afterSeq=0)
    frames = world.ws.frames()
    assert [f.get("seq") for f in frames if f["type"] == "message"] == [1, 2, 3, 4]
    assert frames[-1] == {"type": "subscribed", "room": ROOM, "lastSeq": 4}
    # afterwards live messages flow, duplicates are dropped
    world.session.deliver(live(4))
    world.session.deliver(live(5))
    settle()
    assert [f.get("seq") for f in world.ws.frames() if f["type"] == "message"] == [1, 2, 3, 4, 5]


def test_gap_between_store_and_live_is_read_again(world):
    world.store.store(1)

    def meanwhile():   # seq 2 gets stored after our read, seq 3 arrives live: a hole at 2
        world.store.store(2)
        world.session.deliver(live(3))

    world.store.during_read = meanwhile
    client(world, type="subscribe", room=ROOM, afterSeq=0)
    assert [f.get("seq") for f in world.ws.frames() if f["type"] == "message"] == [1, 2, 3]


def test_ack_only_from_the_delivery_report(world):
    client(world, type="send", room=ROOM, clientMsgId="c1", body="hi", senderId="mallory")
    record, key, result = world.producer.records[0]
    assert key == ROOM
    assert record["senderId"] == "alice" and record["senderRole"] == "customer"
    assert record["connectionId"] == world.session.id
    assert world.ws.frames() == []   # nothing before the report
    result.set((2, 41))
    settle()
    assert world.ws.frames() == [{"type": "ack", "clientMsgId": "c1", "room": ROOM, "partition": 2, "offset": 41}]


def test_failed_report_is_an_error_naming_the_message(world):
    client(world, type="send", room=ROOM, clientMsgId="c1", body="hi")
    world.producer.records[0][2].set_exception(RuntimeError("broker down"))
    settle()
    (frame,) = world.ws.frames()
    assert (frame["type"], frame["code"], frame["ref"]) == ("error", contracts.ERR_UNAVAILABLE, "c1")


def test_sends_refused_while_draining(world):
    world.deps.state.accepting_sends = False
    client(world, type="send", room=ROOM, clientMsgId="c1", body="hi")
    assert world.producer.records == []
    assert world.ws.frames()[0]["code"] == contracts.ERR_UNAVAILABLE


def test_blocked_client_is_closed_1013(world):
    client(world, type="subscribe", room=ROOM)
    world.ws.unblocked.clear()   # the client stops reading: the writer blocks
    results = [world.session.deliver(live(seq)) for seq in range(1, 20)]
    assert 429 in results
    assert results[results.index(429) + 1:] == [410] * (len(results) - results.index(429) - 1)
    world.ws.unblocked.set()
    settle()
    assert world.ws.close_code == 1013


def test_frames_queued_while_the_client_is_slow_go_out_together_in_order(world):
    client(world, type="subscribe", room=ROOM)
    writes_before = len(world.ws.writes)
    world.ws.unblocked.clear()   # the writer is in a write; the next frames queue up behind it
    world.session.deliver(live(1))
    settle()
    for seq in (2, 3, 4):
        world.session.deliver(live(seq))
    world.ws.unblocked.set()
    settle()
    assert world.ws.writes[writes_before:] == [1, 3]   # the first alone, the three queued in one write
    assert [f["seq"] for f in world.ws.frames() if f.get("type") == "message"] == [1, 2, 3, 4]


def test_a_client_that_stops_reading_is_cut_off_after_the_send_timeout():
    """The writer's one timer is armed for each write: a later write that blocks still ends."""
    store, ws = FakeStore(), FakeWS()
    deps = EdgeDeps(settings=Settings(send_timeout_s=0.2, heartbeat_ms=60000), producer=FakeProducer(),
                    connections=store, rooms=store, messages=store, clock=time.time)
    environ = {handshake.ENV_IDENTITY: Identity("alice", "customer", time.time() + 600),
               handshake.ENV_SUBPROTOCOL: "tidings.json", "REMOTE_ADDR": "10.0.0.1"}
    session = Session(ws, environ, deps)
    runner = gevent.spawn(session.run)
    ws.inbox.put(orjson.dumps({"type": "subscribe", "room": ROOM}).decode())
    settle()
    session.deliver(live(1))
    settle()   # written within the timeout: nothing happens
    assert not ws.closed
    ws.unblocked.clear()
    session.deliver(live(2))
    assert runner.join(timeout=5) is None and runner.dead
    assert ws.closed and ws.close_code is None   # aborted, no close frame to a peer not reading
    assert [f["seq"] for f in ws.frames() if f.get("type") == "message"] == [1]


def test_subscribe_membership_and_presence(world):
    client(world, type="subscribe", room="elsewhere")
    client(world, type="subscribe", room=ROOM)
    frames = world.ws.frames()
    assert frames[0]["code"] == contracts.ERR_UNKNOWN_ROOM
    assert frames[1] == {"type": "subscribed", "room": ROOM}
    kinds = [(r["type"], r.get("state")) for r, _, _ in world.producer.records]
    assert kinds == [(contracts.RECORD_PRESENCE, "join")]
    world.store.rooms[ROOM] = {"someone-else"}
    client(world, type="subscribe", room=ROOM)
    assert world.ws.frames()[-1]["code"] == contracts.ERR_FORBIDDEN


def test_end_unregisters_and_says_leave(world):
    client(world, type="subscribe", room=ROOM)
    assert world.session.id in world.store.registered
    world.ws.inbox.put(None)   # the peer goes away
    world.runner.join(timeout=5)   # the session has ended: run() returns after unregistering
    assert world.session.id not in world.store.registered
    assert world.deps.hub.get(world.session.id) is None
    assert [r.get("state") for r, _, _ in world.producer.records] == ["join", "leave"]


# --- membership is read after what it guards (tests/security/test_revocation.py end to end) ----

def test_live_events_wait_for_the_membership_check_and_vanish_if_it_fails(world):
    """A live message posted between the subscription write and the membership read is held;
    the read says "not a member" (removed meanwhile): it is never shown."""
    original = world.store.is_member

    def removed_meanwhile(room_id, user_id):
        assert world.session.deliver(live(1)) == 200   # the worker already sees the entry
        world.store.rooms[ROOM] = {"someone-else"}
        return original(room_id, user_id)

    world.store.is_member = removed_meanwhile
    client(world, type="subscribe", room=ROOM)
    frames = world.ws.frames()
    assert [f["type"] for f in frames] == ["error"] and frames[0]["code"] == contracts.ERR_FORBIDDEN
    assert world.session.id not in world.store.subs.get(ROOM, set())   # the entry was taken back


def test_an_unsubscribed_event_ends_the_room_and_later_messages_are_not_shown(world):
    client(world, type="subscribe", room=ROOM)
    world.session.deliver(live(1))
    world.session.deliver(ServerEvent({"type": "unsubscribed", "room": ROOM, "reason": "removed"}))
    world.session.deliver(live(2))
    settle()
    frames = world.ws.frames()
    assert [f.get("seq") for f in frames if f["type"] == "message"] == [1]
    assert frames[-1] == {"type": "unsubscribed", "room": ROOM, "reason": "removed"}
    assert ROOM not in world.session.rooms
    assert [r.get("state") for r, _, _ in world.producer.records] == ["join", "leave"]


def test_a_gap_fill_after_removal_reads_nothing(world):
    client(world, type="subscribe", room=ROOM)
    world.session.deliver(live(1))
    world.store.store(1, 2, 3)
    world.store.rooms[ROOM] = {"someone-else"}   # removed; the edge was not told
    world.session.deliver(live(3))               # a seq jump: the gap fill would read seq 2
    settle()
    frames = world.ws.frames()
    assert [f.get("seq") for f in frames if f["type"] == "message"] == [1]
    assert frames[-1]["type"] == "unsubscribed" and ROOM not in world.session.rooms


def test_a_refresh_that_finds_the_entry_gone_checks_membership(world):
    client(world, type="subscribe", room=ROOM)
    world.store.rooms[ROOM] = {"someone-else"}
    world.store.subs[ROOM].discard(world.session.id)
    world.session.rules.restore(ROOM)
    settle()
    assert world.session.id not in world.store.subs.get(ROOM, set())
    assert world.ws.frames()[-1] == {"type": "unsubscribed", "room": ROOM, "reason": "removed"}


def _pending_world(settings=None):
    settings = settings or Settings(outbound_queue_size=8, heartbeat_ms=60000, auth_timeout_s=0.3)
    store, producer = FakeStore(), FakeProducer()
    deps = EdgeDeps(settings=settings, producer=producer, connections=store, rooms=store, messages=store,
                    clock=time.time)
    ws = FakeWS()
    environ = {handshake.ENV_IDENTITY: None, handshake.ENV_SUBPROTOCOL: "tidings.json", "REMOTE_ADDR": "10.0.0.9"}
    session = Session(ws, environ, deps)
    runner = gevent.spawn(session.run)
    gevent.sleep(0.01)
    return SimpleNamespace(ws=ws, session=session, store=store, producer=producer, deps=deps, runner=runner)


def test_a_pending_socket_is_outside_the_hub_until_its_token():
    from functions.tokens import mint

    w = _pending_world()
    assert len(w.deps.pending) == 1 and len(w.deps.hub) == 0 and w.store.registered == {}
    token = mint(w.deps.settings, "alice", "customer")
    w.ws.inbox.put(orjson.dumps({"type": "auth", "token": token}).decode())
    settle()
    assert w.ws.frames()[0]["type"] == "authenticated"
    assert len(w.deps.pending) == 0 and w.deps.hub.get(w.session.id) is w.session
    assert w.store.registered == {w.session.id: "alice"}
    w.ws.inbox.put(None)
    w.runner.join(timeout=5)


def test_a_pending_socket_that_never_authenticates_is_closed():
    w = _pending_world()
    w.runner.join(timeout=5)
    assert w.ws.close_code == 1008 and w.ws.frames()[-1]["code"] == contracts.ERR_UNAUTHORIZED
    assert len(w.deps.pending) == 0 and w.store.registered == {}


def test_a_new_subscription_reads_the_room_again_after_the_workers_copies_expired(world):
    """A worker may deliver from a copy of the room's subscribers read before this one was
    added (up to TIDINGS_SUBS_CACHE_S): what it stored meanwhile comes from the store."""
    world.session.settings = world.deps.settings = dataclasses.replace(world.deps.settings, subs_cache_s=0.05)
    world.store.store(1)
    client(world, type="subscribe", room=ROOM)   # no afterSeq: live from here (stored seq 1)
    world.store.store(2, 3)                      # stored, but not delivered live to this one
    gevent.sleep(1.3)                            # the recheck after subs_cache_s + 1 s
    assert [f.get("seq") for f in world.ws.frames() if f["type"] == "message"] == [2, 3]
    assert world.deps.metrics.rechecks_filled._value.get() == 1


def test_a_change_during_catch_up_comes_after_the_message_it_changes(world):
    """Message 3 arrives live while the catch-up reads, then its edit: the client must see the
    edit after the (older) message event, or it would show the stale body."""
    world.store.store(1, 2)

    def meanwhile():
        world.session.deliver(live(3))
        world.session.deliver(ServerEvent({"type": "edited", "room": ROOM, "seq": 3, "messageId": f"{ROOM}:3",
                                           "body": "m3 fixed", "editedAt": 9, "version": 2}))

    world.store.during_read = meanwhile
    client(world, type="subscribe", room=ROOM, afterSeq=0)
    kinds = [(f["type"], f.get("seq")) for f in world.ws.frames()]
    assert kinds == [("message", 1), ("message", 2), ("message", 3), ("edited", 3), ("subscribed", None)]


def test_coming_back_gets_what_changed_among_the_messages_it_had(world):
    world.store.store(1, 2, 3, 4)
    messages = world.store.messages[ROOM]
    messages[0].update(deleted=True, changedSeq=4)
    del messages[0]["body"]
    messages[1].update(body="m2 fixed", editedAt=7, version=2, changedSeq=2)   # before seq 3: seen
    messages[2].update(reactions={"👍": ["bob"]}, changedSeq=3)
    client(world, type="subscribe", room=ROOM, afterSeq=3)
    frames = world.ws.frames()
    assert [(f["type"], f.get("seq")) for f in frames] == [("deleted", 1), ("reaction", 3), ("message", 4),
                                                           ("subscribed", None)]
    assert frames[1]["counts"] == {"👍": 1} and "userId" not in frames[1]


def test_connections_share_the_flow_budget_and_are_told_their_window():
    from websocket_edge.admission import Admission

    settings = Settings(outbound_queue_size=64, heartbeat_ms=60000, flow_window=16, flow_budget=8)
    store = FakeStore()
    deps = EdgeDeps(settings=settings, producer=FakeProducer(), connections=store, rooms=store, messages=store,
                    clock=time.time)
    deps.admission = Admission(settings, on_window=lambda w: [s.flow(w) for s in deps.hub.sessions()])
    sockets, runners = [], []
    for user in ("alice", "bob"):
        ws = FakeWS()
        environ = {handshake.ENV_IDENTITY: Identity(user, "customer", time.time() + 600),
                   handshake.ENV_SUBPROTOCOL: "tidings.json", "REMOTE_ADDR": "10.0.0.1"}
        runners.append(gevent.spawn(Session(ws, environ, deps).run))
        sockets.append(ws)
        settle()
    flows = [[f["window"] for f in ws.frames() if f["type"] == "flow"] for ws in sockets]
    assert flows == [[8, 4], [4]]   # alone: 8 of the budget; two: 4 each, both told once
    sockets[1].inbox.put(None)      # bob leaves: alice may have 8 again
    runners[1].join(timeout=5)
    assert [f["window"] for f in sockets[0].frames() if f["type"] == "flow"] == [8, 4, 8]
    sockets[0].inbox.put(None)
    runners[0].join(timeout=5)
