"""The notifier end to end on the whole local stack: clients on both edges, the chat worker,
the notifier's own event source mapping, and the local push gateway (its log is the phone).

Each test uses fresh users and rooms; "the notifier has handled it" is its consumer group's
committed offset passing the message's offset (from the edge's ack)."""

from __future__ import annotations

import statistics
import time
import uuid
from dataclasses import dataclass

import pytest
import requests
from push_harness import webpush_key
from confluent_kafka import Consumer, TopicPartition
from harness import wait_for

from functions.connections import Connections
from functions.rooms import Rooms
from functions.tokens import mint
from local.demo.client import ChatClient


@dataclass
class User:
    id: str
    role: str
    token: str


@pytest.fixture
def world(local_stack, push_gateway):
    return World(local_stack, push_gateway)


class World:
    def __init__(self, stack, gateway):
        self.stack, self.gateway, self.settings = stack, gateway, stack.settings
        self.api = stack.endpoints()["gateway"]["api"]
        self.clients: list[ChatClient] = []

    def user(self, role: str = "customer") -> User:
        user_id = f"{role}-{uuid.uuid4().hex[:8]}"
        return User(user_id, role, mint(self.settings, user_id, role))

    def room(self, *members: User) -> str:
        room = f"room-{uuid.uuid4().hex[:10]}"
        Rooms(self.settings).create(room, "Rex's trim", members[0].id, {m.id: m.role for m in members})
        return room

    def call(self, user: User, method: str, path: str, body=None) -> requests.Response:
        return requests.request(method, self.api + path, json=body, timeout=10,
                                headers={"authorization": f"Bearer {user.token}"})

    def phone(self, user: User, service: str) -> str:
        """An app install at the gateway, registered through the HTTP API; its gateway key."""
        made = self.gateway.install(service, "app.tidings.test")
        if service == "webpush":
            body, key = {"platform": "webpush", "appId": "app.tidings.test", "subscription": made}, \
                webpush_key(made["endpoint"])
        else:
            body, key = {"platform": service, "appId": "app.tidings.test", "token": made["token"]}, made["token"]
        assert self.call(user, "PUT", "/devices", body).status_code == 201
        return key

    def connect(self, edge: str, user: User, room: str) -> ChatClient:
        client = ChatClient(self.stack.endpoints()[edge]["websocket"], user.token)
        self.clients.append(client)
        assert client.subscribe(room)["type"] == "subscribed"
        return client

    def notifier_done(self, ack: dict, timeout: float = 30.0) -> None:
        consumer = Consumer({"bootstrap.servers": self.settings.kafka_bootstrap,
                             "group.id": self.settings.push_consumer_group, "enable.auto.commit": False})
        try:
            tp = TopicPartition(self.settings.chat_topic, ack["partition"])
            wait_for(lambda: consumer.committed([tp], timeout=5)[0].offset > ack["offset"], timeout=timeout,
                     interval=0.2, message=f"the notifier to handle offset {ack['offset']}")
        finally:
            consumer.close()

    def close(self) -> None:
        for client in self.clients:
            client.close()


@pytest.fixture(autouse=True)
def _close(world):
    yield
    world.close()


def send(client: ChatClient, room: str, body: str) -> dict:
    ack = client.send_and_ack(room, body)
    assert ack["type"] == "ack", ack
    return ack


def test_offline_member_gets_one_push_per_room_until_read(world):
    ann, gus = world.user("customer"), world.user("groomer")
    room = world.room(ann, gus)
    phone = world.phone(gus, "apns")
    ann_client = world.connect("edge-a", ann, room)
    send(ann_client, room, "Rex is ready  for pickup")
    [push] = world.gateway.wait_log(phone, 1)
    aps = push["payload"]["aps"]
    assert aps["alert"] == {"title": "Rex's trim", "body": f"{ann.id}: Rex is ready for pickup"}
    assert aps["badge"] == 1 and aps["thread-id"] == room and push["headers"]["apns-collapse-id"] == room
    assert push["payload"]["seq"] == "1" and push["payload"]["roomId"] == room
    send(ann_client, room, "second")
    world.notifier_done(send(ann_client, room, "third"))
    assert len(world.gateway.log(phone)) == 1          # one per room until read
    assert world.call(gus, "PUT", f"/rooms/{room}/read", {"seq": 3}).json()["readSeq"] == 3
    send(ann_client, room, "fourth")
    pushes = world.gateway.wait_log(phone, 2)
    assert len(pushes) == 2 and pushes[1]["payload"]["seq"] == "4" and pushes[1]["payload"]["aps"]["badge"] == 1


def test_online_on_either_edge_muted_and_sender_get_none(world):
    ann, gus, carl, dora = world.user(), world.user("groomer"), world.user(), world.user()
    room = world.room(ann, gus, carl, dora)
    phones = {u.id: world.phone(u, service) for u, service in ((ann, "fcm"), (gus, "apns"), (carl, "fcm"),
                                                               (dora, "webpush"))}
    until = int(time.time() * 1000) + 3_600_000
    assert world.call(dora, "PUT", f"/rooms/{room}/mute", {"until": until}).json()["muted"] is True
    ann_client = world.connect("edge-a", ann, room)
    gus_client = world.connect("edge-b", gus, room)     # online, on the other edge than the sender
    ack = send(ann_client, room, "hello all")
    world.gateway.wait_log(phones[carl.id], 1)
    world.notifier_done(ack)
    assert gus_client.wait_messages(room, 1)[0]["body"] == "hello all"
    assert [len(world.gateway.log(phones[u.id])) for u in (ann, gus, carl, dora)] == [0, 0, 1, 0]
    # Gus goes offline: from now on he counts as offline and gets the next message's push.
    gus_client.close()
    wait_for(lambda: gus.id not in Connections(world.settings).online_users(room), timeout=10,
             message="gus's subscription to be gone")
    send(ann_client, room, "are you there?")
    [push] = world.gateway.wait_log(phones[gus.id], 1)
    assert push["payload"]["aps"]["alert"]["body"].endswith("are you there?")


def test_dead_token_is_removed_and_other_devices_still_get_it(world):
    ann, gus = world.user(), world.user("groomer")
    room = world.room(ann, gus)
    dead, alive = world.phone(gus, "fcm"), world.phone(gus, "webpush")
    assert len(world.call(gus, "GET", "/devices").json()["devices"]) == 2
    world.gateway.uninstall(dead)                     # the app was uninstalled
    send(world.connect("edge-a", ann, room), room, "new message")
    [push] = world.gateway.wait_log(alive, 1)
    assert push["payload"]["body"] == f"{ann.id}: new message" and push["payload"]["tag"] == room
    devices = wait_for(lambda: (d := world.call(gus, "GET", "/devices").json()["devices"]) and len(d) == 1 and d,
                       timeout=10, message="the dead FCM token to be deleted")
    assert devices[0]["platform"] == "webpush"
    assert [e["status"] for e in world.gateway.log(dead, delivered=None)] == [404]


def _round_trips(sender: ChatClient, receiver: ChatClient, room: str, count: int, tag: str) -> list[float]:
    latencies = []
    for i in range(count):
        started = time.monotonic()
        ack = send(sender, room, f"{tag} {i}")
        receiver.wait_for(lambda f, n=f"{tag} {i}": f.get("type") == "message" and f.get("body") == n, timeout=10)
        latencies.append(time.monotonic() - started)
    return latencies, ack


def test_push_outage_leaves_chat_unaffected_and_pushes_resume(world):
    ann, gus, carl = world.user(), world.user("groomer"), world.user()
    room = world.room(ann, gus, carl)
    phone = world.phone(carl, "apns")
    ann_client, gus_client = world.connect("edge-a", ann, room), world.connect("edge-b", gus, room)
    before, _ack = _round_trips(ann_client, gus_client, room, 10, "before")
    world.gateway.wait_log(phone, 1)
    assert world.call(carl, "PUT", f"/rooms/{room}/read", {"seq": 10}).status_code == 200
    world.stack.stop("push-gateway")
    try:
        during, ack = _round_trips(ann_client, gus_client, room, 10, "during")
        time.sleep(1.0)   # the notifier is retrying its batch now
    finally:
        world.stack.start("push-gateway")
    # Chat: every message delivered, in order, no slower than before the outage (with slack).
    bodies = [m["body"] for m in gus_client.messages(room)]
    assert bodies == [f"before {i}" for i in range(10)] + [f"during {i}" for i in range(10)]
    assert statistics.median(during) <= statistics.median(before) * 2 + 0.2, (before, during)
    assert max(during) < 2.0, during
    # Pushes resume: the notifier's retried batch goes out, one notification for the room.
    world.notifier_done(ack, timeout=60)
    pushes = world.gateway.log(phone)
    assert len(pushes) == 2 and 11 <= int(pushes[1]["payload"]["seq"]) <= 20


def test_invoke_push_log_shows_the_deliveries(world):
    from harness import run_invoke

    ann, gus = world.user(), world.user("groomer")
    room = world.room(ann, gus)
    phone = world.phone(gus, "webpush")
    send(world.connect("edge-b", ann, room), room, "bring the leash")
    world.gateway.wait_log(phone, 1)
    result = run_invoke("push-log", "--device", phone, env={"TIDINGS_HOME": str(world.stack.home)}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"{ann.id}: bring the leash" in result.stdout and "webpush 201" in result.stdout
    assert result.stdout.strip().endswith("1 push(es)")
