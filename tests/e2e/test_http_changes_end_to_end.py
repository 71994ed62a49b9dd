"""Edit, delete and react through the HTTP API on the real stack: the gateway and the HTTP
function produce to Kafka, the event source mapping runs the chat worker, members subscribed
on the edges see the change live, the answer and the history show the new state, a retry
applies once, and every kind of bad input is refused with nothing changed."""

from __future__ import annotations

import time
import uuid

import orjson
import pytest
import requests

from functions import contracts
from functions.tokens import mint
from harness import produce_sync
from test_changes_end_to_end import WAIT, event, history, sent


@pytest.fixture
def api(local_stack, settings):
    base = local_stack.endpoints()["gateway"]["api"]

    def call(method: str, path: str, user, body=None, params=None) -> requests.Response:
        token = mint(settings, user.id, user.role)
        return requests.request(method, f"{base}{path}", json=body, params=params, timeout=WAIT,
                                headers={"authorization": f"Bearer {token}"})
    return call


def test_http_changes_reach_members_live_and_are_answered_with_the_new_state(chat, api, settings):
    mine = sent(chat.c, chat.room, "helo")
    theirs = sent(chat.g, chat.room, "Sure!")
    seq = mine["seq"]

    edit = {"content": "hello", "clientMsgId": f"http-{uuid.uuid4().hex[:8]}"}
    answer = api("PATCH", f"/rooms/{chat.room}/messages/{seq}", chat.customer, edit)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["body"], answer.json()["version"]) == ("hello", 2)
    for client in (chat.c, chat.g):   # the sender's own socket too: the change came over HTTP
        live = event(client, "edited", messageId=mine["messageId"])
        assert (live["body"], live["version"], live["clientMsgId"]) == ("hello", 2, edit["clientMsgId"])
    # a retry with the same clientMsgId is applied once (version 2, not 3)
    again = api("PATCH", f"/rooms/{chat.room}/messages/{seq}", chat.customer, edit)
    assert (again.status_code, again.json()["version"]) == (200, 2)

    react = api("POST", f"/rooms/{chat.room}/messages/{theirs['seq']}/reactions", chat.customer, {"emoji": "🐶"})
    assert (react.status_code, react.json()["reactions"]) == (200, {"🐶": [chat.customer.id]}), react.text
    live = event(chat.g, "reaction", messageId=theirs["messageId"])
    assert (live["userId"], live["added"], live["counts"]) == (chat.customer.id, True, {"🐶": 1})

    gone = api("DELETE", f"/rooms/{chat.room}/messages/{theirs['seq']}", chat.groomer)
    assert (gone.status_code, gone.json()["deleted"], gone.json()["body"]) == (200, True, None), gone.text
    assert event(chat.c, "deleted", messageId=theirs["messageId"])["deletedBy"] == chat.groomer.id

    page = api("GET", f"/rooms/{chat.room}/messages", chat.groomer).json()["items"]
    assert [(m["body"], m.get("version"), m.get("deleted")) for m in page] == [("hello", 2, None),
                                                                               (None, None, True)]
    assert [m.get("body") for m in history(settings, chat.room)] == ["hello", None]
    edits = [f for f in chat.g.frames if f["type"] == "edited"]
    assert len(edits) == 1   # the retry told nobody anything


def test_http_bad_changes_are_refused_and_change_nothing(chat, api, settings, new_user, new_room):
    mine = sent(chat.c, chat.room, "the customer's")
    theirs = sent(chat.g, chat.room, "the groomer's")
    # a message sent longer ago than the edit window (produced as an edge would have)
    old_id = f"old-{uuid.uuid4().hex[:8]}"
    record = {"v": 1, "type": contracts.RECORD_SEND, "roomId": chat.room, "clientMsgId": old_id,
              "senderId": chat.customer.id, "senderRole": "customer", "body": "long ago",
              "sentAt": int(time.time() * 1000) - (settings.edit_window_s + 5) * 1000,
              "connectionId": "gone", "edgeUrl": "http://127.0.0.1:9/"}
    produce_sync(settings, settings.chat_topic, [(chat.room, orjson.dumps(record))])
    old = event(chat.c, "message", clientMsgId=old_id)
    stranger = new_user()
    new_room(stranger)
    room, seq = chat.room, mine["seq"]
    cases = [
        ("PATCH", f"/rooms/{room}/messages/{theirs['seq']}", chat.customer, {"content": "mine now"}, 403, "forbidden"),
        ("DELETE", f"/rooms/{room}/messages/{seq}", chat.groomer, None, 403, "forbidden"),
        ("PATCH", f"/rooms/{room}/messages/{old['seq']}", chat.customer, {"content": "too late"}, 409, "too_late"),
        ("POST", f"/rooms/{room}/messages/{seq}/reactions", chat.groomer, {"emoji": "👍👍"}, 400, "bad_request"),
        ("POST", f"/rooms/{room}/messages/{seq}/reactions", chat.groomer, {"emoji": "ok"}, 400, "bad_request"),
        ("PATCH", f"/rooms/{room}/messages/{old['seq'] + 50}", chat.customer, {"content": "x"}, 404, "not_found"),
        ("PATCH", f"/rooms/{room}/messages/{seq}", stranger, {"content": "x"}, 403, "forbidden"),
        ("POST", f"/rooms/{room}/messages/{seq}/reactions", stranger, {"emoji": "👍"}, 403, "forbidden"),
        # ids checked whole (the gateway itself refuses a control character in the path: 400 too)
        ("PATCH", f"/rooms/{room}/messages/{seq}%0A", chat.customer, {"content": "x"}, 400, None),
        ("PATCH", f"/rooms/{room}%0A/messages/{seq}", chat.customer, {"content": "x"}, 400, None),
        ("DELETE", f"/rooms/{room}/messages/{seq}%0D%0A", chat.customer, None, 400, None),
        ("DELETE", f"/rooms/{room}/messages/{seq}%2F..%2F{seq}", chat.customer, None, 400, None),
        ("PATCH", f"/rooms/{room}/messages/0{seq}", chat.customer, {"content": "x"}, 400, "bad_request"),
        ("PATCH", f"/rooms/{room}/messages/{seq}", chat.customer, {"content": " "}, 400, "bad_request"),
    ]
    for method, path, user, body, status, code in cases:
        answer = api(method, path, user, body)
        assert answer.status_code == status, (method, path, answer.text)
        assert code is None or answer.json().get("error", {}).get("code") == code, (method, path, answer.text)
    # nothing changed, nobody was told anything: a last change shows the room is past them all
    assert api("PATCH", f"/rooms/{room}/messages/{seq}", chat.customer, {"content": "fine"}).status_code == 200
    event(chat.g, "edited", messageId=mine["messageId"])
    assert [(f["messageId"], f.get("body")) for f in chat.g.frames if f["type"] in contracts.EVENT_CHANGES] \
        == [(mine["messageId"], "fine")]
    assert [(m["body"], m.get("version"), m.get("reactions")) for m in history(settings, room)] == [
        ("fine", 2, None), ("the groomer's", None, None), ("long ago", None, None)]
