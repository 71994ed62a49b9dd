"""The store of the local stack is dynalite speaking the DynamoDB API, on disk."""

from __future__ import annotations

import socket
import struct
import time
from urllib.parse import urlsplit

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


def test_a_client_killed_mid_request_leaves_the_store_up(local_stack, ddb, settings):
    """dynalite itself throws on a request stream's error and exits: one worker killed while
    it sent a request took the store down for everyone (a chaos run saw it). Its launcher,
    local/emulators/dynalite_server.js, drops that request instead."""
    pid = local_stack.pid("dynalite")
    endpoint = urlsplit(settings.dynamodb_endpoint)
    with socket.create_connection((endpoint.hostname, endpoint.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: store\r\nContent-Type: application/x-amz-json-1.0\r\n"
                     b"X-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Length: 1000\r\n\r\n{\"Li")
        time.sleep(0.3)   # the request is being read when the client goes
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))   # close = RST
    deadline = time.monotonic() + 10
    while "dropped: ECONNRESET" not in local_stack.log_path("dynalite").read_text(errors="replace"):
        assert time.monotonic() < deadline, "the reset request was never seen"
        time.sleep(0.1)
    assert local_stack.pid("dynalite") == pid
    assert ddb.list_tables(Limit=1)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_dynalite_has_no_transactions(ddb, settings):
    """A documented gap the design relies on knowing (no TransactWriteItems)."""
    table = settings.table_name(ROOMS.logical)
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": {"roomId": {"S": unique()}}}}])
    assert caught.value.response["Error"]["Code"] == "UnknownOperationException"
