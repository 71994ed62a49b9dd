"""A send's photo (`attachment: {key}`): what both protocols accept and refuse, what the chat
worker's records take (functions/chat_records.py) and how the planner decides on the
attachment items it is given (functions/chat_plan.py). End to end:
tests/e2e/test_attachments_end_to_end.py."""

from __future__ import annotations

import pytest

from functions import contracts as c
from functions.chat_plan import Planner
from functions.chat_records import ChatRecord, invalid_reason
from functions.room_state import RoomState
from websocket_edge.protocol import Invalid

from test_change_rules import json_decode, record, stomp_send

ATT = "0123456789abcdef" * 2
KEY = f"rooms/r1/{ATT}"


def test_json_and_stomp_sends_carry_the_key_only():
    sent = json_decode({"type": "send", "room": "r1", "clientMsgId": "s", "body": "b", "attachment": {"key": KEY}})
    assert sent.record_fields() == {"clientMsgId": "s", "attachment": {"key": KEY}, "body": "b"}
    stomped = stomp_send("/pub/chat/send/r1", {"content": "b", "attachment": {"key": KEY}})
    assert dict(stomped.fields) == {"attachment": {"key": KEY}}


@pytest.mark.parametrize("attachment", [
    {"key": f"rooms/r2/{ATT}"}, {"key": f"rooms/r1/{ATT}x"}, {"key": KEY, "url": "https://x"}, KEY, {"key": None},
    {"key": f"thumbs/r1/{ATT}.jpg"}])
def test_bad_attachments_are_refused_by_both_protocols(attachment):
    action = json_decode({"type": "send", "room": "r1", "clientMsgId": "ref-1", "body": "b", "attachment": attachment})
    assert isinstance(action, Invalid) and (action.code, action.ref) == (c.ERR_BAD_REQUEST, "ref-1")
    action = stomp_send("/pub/chat/send/r1", {"content": "b", "attachment": attachment})
    assert isinstance(action, Invalid) and action.code == c.ERR_BAD_REQUEST


def test_records_check_the_attachment_too():
    assert invalid_reason(record(c.RECORD_SEND, body="x", attachment={"key": KEY}), b"r1") is None
    assert "not one of this room" in invalid_reason(
        record(c.RECORD_SEND, body="x", attachment={"key": f"rooms/r2/{ATT}"}), b"r1")


def plan(attachments, sender="alice"):
    value = record(c.RECORD_SEND, body="look", senderId=sender, attachment={"key": KEY})
    rec = ChatRecord("t-0", 5, value, None)
    planner = Planner(-1, {"r1": RoomState.from_items([])}, {("r1", "alice"), ("r1", "bob")}, {"r1"}, 1000,
                      attachments=attachments)
    return planner.decide([rec])


def pending(**changes):
    return {"roomId": "r1", "attId": ATT, "key": KEY, "status": "pending", "contentType": "image/png",
            "bytes": 99, "uploadedBy": "alice", **changes}


def test_the_planner_stores_what_the_message_keeps_of_the_photo():
    [item] = plan({("r1", ATT): pending()}).messages
    assert item["attachment"] == {"key": KEY, "attId": ATT, "contentType": "image/png", "bytes": 99}
    assert plan({("r1", ATT): pending(status="ready")}).messages


@pytest.mark.parametrize("attachments, sender, code", [
    ({}, "alice", c.ERR_NOT_FOUND),
    ({("r1", ATT): pending()}, "bob", c.ERR_FORBIDDEN),
    ({("r1", ATT): pending(status="rejected", reason="magic bytes")}, "alice", c.ERR_BAD_REQUEST),
])
def test_the_planner_refuses_unknown_foreign_and_rejected_photos(attachments, sender, code):
    result = plan(attachments, sender)
    assert result.messages == []
    [error] = result.deliveries
    assert error.event["code"] == code
