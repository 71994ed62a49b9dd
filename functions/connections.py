"""Connections (table `connections`) and room subscriptions (`rooms.subs`).

A subscription is one entry of the room item's `subs` map:
connectionId -> {u: userId, r: role, e: edgeUrl, x: expiresAt (epoch s)}, so the worker
gets a whole batch's recipients with the rooms it reads anyway. Rows and entries carry an
expiry the edge keeps pushing forward (`refresh`); expired ones are ignored on read
(dynalite never expires TTL items, and DynamoDB may return expired-but-undeleted ones).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from functions import tables
from functions.rooms import UnknownRoom
from functions.settings import Settings
from functions.store import Store, to_item

REMOVE_CHUNK = 100  # connection ids per REMOVE expression


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def live_subscribers(room_item: Mapping[str, Any] | None, now_s: float | None = None) -> dict[str, dict]:
    """The unexpired `subs` entries of a room item: connectionId -> {u, r, e, x}."""
    if not room_item:
        return {}
    now_s = time.time() if now_s is None else now_s
    return {cid: entry for cid, entry in (room_item.get("subs") or {}).items()
            if isinstance(entry, Mapping) and entry.get("x", 0) > now_s and entry.get("e")}


def by_edge(subs: Mapping[str, Mapping[str, Any]], exclude_user: str | None = None,
            exclude_connection: str | None = None) -> dict[str, list[str]]:
    """Group subscriptions by edge URL: edgeUrl -> [connectionId], leaving out one user's
    connections and/or one connection."""
    grouped: dict[str, list[str]] = {}
    for cid, entry in subs.items():
        if cid != exclude_connection and (exclude_user is None or entry.get("u") != exclude_user):
            grouped.setdefault(entry["e"], []).append(cid)
    return grouped


class Connections:
    def __init__(self, settings: Settings, client=None, *, clock=time.time):
        self.store = Store(settings, client)
        self.client = self.store.client
        self.ttl_s = settings.connection_ttl_s
        self.clock = clock
        self.table = self.store.name(tables.CONNECTIONS)
        self.rooms_table = self.store.name(tables.ROOMS)

    def _expires(self) -> int:
        return int(self.clock()) + self.ttl_s

    # --- connection rows ----------------------------------------------------------------
    def register(self, connection_id: str, user_id: str, role: str, edge_url: str,
                 source_ip: str | None, user_agent: str | None, connected_at_ms: int) -> dict:
        row = {"connectionId": connection_id, "userId": user_id, "role": role, "edgeUrl": edge_url,
               "sourceIp": source_ip, "userAgent": user_agent, "connectedAt": int(connected_at_ms),
               "lastActiveAt": int(connected_at_ms), "expiresAt": self._expires()}
        self.client.put_item(TableName=self.table, Item=to_item(row))
        return row

    def get(self, connection_id: str) -> dict | None:
        """The unexpired connection row, or None."""
        found = self.store.batch_get({tables.CONNECTIONS: [{"connectionId": connection_id}]})
        rows = [r for r in found[tables.CONNECTIONS] if r.get("expiresAt", 0) > self.clock()]
        return rows[0] if rows else None

    def of_user(self, user_id: str) -> list[dict]:
        """A user's unexpired connection rows (GSI by_user, then the rows themselves)."""
        keys = [{"connectionId": r["connectionId"]} for r in self.store.query(
            tables.CONNECTIONS, index="by_user", KeyConditionExpression="userId = :u",
            ExpressionAttributeValues={":u": user_id})]
        if not keys:
            return []
        now = self.clock()
        rows = self.store.batch_get({tables.CONNECTIONS: keys})[tables.CONNECTIONS]
        return sorted((r for r in rows if r.get("expiresAt", 0) > now), key=lambda r: r["connectionId"])

    def refresh(self, connection_id: str, rooms: Iterable[str]) -> set[str]:
        """Push the expiry of the row and of its subscriptions forward. Returns the rooms whose
        subscription entry was missing (removed as gone, or the room deleted): re-subscribe."""
        expires = self._expires()
        try:
            self.client.update_item(
                TableName=self.table, Key=to_item({"connectionId": connection_id}),
                UpdateExpression="SET expiresAt = :x, lastActiveAt = :now",
                ConditionExpression="attribute_exists(connectionId)",
                ExpressionAttributeValues=to_item({":x": expires, ":now": int(self.clock() * 1000)}))
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise
        missing = set()
        for room_id in rooms:
            try:
                self.client.update_item(
                    TableName=self.rooms_table, Key=to_item({"roomId": room_id}),
                    UpdateExpression="SET subs.#c.x = :x",
                    ConditionExpression="attribute_exists(subs.#c)",
                    ExpressionAttributeNames={"#c": connection_id},
                    ExpressionAttributeValues=to_item({":x": expires}))
            except ClientError as exc:
                if _code(exc) not in ("ConditionalCheckFailedException", "ValidationException"):
                    raise
                missing.add(room_id)
        return missing

    def unregister(self, connection_id: str, rooms: Iterable[str]) -> None:
        """Drop the connection's subscriptions to `rooms`, then its row."""
        for room_id in rooms:
            self.unsubscribe(room_id, connection_id)
        self.client.delete_item(TableName=self.table, Key=to_item({"connectionId": connection_id}))

    # --- subscriptions ------------------------------------------------------------------
    def subscribe(self, room_id: str, connection_id: str, user_id: str, role: str, edge_url: str) -> dict:
        """Add (or replace) the subscription entry. Raises UnknownRoom. Membership is the
        caller's check (Rooms.membership) before this."""
        entry = {"u": user_id, "r": role, "e": edge_url, "x": self._expires()}
        kwargs = dict(TableName=self.rooms_table, Key=to_item({"roomId": room_id}),
                      UpdateExpression="SET subs.#c = :entry", ConditionExpression="attribute_exists(roomId)",
                      ExpressionAttributeNames={"#c": connection_id},
                      ExpressionAttributeValues=to_item({":entry": entry}))
        for attempt in (0, 1):
            try:
                self.client.update_item(**kwargs)
                return entry
            except ClientError as exc:
                if _code(exc) == "ConditionalCheckFailedException":
                    raise UnknownRoom(room_id) from exc
                if _code(exc) != "ValidationException" or attempt:
                    raise
                self._ensure_subs_map(room_id)  # a room item without `subs` (not made by Rooms.create)
        return entry

    def _ensure_subs_map(self, room_id: str) -> None:
        try:
            self.client.update_item(
                TableName=self.rooms_table, Key=to_item({"roomId": room_id}), UpdateExpression="SET subs = :m",
                ConditionExpression="attribute_exists(roomId) AND attribute_not_exists(subs)",
                ExpressionAttributeValues={":m": {"M": {}}})
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise

    def unsubscribe(self, room_id: str, connection_id: str) -> None:
        self._remove_subs(room_id, [connection_id])

    def _remove_subs(self, room_id: str, connection_ids: list[str]) -> None:
        for start in range(0, len(connection_ids), REMOVE_CHUNK):
            names = {f"#c{i}": cid for i, cid in enumerate(connection_ids[start:start + REMOVE_CHUNK])}
            try:
                self.client.update_item(
                    TableName=self.rooms_table, Key=to_item({"roomId": room_id}),
                    UpdateExpression="REMOVE " + ", ".join(f"subs.{n}" for n in names),
                    ConditionExpression="attribute_exists(roomId)", ExpressionAttributeNames=names)
            except ClientError as exc:
                # The room is gone (nothing to remove), or it has no subs map at all.
                if _code(exc) not in ("ConditionalCheckFailedException", "ValidationException"):
                    raise

    def subscribers(self, room: str | Mapping[str, Any]) -> dict[str, dict]:
        """Unexpired subscriptions of a room (given by id, or as its item): id -> {u, r, e, x}."""
        if isinstance(room, str):
            found = self.store.batch_get({tables.ROOMS: [{"roomId": room}]})[tables.ROOMS]
            room = found[0] if found else None
        return live_subscribers(room, self.clock())

    def online_users(self, room_id: str) -> list[str]:
        """Presence: the distinct users with a live subscription to the room, sorted."""
        return sorted({entry["u"] for entry in self.subscribers(room_id).values() if entry.get("u")})

    def remove_gone(self, by_room: Mapping[str, Iterable[str]], others: Iterable[str] = ()) -> int:
        """Forget connections an edge answered 410 for: their entries in each room's subs,
        then their rows (also for `others`, gone connections known in no room). Returns
        the number of connection rows deleted."""
        gone: set[str] = set(others)
        for room_id, connection_ids in by_room.items():
            ids = sorted(set(connection_ids))
            gone.update(ids)
            if ids:
                self._remove_subs(room_id, ids)
        if gone:
            self.store.batch_write(deletes={tables.CONNECTIONS: [{"connectionId": c} for c in sorted(gone)]})
        return len(gone)
