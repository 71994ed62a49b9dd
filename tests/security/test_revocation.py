"""Class: revocation.

Finding: a member removed with `DELETE /rooms/{id}/members/{user}` (200) kept their live
subscription: about one `connection_ttl_s / 3` later `Session._refresh` put the subscription
row back without checking membership, and the gap fill read what they had missed.

Now removal ends the member's subscriptions on every edge at once (JSON `unsubscribed` with
reason `removed`; STOMP an ERROR naming the subscription, then close), and nothing stored
after it reaches them: not live, not by refresh, catch-up, gap fill or resubscribe.
"""

from __future__ import annotations

import time

from functions.rooms import Rooms
from local.demo.client import ChatClient
from stomp_wire import StompWire


def _subscribed(url: str, user, room: str, **kwargs) -> ChatClient:
    client = ChatClient(url, user.token, **kwargs)
    assert client.subscribe(room)["type"] == "subscribed"
    return client


def test_removal_ends_live_subscriptions_on_every_edge(ws_url, new_user, new_room, api):
    owner, member = new_user("customer"), new_user("groomer")
    room = new_room(owner, member)
    sender = _subscribed(ws_url("edge-a"), owner, room)
    on_a = _subscribed(ws_url("edge-a"), member, room)
    on_b = StompWire(ws_url("edge-b"), member.token)
    try:
        receipt = on_b.subscribe(room, sub_id="s-1")
        assert receipt.command == "RECEIPT"
        sender.send_and_ack(room, "before")
        on_a.wait_messages(room, 1)
        assert on_b.next_message().get("seq") == "1"

        assert api(owner, "DELETE", f"/rooms/{room}/members/{member.id}").status_code == 200

        told = on_a.wait_for(lambda f: f["type"] == "unsubscribed", timeout=10)
        assert told == {"type": "unsubscribed", "room": room, "reason": "removed"}
        error = on_b.next_frame(timeout=10)
        assert error.command == "ERROR" and error.get("tidings-event") == "unsubscribed"
        assert error.get("subscription") == "s-1" and error.get("tidings-reason") == "removed"
        assert error.get("tidings-ref") == room
        assert on_b.closed_within(10)

        sender.send_and_ack(room, "after the removal")
        on_a.drain(2.0)
        assert [m["body"] for m in on_a.messages(room)] == ["before"]
    finally:
        for c in (sender, on_a):
            c.close()
        on_b.close()


def test_a_removed_member_cannot_subscribe_again_or_catch_up(ws_url, new_user, new_room, api):
    owner, member = new_user("customer"), new_user("groomer")
    room = new_room(owner, member)
    sender = _subscribed(ws_url("edge-a"), owner, room)
    try:
        sender.send_and_ack(room, "one")
        assert api(owner, "DELETE", f"/rooms/{room}/members/{member.id}").status_code == 200
        sender.send_and_ack(room, "two")
        late = ChatClient(ws_url("edge-b"), member.token)
        try:
            for after in (None, 0):
                answer = late.subscribe(room, after_seq=after)
                assert answer["type"] == "error" and answer["code"] == "forbidden"
            late.drain(1.5)
            assert late.messages(room) == []
        finally:
            late.close()
    finally:
        sender.close()


def test_a_refresh_does_not_restore_a_removed_members_subscription(settings, make_edge, ws_url,
                                                                  new_user, new_room):
    """The notification to the edge is lost (here: the member is removed straight in the store),
    so only the refresh (every connection_ttl_s / 3 = 1 s on this edge) can notice. It must
    check membership instead of writing the subscription back."""
    edge = make_edge(connection_ttl_s=3)
    owner, member = new_user("customer"), new_user("groomer")
    room = new_room(owner, member)
    sender = _subscribed(ws_url("edge-a"), owner, room)
    removed = _subscribed(f"ws://127.0.0.1:{edge.public_port}/ws", member, room)
    try:
        sender.send_and_ack(room, "before")
        removed.wait_messages(room, 1)
        assert Rooms(settings).remove_member(room, member.id)   # no edge is told
        told = removed.wait_for(lambda f: f["type"] == "unsubscribed", timeout=15)
        assert told["reason"] == "removed"
        sender.send_and_ack(room, "after the removal")
        removed.drain(4.0)   # several refresh periods
        assert [m["body"] for m in removed.messages(room)] == ["before"]
        assert removed.frames.count(told) == 1
    finally:
        sender.close()
        removed.close()


def test_removal_of_a_member_on_a_dead_edge_still_answers(ws_url, new_user, new_room, api, make_edge):
    """An edge that cannot be told (gone) does not block the removal; its sockets are gone too."""
    owner, member = new_user("customer"), new_user("groomer")
    room = new_room(owner, member)
    edge = make_edge()
    client = _subscribed(f"ws://127.0.0.1:{edge.public_port}/ws", member, room)
    client.close()
    edge.stop()
    response = api(owner, "DELETE", f"/rooms/{room}/members/{member.id}")
    assert response.status_code == 200 and response.json()["removed"] is True


def test_stomp_subscription_refused_after_removal_closes_without_looping(ws_url, new_user, new_room, api):
    owner, member = new_user("customer"), new_user("groomer")
    room = new_room(owner, member)
    assert api(owner, "DELETE", f"/rooms/{room}/members/{member.id}").status_code == 200
    client = StompWire(ws_url("edge-b"), member.token)
    try:
        error = client.subscribe(room, sub_id="s-9")
        assert error.command == "ERROR" and error.get("message") == "forbidden"
        assert error.get("tidings-ref") == room   # the web client drops this room, then reconnects
        assert client.closed_within(10)
    finally:
        client.close()


def test_connections_of_others_keep_flowing(ws_url, new_user, new_room, api):
    owner, stays, goes = new_user("customer"), new_user("groomer"), new_user("groomer")
    room = new_room(owner, stays, goes)
    sender = _subscribed(ws_url("edge-a"), owner, room)
    staying = _subscribed(ws_url("edge-b"), stays, room)
    going = _subscribed(ws_url("edge-b"), goes, room)
    try:
        assert api(owner, "DELETE", f"/rooms/{room}/members/{goes.id}").status_code == 200
        going.wait_for(lambda f: f["type"] == "unsubscribed", timeout=10)
        sender.send_and_ack(room, "hello")
        assert [m["body"] for m in staying.wait_messages(room, 1)] == ["hello"]
        time.sleep(0.5)
        going.drain(1.0)
        assert going.messages(room) == []
    finally:
        for c in (sender, staying, going):
            c.close()


def test_removing_yourself_is_immediate_too(ws_url, new_user, new_room, api):
    owner, member = new_user("customer"), new_user("groomer")
    room = new_room(owner, member)
    client = _subscribed(ws_url("edge-a"), member, room)
    try:
        assert api(member, "DELETE", f"/rooms/{room}/members/{member.id}").status_code == 200
        assert client.wait_for(lambda f: f["type"] == "unsubscribed", timeout=10)["room"] == room
    finally:
        client.close()

