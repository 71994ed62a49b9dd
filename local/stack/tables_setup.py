"""Create every table of functions.tables.ALL_TABLES in the configured store, idempotently.

Used by the local stack after dynalite is ready (and runnable by hand:
``python -m local.stack.tables_setup`` with the TIDINGS_* environment). For each table: create it
if missing (``create_table_args(settings.table_name(...))``), wait until ACTIVE, and turn
on TTL where the table has a ``ttl_attribute``. An existing table whose keys differ from
the definition is an error (wipe the local data), never silently kept.
"""

from __future__ import annotations

import sys

from botocore.exceptions import ClientError

from functions import aws
from functions.settings import Settings
from functions.tables import ALL_TABLES, Table


class TableSetupError(RuntimeError):
    pass


def _key_schema(desc: dict) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in desc["KeySchema"]]


def ensure_table(client, settings: Settings, table: Table, *, wait_s: float = 60.0) -> str:
    """Create (if missing) and configure one table; returns "created" or "exists"."""
    args = table.create_table_args(settings.table_name(table.logical))
    name = args["TableName"]
    outcome = "created"
    try:
        client.create_table(**args)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
        outcome = "exists"
    delay = 0.1
    waiter = client.get_waiter("table_exists")  # the store flips CREATING -> ACTIVE quickly
    waiter.wait(TableName=name, WaiterConfig={"Delay": delay, "MaxAttempts": max(1, int(wait_s / delay))})
    desc = client.describe_table(TableName=name)["Table"]
    want = [(k["AttributeName"], k["KeyType"]) for k in args["KeySchema"]]
    if _key_schema(desc) != want:
        raise TableSetupError(f"table {name} exists with keys {_key_schema(desc)}, expected {want}; "
                              f"wipe the local store (`invoke down --wipe`) to recreate it")
    have_indexes = {i["IndexName"] for i in desc.get("GlobalSecondaryIndexes", [])}
    want_indexes = {i.name for i in table.indexes}
    if not want_indexes <= have_indexes:
        raise TableSetupError(f"table {name} lacks indexes {sorted(want_indexes - have_indexes)}; "
                              f"wipe the local store (`invoke down --wipe`) to recreate it")
    if table.ttl_attribute:
        ensure_ttl(client, name, table.ttl_attribute)
    return outcome


def ensure_ttl(client, name: str, attribute: str) -> str:
    """Turn on TTL: "enabled", "already enabled" or "unsupported".

    dynalite 4.0.0 answers DescribeTimeToLive (always DISABLED) but has no UpdateTimeToLive
    (UnknownOperationException) and never expires items anyway; readers filter expired
    rows themselves, as they must with real DynamoDB too (expiry there is lazy).
    """
    ttl = client.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
    if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") and ttl.get("AttributeName") == attribute:
        return "already enabled"
    try:
        client.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute})
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "UnknownOperationException":
            return "unsupported"
        raise
    return "enabled"


def ensure_tables(settings: Settings, client=None, tables=ALL_TABLES) -> dict[str, str]:
    """All tables: name -> "created" | "exists"."""
    client = client or aws.dynamodb(settings)
    return {settings.table_name(t.logical): ensure_table(client, settings, t) for t in tables}


def main() -> int:
    settings = Settings.from_env()
    for name, outcome in ensure_tables(settings).items():
        print(f"{name}: {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
