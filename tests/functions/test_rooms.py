import pytest

from functions import tables
from functions.connections import Connections
from functions.rooms import RoomExists, Rooms, UnknownRoom


@pytest.fixture
def rooms(settings, ddb):
    return Rooms(settings, ddb)


def test_create_and_get(rooms, uid, ddb, settings):
    room_id, alice, bob = uid("room"), uid("alice"), uid("bob")
    created = rooms.create(room_id, "Grooming", alice, {bob: "groomer"})
    assert created["roomId"] == room_id and created["createdBy"] == alice
    assert {m["userId"]: m["role"] for m in created["members"]} == {bob: "groomer", alice: "customer"}
    room = rooms.get(room_id)
    assert room["name"] == "Grooming" and "subs" not in room and room["createdAt"] > 0
    raw = ddb.get_item(TableName=settings.table_name(tables.ROOMS.logical), Key={"roomId": {"S": room_id}})
    assert raw["Item"]["subs"] == {"M": {}}
    assert rooms.get(uid("room")) is None


def test_create_twice_raises(rooms, uid):
    room_id = uid("room")
    rooms.create(room_id, "one", uid("u"), {})
    with pytest.raises(RoomExists):
        rooms.create(room_id, "two", uid("u"), {})
    assert rooms.get(room_id)["name"] == "one"


def test_create_validates(rooms, uid):
    with pytest.raises(ValueError):
        rooms.create("bad room id", "n", uid("u"))
    with pytest.raises(ValueError):
        rooms.create(uid("room"), "n", uid("u"), {"x": "superuser"})
    with pytest.raises(ValueError):
        rooms.create(uid("room"), "", uid("u"))


def test_creator_role_can_be_given(rooms, uid):
    room_id, alice = uid("room"), uid("alice")
    rooms.create(room_id, "n", alice, {alice: "groomer"})
    assert rooms.members(room_id)[0]["role"] == "groomer"
    other = uid("room")
    rooms.create(other, "n", alice, creator_role="admin")
    assert rooms.members(other)[0]["role"] == "admin"


def test_membership_and_members(rooms, uid):
    room_id, alice, bob, carol = uid("room"), uid("alice"), uid("bob"), uid("carol")
    rooms.create(room_id, "n", alice, {bob: "groomer"})
    assert rooms.membership(room_id, alice) == "member"
    assert rooms.membership(room_id, carol) == "not_member"
    assert rooms.membership(uid("room"), alice) == "unknown_room"
    rooms.add_member(room_id, carol, "customer")
    assert rooms.membership(room_id, carol) == "member"
    joined = {m["userId"]: m for m in rooms.members(room_id)}
    rooms.add_member(room_id, carol, "admin")  # role changes, joinedAt stays
    again = {m["userId"]: m for m in rooms.members(room_id)}
    assert again[carol]["role"] == "admin" and again[carol]["joinedAt"] == joined[carol]["joinedAt"]
    assert sorted(again) == sorted([alice, bob, carol])
    assert rooms.remove_member(room_id, bob) == {}      # removed; no live subscription ended
    assert rooms.remove_member(room_id, bob) is None    # not a member (any more)
    assert rooms.membership(room_id, bob) == "not_member"


def test_add_member_to_unknown_room(rooms, uid):
    with pytest.raises(UnknownRoom):
        rooms.add_member(uid("room"), uid("u"), "customer")


def test_remove_member_drops_their_subscriptions(rooms, settings, ddb, uid):
    room_id, alice, bob = uid("room"), uid("alice"), uid("bob")
    rooms.create(room_id, "n", alice, {bob: "customer"})
    conns = Connections(settings, ddb)
    conns.subscribe(room_id, "c-bob", bob, "customer", "http://edge")
    conns.subscribe(room_id, "c-alice", alice, "customer", "http://edge")
    ended = rooms.remove_member(room_id, bob)
    assert set(ended) == {"c-bob"} and ended["c-bob"]["e"] == "http://edge"   # for the edges to be told
    assert set(conns.subscribers(room_id)) == {"c-alice"}


def test_rooms_of(rooms, uid):
    alice, bob = uid("alice"), uid("bob")
    r1, r2, r3 = sorted(uid("room") for _ in range(3))
    rooms.create(r1, "first", alice, {bob: "groomer"})
    rooms.create(r2, "second", bob, {alice: "admin"})
    rooms.create(r3, "third", bob)
    mine = rooms.rooms_of(alice)
    assert [(r["roomId"], r["name"], r["role"]) for r in mine] == [(r1, "first", "customer"), (r2, "second", "admin")]
    assert [r["roomId"] for r in rooms.rooms_of(bob)] == [r1, r2, r3]
    assert rooms.rooms_of(uid("nobody")) == []
