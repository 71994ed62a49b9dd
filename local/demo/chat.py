"""`invoke demo`: a customer on edge A and a groomer on edge B chat both ways.

Exits 0 only if every message reached both sides, in order, with the sender stamped
from the token. It talks to the running local stack like any client would.
"""

from __future__ import annotations

import sys
import uuid

from rich.console import Console

from functions.rooms import Rooms
from functions.settings import Settings
from functions.tokens import mint
from local.demo.client import ChatClient

LINES = [
    ("customer", "Hi! Can Bori get a bath and a trim on Saturday?"),
    ("groomer", "Sure, 10:00 works. Any matting?"),
    ("customer", "A little behind the ears."),
    ("groomer", "No problem, see you Saturday!"),
]


def run(settings: Settings, edge_a: str, edge_b: str, console: Console | None = None) -> bool:
    console = console or Console()
    suffix = uuid.uuid4().hex[:8]
    room = f"demo-{suffix}"
    users = {"customer": f"customer-{suffix}", "groomer": f"groomer-{suffix}"}
    Rooms(settings).create(room, "Bori's grooming", users["customer"],
                           {users["customer"]: "customer", users["groomer"]: "groomer"})
    clients = {
        "customer": ChatClient(edge_a, mint(settings, users["customer"], "customer")),
        "groomer": ChatClient(edge_b, mint(settings, users["groomer"], "groomer")),
    }
    console.print(f"room [bold]{room}[/]: customer on {edge_a}, groomer on {edge_b}")
    try:
        for client in clients.values():
            reply = client.subscribe(room)
            if reply["type"] != "subscribed":
                console.print(f"[red]subscribe failed: {reply}")
                return False
        for role, text in LINES:
            ack = clients[role].send_and_ack(room, text)
            if ack["type"] != "ack":
                console.print(f"[red]{role} send failed: {ack}")
                return False
        ok = True
        for role, client in clients.items():
            got = client.wait_messages(room, len(LINES), timeout=15)
            console.print(f"\n[bold]{role}[/] ({users[role]}) received:")
            for m in got:
                console.print(f"  #{m['seq']} {m['senderRole']:>8} {m['senderId']}: {m['body']}")
            bodies = [m["body"] for m in got]
            senders = [m["senderId"] for m in got]
            expected_senders = [users[r] for r, _ in LINES]
            if bodies != [t for _, t in LINES] or senders != expected_senders:
                ok = False
                console.print(f"[red]  expected {len(LINES)} messages in order with stamped senders")
        console.print("\n[green]demo passed[/]" if ok else "\n[red]demo FAILED[/]")
        return ok
    finally:
        for client in clients.values():
            client.close()


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="tidings demo: two users on two edges")
    parser.add_argument("--edge-a", default="ws://127.0.0.1:8001/ws")
    parser.add_argument("--edge-b", default="ws://127.0.0.1:8002/ws")
    args = parser.parse_args(argv)
    sys.exit(0 if run(Settings.from_env(), args.edge_a, args.edge_b) else 1)


if __name__ == "__main__":
    main()
