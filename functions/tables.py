"""Every DynamoDB table tidings uses: keys, indexes, TTL attribute. The one source of truth.

local/ creates these in dynalite, iac/ declares them in Terraform (a test compares the
two), the functions and the edge address them by the logical names below.

Design notes:
- rooms.subs is a map connectionId -> {u: userId, r: role, e: edgeUrl, x: expiresAt}. Keeping
  a room's subscribers in the room item lets the worker fetch counters' neighbours and
  recipients for a whole Kafka batch with one BatchGetItem instead of a Query per room.
- messages are written only by the worker that owns the room's partition (one writer per
  room), with BatchWriteItem, unconditionally (keys are roomId + seq). partition_commits holds
  one item per Kafka partition: its committed offset, the commit point of every message of
  the partition (functions/partition_commit.py). A message item is stored when its `offset`
  is at most its partition's committed offset; there is no per-room head to write. A room's
  last seq and dedup window come from its newest stored messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: tuple[str, str]            # (attribute, "S" | "N")
    range_key: tuple[str, str] | None = None
    projection: str = "ALL"              # ALL | KEYS_ONLY


@dataclass(frozen=True)
class Table:
    logical: str
    hash_key: tuple[str, str]
    range_key: tuple[str, str] | None = None
    ttl_attribute: str | None = None
    indexes: tuple[Index, ...] = field(default_factory=tuple)

    def attribute_definitions(self) -> list[dict]:
        attrs = {self.hash_key[0]: self.hash_key[1]}
        if self.range_key:
            attrs[self.range_key[0]] = self.range_key[1]
        for index in self.indexes:
            attrs[index.hash_key[0]] = index.hash_key[1]
            if index.range_key:
                attrs[index.range_key[0]] = index.range_key[1]
        return [{"AttributeName": k, "AttributeType": t} for k, t in sorted(attrs.items())]

    def key_schema(self) -> list[dict]:
        schema = [{"AttributeName": self.hash_key[0], "KeyType": "HASH"}]
        if self.range_key:
            schema.append({"AttributeName": self.range_key[0], "KeyType": "RANGE"})
        return schema

    def create_table_args(self, table_name: str) -> dict:
        """Arguments for boto3's create_table (on-demand billing)."""
        args = {
            "TableName": table_name,
            "AttributeDefinitions": self.attribute_definitions(),
            "KeySchema": self.key_schema(),
            "BillingMode": "PAY_PER_REQUEST",
        }
        if self.indexes:
            args["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": index.name,
                    "KeySchema": [{"AttributeName": index.hash_key[0], "KeyType": "HASH"}]
                    + ([{"AttributeName": index.range_key[0], "KeyType": "RANGE"}] if index.range_key else []),
                    "Projection": {"ProjectionType": index.projection},
                }
                for index in self.indexes
            ]
        return args


ROOMS = Table("rooms", hash_key=("roomId", "S"))
PARTITION_COMMITS = Table("partition_commits", hash_key=("partition", "S"))
MEMBERS = Table(
    "members",
    hash_key=("roomId", "S"),
    range_key=("userId", "S"),
    indexes=(Index("by_user", hash_key=("userId", "S"), range_key=("roomId", "S")),),
)
MESSAGES = Table("messages", hash_key=("roomId", "S"), range_key=("seq", "N"))
CONNECTIONS = Table(
    "connections",
    hash_key=("connectionId", "S"),
    ttl_attribute="expiresAt",
    indexes=(Index("by_user", hash_key=("userId", "S"), range_key=("connectionId", "S"), projection="KEYS_ONLY"),),
)

# Push devices (functions/push/devices.py). The id is a digest of platform + token, so one
# app install is one item whoever registers it: a phone that changes hands moves to its new
# user instead of pushing to both. Listing a user's devices goes through by_user.
# Mutes (`mutedUntil`) and the push state (`pushedSeq`) live on the `members` item, like
# read marks: they die with the membership.
DEVICES = Table(
    "devices",
    hash_key=("deviceId", "S"),
    indexes=(Index("by_user", hash_key=("userId", "S"), range_key=("deviceId", "S")),),
)

# Photo attachments (functions/attachments.py): one item per presigned upload, written by the
# HTTP function (status pending) and settled by the check function (ready | rejected). The
# object's key is rooms/{roomId}/{attId}, so a room's attachments are one partition.
ATTACHMENTS = Table("attachments", hash_key=("roomId", "S"), range_key=("attId", "S"))

ALL_TABLES: tuple[Table, ...] = (ROOMS, PARTITION_COMMITS, MEMBERS, MESSAGES, CONNECTIONS, DEVICES, ATTACHMENTS)

# How many of a room's latest messages a resend is recognised against (a client resends the
# few it has no ack for, within seconds or minutes of a reconnect). A worker that takes over a
# partition reads this many of each room's newest messages once.
DEDUP_WINDOW = 256
