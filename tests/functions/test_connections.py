import pytest

from functions import tables
from functions.connections import Connections, live_subscribers
from functions.rooms import Rooms, UnknownRoom


class Clock:
    def __init__(self, t: float = 1_900_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def conns(settings, ddb, clock):
    return Connections(settings, ddb, clock=clock)


@pytest.fixture
def room(settings, ddb, uid):
    room_id = uid("room")
    Rooms(settings, ddb).create(room_id, "n", "alice", {"bob": "groomer"})
    return room_id


def test_register_get_and_of_user(conns, uid, clock, settings):
    user = uid("user")
    c1, c2 = uid("conn"), uid("conn")
    row = conns.register(c1, user, "customer", "http://edge-a", "203.0.113.9", "ua/1", 1_900_000_000_000)
    assert row["expiresAt"] == int(clock.t) + settings.connection_ttl_s
    conns.register(c2, user, "customer", "http://edge-b", None, None, 1_900_000_000_000)
    got = conns.get(c1)
    assert (got["userId"], got["edgeUrl"], got["sourceIp"], got["userAgent"]) == (user, "http://edge-a", "203.0.113.9", "ua/1")
    assert "sourceIp" not in conns.get(c2)
    assert [r["connectionId"] for r in conns.of_user(user)] == sorted([c1, c2])
    clock.t += settings.connection_ttl_s + 1  # expired rows are ignored on read
    assert conns.get(c1) is None and conns.of_user(user) == []


def test_subscribe_subscribers_online_users(conns, room, clock, settings):
    entry = conns.subscribe(room, "c1", "alice", "customer", "http://edge-a")
    assert entry == {"u": "alice", "r": "customer", "e": "http://edge-a", "x": int(clock.t) + settings.connection_ttl_s}
    conns.subscribe(room, "c2", "alice", "customer", "http://edge-b")
    conns.subscribe(room, "c3", "bob", "groomer", "http://edge-a")
    assert set(conns.subscribers(room)) == {"c1", "c2", "c3"}
    assert conns.online_users(room) == ["alice", "bob"]
    conns.unsubscribe(room, "c3")
    conns.unsubscribe(room, "never-subscribed")
    assert conns.online_users(room) == ["alice"]


def test_subscribe_to_unknown_room(conns, uid, settings, ddb):
    room_id = uid("room")
    with pytest.raises(UnknownRoom):
        conns.subscribe(room_id, "c1", "alice", "customer", "http://edge")
    # and no room item was created on the way
    assert "Item" not in ddb.get_item(TableName=settings.table_name(tables.ROOMS.logical),
                                      Key={"roomId": {"S": room_id}})
    conns.unsubscribe(room_id, "c1")  # nothing to do, no error
    assert "Item" not in ddb.get_item(TableName=settings.table_name(tables.ROOMS.logical),
                                      Key={"roomId": {"S": room_id}})


def test_subscribe_to_a_room_item_without_subs(conns, uid, settings, ddb):
    room_id = uid("room")
    ddb.put_item(TableName=settings.table_name(tables.ROOMS.logical), Item={"roomId": {"S": room_id}})
    conns.subscribe(room_id, "c1", "alice", "customer", "http://edge")
    assert set(conns.subscribers(room_id)) == {"c1"}


def test_expired_subscriptions_are_filtered_and_refresh_extends(conns, room, clock, settings, uid):
    c1, c2 = uid("conn"), uid("conn")
    conns.register(c1, "alice", "customer", "http://edge", None, None, 0)
    conns.subscribe(room, c1, "alice", "customer", "http://edge")
    conns.subscribe(room, c2, "bob", "groomer", "http://edge")
    clock.t += settings.connection_ttl_s - 10
    assert conns.refresh(c1, [room]) == set()
    clock.t += 20  # c2 expired, c1 refreshed
    assert set(conns.subscribers(room)) == {c1}
    assert conns.online_users(room) == ["alice"]
    assert conns.get(c1)["expiresAt"] > clock.t
    other = "never-" + c1
    assert conns.refresh(c1, [room, other]) == {other}  # missing subscriptions are reported


def test_live_subscribers_on_items():
    item = {"subs": {"a": {"u": "x", "e": "http://e", "x": 10}, "b": {"u": "y", "e": "http://e", "x": 30}}}
    assert set(live_subscribers(item, now_s=20)) == {"b"}
    assert live_subscribers(None) == {} and live_subscribers({"roomId": "r"}) == {}


def test_unregister(conns, room, uid):
    c1 = uid("conn")
    conns.register(c1, "alice", "customer", "http://edge", None, None, 0)
    conns.subscribe(room, c1, "alice", "customer", "http://edge")
    conns.unregister(c1, [room])
    assert conns.get(c1) is None and conns.subscribers(room) == {}


def test_remove_gone(conns, settings, ddb, uid):
    rooms = Rooms(settings, ddb)
    r1, r2 = uid("room"), uid("room")
    rooms.create(r1, "n", "alice")
    rooms.create(r2, "n", "alice")
    ids = [uid("conn") for _ in range(4)]
    for cid in ids:
        conns.register(cid, "alice", "customer", "http://edge", None, None, 0)
        conns.subscribe(r1, cid, "alice", "customer", "http://edge")
    conns.subscribe(r2, ids[0], "alice", "customer", "http://edge")
    removed = conns.remove_gone({r1: [ids[0], ids[1]], r2: [ids[0]], uid("room"): ["x"]}, others=[ids[2]])
    assert removed == 4  # ids[0], ids[1], ids[2] and "x"
    assert set(conns.subscribers(r1)) == {ids[2], ids[3]}
    assert conns.subscribers(r2) == {}
    assert [conns.get(c) is None for c in ids] == [True, True, True, False]
