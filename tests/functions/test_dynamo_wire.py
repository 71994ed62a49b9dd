"""The wire client against the real store: boto3's calling convention, boto3's answers."""

import uuid

import pytest
from botocore.exceptions import ClientError

from functions import aws, tables
from functions.dynamo_wire import decode_item, encode_item

def test_item_encoding_round_trips_the_stored_types():
    item = {"roomId": "r-1", "seq": 7, "at": 1.5, "body": "héllo", "flag": True,
            "tags": ["a", 2, None], "meta": {"k": "v"}, "raw": b"\x00\x01"}
    assert decode_item(encode_item(item)) == item
    # an attribute without a value is left out, as functions.store.to_item does
    assert decode_item(encode_item({**item, "none": None})) == item


@pytest.mark.stack
def test_wire_client_answers_like_boto3(settings, ddb):
    wire = aws.dynamodb_data(settings)
    table = settings.table_name(tables.ROOMS.logical)
    key = {"roomId": {"S": f"wire-{uuid.uuid4().hex[:8]}"}}
    wire.put_item(TableName=table, Item={**key, "creator": {"S": "u-1"}, "n": {"N": "1"}})
    got = wire.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert got == ddb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    updated = wire.update_item(TableName=table, Key=key, UpdateExpression="ADD n :one",
                               ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="UPDATED_NEW")
    assert updated["Attributes"] == {"n": {"N": "2"}}


@pytest.mark.stack
def test_wire_client_raises_the_services_error_code(settings):
    wire = aws.dynamodb_data(settings)
    table = settings.table_name(tables.ROOMS.logical)
    key = {"roomId": {"S": f"wire-{uuid.uuid4().hex[:8]}"}}
    wire.put_item(TableName=table, Item=key)
    with pytest.raises(ClientError) as refused:
        wire.put_item(TableName=table, Item=key, ConditionExpression="attribute_not_exists(roomId)")
    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    with pytest.raises(ClientError) as missing:
        wire.get_item(TableName=f"{table}-no-such-table", Key=key)
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
