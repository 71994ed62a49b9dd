"""Rooms and members through functions.http.api.handler, on a real dynalite."""

from http_harness import path, v2_event

from functions import contracts
from functions.http.api import handler  # noqa: F401 (the Lambda entry point exists)


def test_create_room_creator_is_member_with_token_role(client, uid):
    alice, bob, room_id = uid("alice"), uid("bob"), uid("room")
    status, body = client.call("POST", "/rooms", user=alice, role="groomer", body={
        "roomId": room_id, "name": "Grooming", "members": [{"userId": bob, "role": "customer"},
                                                           {"userId": alice, "role": "admin"}]})
    assert status == 201, body
    assert body["roomId"] == room_id and body["createdBy"] == alice and body["lastSeq"] == 0
    assert {m["userId"]: m["role"] for m in body["members"]} == {alice: "groomer", bob: "customer"}
    status, again = client.call("POST", "/rooms", user=alice, body={"roomId": room_id, "name": "x"})
    assert status == 409 and again["error"]["code"] == contracts.ERR_CONFLICT


def test_create_room_generates_id(client, uid):
    status, body = client.call("POST", "/rooms", user=uid("u"), body={"name": "no id"})
    assert status == 201 and contracts.ROOM_ID.valid(body["roomId"])
    status, got = client.call("GET", path("rooms", body["roomId"]), user=body["createdBy"])
    assert status == 200 and got["name"] == "no id"


def test_create_room_base64_body(api, uid):
    alice = uid("alice")
    event = v2_event("POST", "/rooms", user=alice, body={"name": "Café"}, base64_body=True)
    response = api.handle(event, None)
    assert response["statusCode"] == 201, response


def test_create_room_bad_input(client, uid):
    alice = uid("alice")
    cases = [
        {"name": ""}, {"name": "   "}, {"name": 5}, {}, {"name": "x" * 201},
        {"name": "n", "roomId": "bad id"}, {"name": "n", "roomId": 7},
        {"name": "n", "members": {"bob": "groomer"}},
        {"name": "n", "members": [{"userId": "bob"}]},
        {"name": "n", "members": [{"userId": "bob", "role": "king"}]},
        {"name": "n", "members": [{"userId": "b o b", "role": "customer"}]},
        {"name": "n", "members": [{"userId": "bob", "role": "customer"}, {"userId": "bob", "role": "admin"}]},
        {"name": "n", "members": [{"userId": "bob", "role": "customer", "x": 1}]},
        {"name": "n", "colour": "red"},
    ]
    for body in cases:
        status, answer = client.call("POST", "/rooms", user=alice, body=body)
        assert status == 400, (body, answer)
        assert answer["error"]["code"] == contracts.ERR_BAD_REQUEST and answer["error"]["message"]
    for raw in ("{", "[]", "null", "1", "", "\"name\""):
        status, answer = client.call("POST", "/rooms", user=alice, raw_body=raw)
        assert status == 400 and answer["error"]["code"] == contracts.ERR_BAD_FRAME, (raw, answer)
    status, answer = client.call("POST", "/rooms", user=alice, raw_body='{"name": "' + "x" * 70000 + '"}')
    assert status == 413 and answer["error"]["code"] == contracts.ERR_TOO_LARGE


def test_get_room_members_only(client, uid):
    alice, bob, eve = uid("alice"), uid("bob"), uid("eve")
    room_id = client.room(alice, {bob: "groomer"})
    status, body = client.call("GET", path("rooms", room_id), user=bob, role="groomer")
    assert status == 200
    assert body["roomId"] == room_id and body["name"] == "test room" and body["createdBy"] == alice
    assert [m["userId"] for m in body["members"]] == sorted([alice, bob])
    assert all(m["joinedAt"] > 0 for m in body["members"])
    status, body = client.call("GET", path("rooms", room_id), user=eve)
    assert status == 403 and body["error"]["code"] == contracts.ERR_FORBIDDEN
    status, body = client.call("GET", path("rooms", uid("room")), user=alice)
    assert status == 404 and body["error"]["code"] == contracts.ERR_UNKNOWN_ROOM
    status, body = client.call("GET", "/rooms/bad%20id", user=alice)
    assert status == 400 and body["error"]["code"] == contracts.ERR_BAD_REQUEST


def test_list_rooms_with_last_message_and_unread(client, sender, uid):
    alice, bob = uid("alice"), uid("bob")
    quiet, busy = client.room(alice), client.room(alice, {bob: "groomer"})
    sender.send(busy, bob, 5, role="groomer")
    status, body = client.call("GET", "/rooms", user=alice)
    assert status == 200
    assert [r["roomId"] for r in body["rooms"]] == [busy, quiet]  # most recent activity first
    by_id = {r["roomId"]: r for r in body["rooms"]}
    assert by_id[busy]["lastSeq"] == 5 and by_id[busy]["unread"] == 5 and by_id[busy]["readSeq"] == 0
    assert by_id[busy]["lastMessage"]["seq"] == 5 and by_id[busy]["lastMessage"]["senderId"] == bob
    assert by_id[quiet] | {"lastMessage": None} == by_id[quiet] and by_id[quiet]["unread"] == 0
    assert by_id[busy]["role"] == "customer"
    client.call("PUT", path("rooms", busy, "read"), user=alice, body={"seq": 3})
    status, body = client.call("GET", "/rooms", user=alice)
    assert {r["roomId"]: r["unread"] for r in body["rooms"]} == {busy: 2, quiet: 0}
    status, body = client.call("GET", "/rooms", user=uid("nobody"))
    assert status == 200 and body == {"rooms": []}


def test_add_member_rules(client, uid):
    alice, bob, carol, eve = uid("alice"), uid("bob"), uid("carol"), uid("eve")
    room_id = client.room(alice, {bob: "groomer"})
    members = path("rooms", room_id, "members")
    status, body = client.call("POST", members, user=bob, role="groomer", body={"userId": carol, "role": "customer"})
    assert status == 201 and body["userId"] == carol and body["role"] == "customer" and body["joinedAt"] > 0
    status, body = client.call("POST", members, user=alice, body={"userId": carol, "role": "customer"})
    assert status == 200 and body["userId"] == carol  # already a member, same role: no-op
    status, body = client.call("POST", members, user=alice, body={"userId": carol, "role": "admin"})
    assert status == 409 and body["error"]["code"] == contracts.ERR_CONFLICT
    status, body = client.call("POST", members, user=eve, body={"userId": eve, "role": "customer"})
    assert status == 403  # a non-member cannot add anyone, themselves included
    status, body = client.call("POST", path("rooms", uid("room"), "members"), user=alice,
                               body={"userId": carol, "role": "customer"})
    assert status == 404
    for bad in ({"userId": carol}, {"role": "customer"}, {"userId": "a b", "role": "customer"},
                {"userId": carol, "role": "boss"}, {"userId": 3, "role": "customer"}, {"userId": carol, "role": None}):
        status, body = client.call("POST", members, user=alice, body=bad)
        assert status == 400, bad
    status, body = client.call("GET", path("rooms", room_id), user=carol)
    assert status == 200


def test_remove_member_rules(client, uid):
    alice, bob, carol = uid("alice"), uid("bob"), uid("carol")
    room_id = client.room(alice, {bob: "groomer", carol: "customer"})
    status, body = client.call("DELETE", path("rooms", room_id, "members", carol), user=bob, role="groomer")
    assert status == 403 and body["error"]["code"] == contracts.ERR_FORBIDDEN  # only the creator removes others
    status, body = client.call("DELETE", path("rooms", room_id, "members", bob), user=bob, role="groomer")
    assert status == 200 and body == {"roomId": room_id, "userId": bob, "removed": True}  # oneself
    assert client.call("GET", path("rooms", room_id), user=bob, role="groomer")[0] == 403
    status, body = client.call("DELETE", path("rooms", room_id, "members", carol), user=alice)
    assert status == 200  # the creator removes anyone
    status, body = client.call("DELETE", path("rooms", room_id, "members", carol), user=alice)
    assert status == 404 and body["error"]["code"] == contracts.ERR_NOT_FOUND
    status, body = client.call("DELETE", path("rooms", room_id, "members", "bad id"), user=alice)
    assert status == 400
    status, body = client.call("GET", path("rooms", room_id), user=alice)
    assert [m["userId"] for m in body["members"]] == [alice]
