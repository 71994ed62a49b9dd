"""The store of the local stack is dynalite speaking the DynamoDB API, on disk."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from functions.tables import ALL_TABLES, ROOMS
from harness import unique
from local.stack import tables_setup


def test_every_table_exists_and_is_active(ddb, settings):
    names = set(ddb.list_tables()["TableNames"])
    for table in ALL_TABLES:
        name = settings.table_name(table.logical)
        assert name in names
        desc = ddb.describe_table(TableName=name)["Table"]
        assert desc["TableStatus"] == "ACTIVE"
        assert desc["KeySchema"] == table.key_schema()
        assert {i["IndexName"] for i in desc.get("GlobalSecondaryIndexes", [])} == {i.name for i in table.indexes}


def test_table_setup_is_idempotent(ddb, settings):
    outcomes = tables_setup.ensure_tables(settings, ddb)
    assert set(outcomes.values()) == {"exists"}


def test_put_get_and_a_failing_conditional_put(ddb, settings):
    table = settings.table_name(ROOMS.logical)
    room = unique("room")
    ddb.put_item(TableName=table, Item={"roomId": {"S": room}, "name": {"S": "first"}},
                 ConditionExpression="attribute_not_exists(roomId)")
    item = ddb.get_item(TableName=table, Key={"roomId": {"S": room}}, ConsistentRead=True)["Item"]
    assert item["name"] == {"S": "first"}
    with pytest.raises(ClientError) as caught:
        ddb.put_item(TableName=table, Item={"roomId": {"S": room}, "name": {"S": "second"}},
                     ConditionExpression="attribute_not_exists(roomId)")
    assert caught.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    item = ddb.get_item(TableName=table, Key={"roomId": {"S": room}}, ConsistentRead=True)["Item"]
    assert item["name"] == {"S": "first"}


def _put_and_read_back_after(ddb, settings, interrupt) -> None:
    table = settings.table_name(ROOMS.logical)
    room = unique("room")
    ddb.put_item(TableName=table, Item={"roomId": {"S": room}, "name": {"S": "durable"}})
    interrupt()
    item = ddb.get_item(TableName=table, Key={"roomId": {"S": room}}, ConsistentRead=True).get("Item")
    assert item == {"roomId": {"S": room}, "name": {"S": "durable"}}


def test_data_survives_a_store_restart(local_stack, ddb, settings):
    pid = local_stack.pid("dynalite")
    _put_and_read_back_after(ddb, settings, lambda: local_stack.restart("dynalite"))
    assert local_stack.pid("dynalite") not in (None, pid)


def test_data_survives_a_store_crash(local_stack, ddb, settings):
    def crash_and_start():
        assert local_stack.kill("dynalite") == "killed"
        local_stack.start("dynalite")

    _put_and_read_back_after(ddb, settings, crash_and_start)


def test_dynalite_has_no_transactions(ddb, settings):
    """A documented gap the design relies on knowing (no TransactWriteItems)."""
    table = settings.table_name(ROOMS.logical)
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": {"roomId": {"S": unique()}}}}])
    assert caught.value.response["Error"]["Code"] == "UnknownOperationException"
