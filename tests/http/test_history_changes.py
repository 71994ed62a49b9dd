"""History and the room list give a message's final state: edits, deletions, reactions and
reply quotes (issue 16), in the documented shape."""

from __future__ import annotations

from http_harness import path
from test_openapi import response_location, validator

from functions import message_changes as changes
from functions import tables
from functions.store import Store


def change_stored(settings, ddb, room_id: str, seq: int, apply) -> None:
    """Apply one of functions.message_changes' rules to a stored message, as the worker would."""
    store = Store(settings, ddb)
    [item] = store.batch_get({tables.MESSAGES: [{"roomId": room_id, "seq": seq}]})[tables.MESSAGES]
    apply(item)
    store.batch_write({tables.MESSAGES: [item]})


def test_history_shows_the_latest_version_tombstones_reactions_and_quotes(client, sender, settings, ddb, uid):
    alice, bob = uid("alice"), uid("bob")
    room_id = client.room(alice, {bob: "groomer"})
    sender.send(room_id, alice, 3)
    edit = {"body": "message 1, fixed", "sentAt": 1_900_000_000_000, "clientMsgId": "e1"}
    change_stored(settings, ddb, room_id, 1, lambda i: changes.edit(i, alice, {**edit, "sentAt": i["sentAt"] + 5},
                                                                    "d1", 1, 900_000))
    change_stored(settings, ddb, room_id, 2, lambda i: changes.react(i, bob, {"emoji": "👍"}, "d2", 2))
    change_stored(settings, ddb, room_id, 2, lambda i: i.update(replyTo={"messageId": f"{room_id}:1", "seq": 1,
                                                                         "senderId": alice, "quote": "message 1"}))
    change_stored(settings, ddb, room_id, 3, lambda i: changes.delete(i, alice, {"sentAt": i["sentAt"] + 9},
                                                                      "d3", 3, alice))
    status, page = client.call("GET", path("rooms", room_id, "messages"), user=bob)
    assert status == 200
    validator(*response_location("/rooms/{roomId}/messages", "GET", 200)).validate(page)
    first, second, third = page["items"]
    assert (first["body"], first["version"]) == ("message 1, fixed", 2) and isinstance(first["editedAt"], int)
    assert second["reactions"] == {"👍": [bob]} and second["replyTo"]["quote"] == "message 1"
    assert "editedAt" not in second and "deleted" not in second
    assert third["deleted"] is True and third["body"] is None and third["deletedBy"] == alice

    status, rooms = client.call("GET", "/rooms", user=bob)
    validator(*response_location("/rooms", "GET", 200)).validate(rooms)
    [summary] = [r for r in rooms["rooms"] if r["roomId"] == room_id]
    assert summary["lastMessage"]["body"] == "" and summary["lastMessage"]["deleted"] is True
