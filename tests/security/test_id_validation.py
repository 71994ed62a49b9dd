"""Class: id validation.

Finding: ROOM_ID_RE / USER_ID_RE were `^...$` used with `.match()`, and `$` also matches
before a final newline: `POST /rooms` with roomId "x\\n" wrote a look-alike room and then
answered 500, and a user added to such a room lost live chat in the web client on every
connect (its SUBSCRIBE failed). Now every id is checked on its whole value
(`contracts.IdPattern.valid`, fullmatch) and control characters are refused in every id,
header and destination.
"""

from __future__ import annotations

import jwt
import orjson
import pytest
from hypothesis import example, given, settings as hsettings, strategies as st

from functions import contracts, tokens
from functions.settings import Settings
from functions.tables import MEMBERS, ROOMS
from local.demo.client import ChatClient
from stomp_wire import StompWire
from websocket_edge.json_protocol import JsonProtocol
from websocket_edge.protocol import Invalid, Send, Subscribe
from websocket_edge.stomp_protocol import StompProtocol

CONTROLS = [chr(c) for c in range(0x20)] + ["\x7f", "\x85", "\u2028", "\u2029"]
ID_CHARS = st.sampled_from("abcXYZ019_.:-")
_ids = st.text(ID_CHARS, min_size=1, max_size=20)
# an id with at least one control character somewhere (the trailing newline included)
tainted = st.builds(lambda a, c, b: a + c + b, st.text(ID_CHARS, max_size=8), st.sampled_from(CONTROLS),
                    st.text(ID_CHARS, max_size=8))


def test_post_rooms_with_a_newline_id_is_refused_and_writes_nothing(settings, ddb, new_user, api):
    owner, other = new_user(), new_user("groomer")
    for room_id in ("evil-room\n", "evil\r\n", "ev\x00il"):
        answer = api(owner, "POST", "/rooms", json={"roomId": room_id, "name": "look-alike"})
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "bad_request"
        for table, key in ((ROOMS, {"roomId": {"S": room_id}}),
                           (MEMBERS, {"roomId": {"S": room_id}, "userId": {"S": owner.id}})):
            found = ddb.get_item(TableName=settings.table_name(table.logical), Key=key, ConsistentRead=True)
            assert "Item" not in found, (table, room_id)
    room = api(owner, "POST", "/rooms", json={"name": "fine"}).json()["roomId"]
    for user_id in (other.id + "\n", other.id + "\x85"):
        answer = api(owner, "POST", f"/rooms/{room}/members", json={"userId": user_id, "role": "groomer"})
        assert answer.status_code == 400
    assert [m["userId"] for m in api(owner, "GET", f"/rooms/{room}").json()["members"]] == [owner.id]
    answer = api(owner, "POST", "/rooms", json={"name": "line\nbreak"})
    assert answer.status_code == 400


def test_dev_login_refuses_a_newline_user(ports):
    import requests

    answer = requests.post(f"http://127.0.0.1:{ports['gateway']}/dev/login",
                           json={"userId": "ann\n", "role": "customer"}, timeout=10)
    assert answer.status_code == 400


def test_json_protocol_refuses_newline_ids_and_stays_usable(ws_url, new_user, new_room):
    user = new_user()
    room = new_room(user)
    client = ChatClient(ws_url("edge-a"), user.token)
    try:
        client.send_json({"type": "subscribe", "room": room + "\n"})
        assert client.wait_for(lambda f: f["type"] == "error")["code"] == "bad_request"
        client.send_json({"type": "send", "room": room, "clientMsgId": "c1\n", "body": "x"})
        assert client.wait_for(lambda f: f["type"] == "error" and "clientMsgId" in f["message"])["code"] == "bad_request"
        assert client.subscribe(room)["type"] == "subscribed"
    finally:
        client.close()


def test_stomp_headers_with_control_characters_are_refused(ws_url, new_user, new_room):
    user = new_user()
    room = new_room(user)
    # STOMP 1.2 escapes: "\\n" in a header value decodes to a newline
    for headers in ({"id": "0", "destination": f"/sub/chat/{room}\\n"},
                    {"id": "0\\r", "destination": f"/sub/chat/{room}"},
                    {"id": "0", "destination": f"/sub/chat/{room}", "receipt": "r\\n1"}):
        client = StompWire(ws_url("edge-b"), user.token)
        try:
            client.send("SUBSCRIBE", headers)
            error = client.next_frame()
            assert error.command == "ERROR" and error.get("message") in ("bad_frame", "bad_request"), headers
            assert client.closed_within(10)
        finally:
            client.close()


def test_a_token_whose_subject_ends_in_a_newline_is_refused():
    settings = Settings()
    claims = {"sub": "ann\n", "role": "customer", "iss": settings.jwt_issuer, "aud": settings.jwt_audience,
              "iat": 1, "exp": 4_000_000_000}
    with pytest.raises(tokens.TokenError):
        tokens.verify(settings, jwt.encode(claims, settings.jwt_secret, algorithm="HS256"))


# --- hypothesis: any id with a control character, through every validator --------------------

@hsettings(max_examples=300, deadline=None)
@given(bad=tainted, good=_ids)
@example(bad="room-1\n", good="room-1")   # the finding: `$` matched before a trailing newline
def test_contract_patterns_refuse_control_characters(bad, good):
    for pattern in (contracts.ROOM_ID, contracts.USER_ID, contracts.CLIENT_MSG_ID):
        assert not pattern.valid(bad)
        assert pattern.valid(good)


@hsettings(max_examples=200, deadline=None)
@given(bad=tainted)
@example(bad="room-1\n")
def test_json_protocol_refuses_tainted_rooms_and_ids(bad):
    protocol = JsonProtocol()
    for frame in ({"type": "subscribe", "room": bad},
                  {"type": "send", "room": bad, "clientMsgId": "c1", "body": "hi"},
                  {"type": "send", "room": "r1", "clientMsgId": bad, "body": "hi"},
                  {"type": "typing", "room": bad}, {"type": "unsubscribe", "room": bad}):
        (action,) = protocol.decode(orjson.dumps(frame))
        assert isinstance(action, Invalid), frame


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace(":", "\\c")


@hsettings(max_examples=200, deadline=None)
@given(bad=tainted, where=st.sampled_from(["subscribe", "send", "receipt", "id", "client-msg-id"]))
@example(bad="room-1\n", where="subscribe")
def test_stomp_adapter_refuses_tainted_destinations_and_headers(bad, where):
    protocol = StompProtocol(tokens.Identity("u1", "customer", 4e9), Settings())
    protocol.decode(b"CONNECT\naccept-version:1.2\nhost:x\n\n\x00")
    headers = {"destination": "/sub/chat/r1", "id": "s1"}
    command = "SUBSCRIBE"
    if where == "subscribe":
        headers["destination"] = "/sub/chat/" + bad
    elif where == "send":
        command, headers = "SEND", {"destination": "/pub/chat/send/" + bad}
    else:
        headers[where] = bad
    frame = command + "\n" + "".join(f"{k}:{_escape(v)}\n" for k, v in headers.items()) + "\n{}\x00"
    actions = protocol.decode(frame.encode("utf-8"))
    assert not any(isinstance(a, (Subscribe, Send)) for a in actions), (where, bad)
    assert any(isinstance(a, Invalid) for a in actions)


@hsettings(max_examples=200, deadline=None)
@given(bad=tainted, field=st.sampled_from(["roomId", "senderId", "clientMsgId"]))
@example(bad="room-1\n", field="roomId")
def test_the_worker_refuses_tainted_records(bad, field):
    record = {"v": 1, "type": "chat.send", "roomId": "r1", "clientMsgId": "c1", "senderId": "u1",
              "senderRole": "customer", "body": "hi", "sentAt": 1, "connectionId": "c", "edgeUrl": "http://e"}
    from functions.chat_worker import invalid_reason

    record[field] = bad
    assert invalid_reason(record, record["roomId"].encode()) is not None, (field, bad)


def test_attachment_ids_are_checked_whole_and_stay_in_their_room(new_user, new_room, api):
    """An attachment is fetched by its room and id: an id with a trailing newline or an encoded
    slash is refused, and another room's attachment is not found through a room one belongs to."""
    ann, gus, eve = new_user(), new_user("groomer"), new_user()
    room, other = new_room(ann, gus), new_room(eve)
    made = api(eve, "POST", f"/rooms/{other}/attachments", json={"contentType": "image/png", "bytes": 1000})
    assert made.status_code == 201, made.text
    att_id = made.json()["attId"]
    for bad in (att_id + "%0A", att_id + "%0D%0A", f"..%2F..%2F{other}%2Fattachments%2F{att_id}"):
        answer = api(ann, "GET", f"/rooms/{room}/attachments/{bad}")
        assert answer.status_code == 400 and "contentType" not in answer.text, (bad, answer.text)
    assert api(ann, "GET", f"/rooms/{room}/attachments/{att_id}").status_code == 404   # eve's, in her room
    assert api(ann, "GET", f"/rooms/{other}/attachments/{att_id}").status_code == 403  # not a member
    assert api(eve, "GET", f"/rooms/{other}/attachments/{att_id}").status_code == 200


def test_message_change_routes_check_room_and_seq_whole(new_user, new_room, api):
    """PATCH/DELETE /rooms/{roomId}/messages/{seq} and POST .../reactions: a seq or room id with
    a trailing newline, CRLF or an encoded slash is a 400 (before anything is produced)."""
    ann, gus = new_user(), new_user("groomer")
    room = new_room(ann, gus)
    for room_part, seq_part in ((room, "1%0A"), (room, "1%0D%0A"), (room, "1%2F..%2F2"), (room + "%0A", "1"),
                                (f"..%2F{room}", "1"), (room, "01"), (room, "0")):
        base = f"/rooms/{room_part}/messages/{seq_part}"
        for method, path, body in (("PATCH", base, {"content": "x"}), ("DELETE", base, None),
                                   ("POST", base + "/reactions", {"emoji": "👍"})):
            answer = api(ann, method, path, json=body)
            assert answer.status_code == 400, (method, path, answer.text)
