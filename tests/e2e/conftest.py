"""Fixtures for end-to-end tests on the whole local stack: broker, store, two edges, the ESM.

Every test gets fresh users and rooms (random ids), so tests share the session's stack
without seeing each other's traffic.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from functions.rooms import Rooms
from functions.tokens import mint
from local.demo.client import ChatClient


@dataclass(frozen=True)
class User:
    id: str
    role: str
    token: str


@pytest.fixture
def edges(local_stack) -> dict[str, str]:
    """Edge name -> WebSocket URL."""
    return {name: local_stack.endpoints()[name]["websocket"] for name in ("edge-a", "edge-b")}


@pytest.fixture
def delivery_urls(local_stack) -> dict[str, str]:
    return {name: local_stack.endpoints()[name]["delivery"] for name in ("edge-a", "edge-b")}


@pytest.fixture
def new_user(settings):
    def make(role: str = "customer", name: str | None = None) -> User:
        user_id = f"{name or role}-{uuid.uuid4().hex[:10]}"
        return User(user_id, role, mint(settings, user_id, role))
    return make


@pytest.fixture
def new_room(settings):
    rooms = Rooms(settings)

    def make(*members: User, name: str = "test room") -> str:
        room = f"room-{uuid.uuid4().hex[:12]}"
        rooms.create(room, name, members[0].id, {m.id: m.role for m in members})
        return room
    return make


@pytest.fixture
def connect(edges):
    opened: list[ChatClient] = []

    def make(edge: str, user: User | None, **kwargs) -> ChatClient:
        client = ChatClient(edges[edge], user.token if user else None, **kwargs)
        opened.append(client)
        return client
    yield make
    for client in opened:
        client.close()


@dataclass
class Chat:
    """A room of a customer (on edge A) and a groomer (on edge B), both connected and subscribed."""
    room: str
    customer: User
    groomer: User
    c: ChatClient   # the customer's client
    g: ChatClient   # the groomer's client


@pytest.fixture
def chat(new_user, new_room, connect) -> Chat:
    customer, groomer = new_user("customer"), new_user("groomer")
    room = new_room(customer, groomer)
    g = connect("edge-b", groomer)
    assert g.subscribe(room)["type"] == "subscribed"
    c = connect("edge-a", customer)
    assert c.subscribe(room)["type"] == "subscribed"
    return Chat(room, customer, groomer, c, g)
