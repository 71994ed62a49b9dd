"""The chat tasks (`invoke token`, `room-create`, `demo`, `dlq`) against the session's stack,
run as a user runs them: `invoke` in a subprocess, pointed at the stack by TIDINGS_HOME."""

from __future__ import annotations

import uuid

from harness import run_invoke

from functions.rooms import Rooms
from functions.tokens import verify


def test_demo_passes_across_two_edges(local_stack):
    result = run_invoke("demo", env={"TIDINGS_HOME": str(local_stack.home)}, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "demo passed" in result.stdout


def test_token_and_room_create(local_stack, settings):
    env = {"TIDINGS_HOME": str(local_stack.home)}
    token = run_invoke("token", "gus", "--role", "groomer", env=env)
    assert token.returncode == 0, token.stderr
    identity = verify(settings, token.stdout.strip())
    assert (identity.user_id, identity.role) == ("gus", "groomer")

    room = f"spa-{uuid.uuid4().hex[:8]}"
    made = run_invoke("room-create", room, "--member", "ann:customer", "--member", "gus:groomer", env=env)
    assert made.returncode == 0, made.stderr
    rooms = Rooms(settings)
    assert rooms.membership(room, "ann") == "member" and rooms.membership(room, "gus") == "member"
    again = run_invoke("room-create", room, "--member", "ann", env=env)
    assert again.returncode == 1 and "exists already" in again.stdout + again.stderr


def test_dlq_lists_dead_letters(local_stack):
    result = run_invoke("dlq", env={"TIDINGS_HOME": str(local_stack.home)}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "dead letters" in result.stdout
