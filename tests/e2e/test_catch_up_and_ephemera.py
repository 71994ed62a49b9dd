"""Gapless catch-up after a reconnect to the other edge; typing and presence fan-out."""

from __future__ import annotations

import threading

from functions.history import Messages


def test_reconnect_to_the_other_edge_gets_exactly_the_missing_ones_then_live(settings, new_user, new_room,
                                                                             connect):
    customer, groomer = new_user("customer"), new_user("groomer")
    room = new_room(customer, groomer)
    g = connect("edge-a", groomer)
    g.subscribe(room)
    c = connect("edge-a", customer)
    c.subscribe(room)
    for i in range(5):
        c.send_and_ack(room, f"before {i}")
    seen = g.wait_messages(room, 5)
    last_seq = seen[-1]["seq"]
    g.close()                                    # the groomer goes away...
    for i in range(30):
        c.send_and_ack(room, f"while away {i}")  # ...while the customer keeps writing
    g2 = connect("edge-b", groomer)              # and comes back on the other edge
    # live traffic during the switch: must be neither lost nor doubled
    sender = threading.Thread(target=lambda: [c.send_and_ack(room, f"live {i}") for i in range(10)])
    sender.start()
    reply = g2.subscribe(room, after_seq=last_seq)
    sender.join()
    assert reply["type"] == "subscribed"
    got = g2.wait_messages(room, 40, timeout=30)
    g2.drain(1.0)
    got = g2.messages(room)
    assert [m["seq"] for m in got] == list(range(last_seq + 1, last_seq + 41)), "gap or duplicate"
    bodies = [m["body"] for m in got]
    assert bodies[:30] == [f"while away {i}" for i in range(30)]
    assert sorted(b for b in bodies[30:]) == sorted(f"live {i}" for i in range(10))
    stored = [m["body"] for m in Messages(settings).messages_after(room, last_seq)]
    assert bodies == stored


def test_typing_is_fanned_out_but_never_stored(settings, chat):
    room, customer, c, g = chat.room, chat.customer, chat.c, chat.g
    c.send_json({"type": "typing", "room": room})
    typing = g.wait_for(lambda f: f["type"] == "typing" and f.get("room") == room, timeout=15)
    assert typing["userId"] == customer.id
    c.send_and_ack(room, "done typing")
    g.wait_messages(room, 1)
    assert [m["body"] for m in Messages(settings).messages_after(room, 0)] == ["done typing"]


def test_typing_in_a_room_not_subscribed_is_refused(new_user, new_room, connect):
    customer = new_user("customer")
    room = new_room(customer)
    c = connect("edge-a", customer)
    c.send_json({"type": "typing", "room": room})
    assert c.wait_for(lambda f: f["type"] == "error")["code"] == "forbidden"


def test_presence_join_and_leave_reach_the_other_members(chat):
    room, customer, c, g = chat.room, chat.customer, chat.c, chat.g
    joined = g.wait_for(lambda f: f["type"] == "presence" and f.get("userId") == customer.id, timeout=15)
    assert joined["state"] == "join" and joined["room"] == room
    c.close()
    left = g.wait_for(lambda f: f["type"] == "presence" and f.get("userId") == customer.id
                      and f["state"] == "leave", timeout=15)
    assert left["room"] == room
