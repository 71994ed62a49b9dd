import base64

import pytest

from functions.events import HttpApiEvent, KafkaEvent, KafkaRecord


def test_msk_event(load_event):
    raw = load_event("kafkaEventMsk")
    event = KafkaEvent(raw)
    assert event.event_source == "aws:kafka" and event.is_kafka and not event.is_self_managed
    assert event.event_source_arn.startswith("arn:aws:kafka:")
    assert event.bootstrap_servers.count(",") == 1
    assert event.decoded_bootstrap_servers == raw["bootstrapServers"].split(",")
    assert event.partition_keys == ["mytopic-0", "mytopic-1"]

    records = list(event.records)
    assert [(r.partition_key, r.offset) for r in records] == [("mytopic-0", 15), ("mytopic-0", 16), ("mytopic-1", 3)]
    first = records[0]
    assert (first.topic, first.partition, first.timestamp, first.timestamp_type) == \
        ("mytopic", 0, 1545084650987, "CREATE_TIME")
    assert first.key == raw["records"]["mytopic-0"][0]["key"]
    assert first.decoded_key == b"recordKey"
    assert first.decoded_value == b'{"key":"value"}'
    assert first.json_value == {"key": "value"}
    # a repeated header name keeps its first value
    assert first.decoded_headers == {"headerKey": b"headerValue", "other": b"x"}
    assert first.header("headerKey") == "headerValue" and first.header("missing", "d") == "d"
    assert records[2].timestamp_type == "LOG_APPEND_TIME"
    assert records[1].decoded_headers == {}


def test_views_are_stateless_and_do_not_mutate(load_event):
    raw = load_event("kafkaEventMsk")
    before = repr(raw)
    event = KafkaEvent(raw)
    first_walk = [r.offset for r in event.records]
    assert [r.offset for r in event.records] == first_walk  # a second walk starts over
    for record in event.records:
        _ = record.json_value, record.decoded_headers
    assert repr(raw) == before
    assert dict(event) == raw and len(event) == len(raw) and event["eventSource"] == "aws:kafka"
    assert event.raw_event is raw


def test_self_managed_event_without_arn_and_keys(load_event):
    event = KafkaEvent(load_event("kafkaEventSelfManaged"))
    assert event.event_source == "SelfManagedKafka" and event.is_kafka and event.is_self_managed
    assert event.event_source_arn is None
    records = list(event.records)
    assert records[0].key is None and records[0].decoded_key is None  # key omitted
    assert records[1].key is None and records[1].decoded_key is None  # key null
    assert records[1].json_value == {"key": "value2"}


def test_legacy_self_managed_spelling_and_string_partition(load_event):
    event = KafkaEvent(load_event("kafkaEventSelfManagedLegacy"))
    assert event.is_kafka and event.is_self_managed
    (record,) = event.records
    assert record.partition == 2 and record.partition_key == "mytopic-2"
    assert record.json_value == [1, 2, 3]
    assert record.decoded_headers == {"h": b""}


def test_not_a_kafka_event():
    assert not KafkaEvent({"eventSource": "aws:sqs", "Records": []}).is_kafka
    assert list(KafkaEvent({"eventSource": "aws:kafka"}).records) == []


def test_json_value_is_cached_and_loader_injectable():
    calls = []

    def loader(data):
        calls.append(data)
        return {"n": len(calls)}

    record = KafkaRecord({"topic": "t", "partition": 0, "offset": 1, "timestamp": 0, "timestampType": "CREATE_TIME",
                          "value": base64.b64encode(b"{}").decode()}, json_deserializer=loader)
    assert record.json_value == {"n": 1} and record.json_value == {"n": 1} and len(calls) == 1


def test_bad_base64_raises():
    record = KafkaRecord({"topic": "t", "partition": 0, "offset": 1, "value": "not base64!"})
    with pytest.raises(ValueError):
        _ = record.decoded_value


def test_http_api_get(load_event):
    event = HttpApiEvent(load_event("apiGatewayHttpV2Get"))
    assert event.version == "2.0"
    assert event.route_key == "GET /rooms/{roomId}/messages"
    assert event.raw_path == "/rooms/r-1/messages" and event.path == "/rooms/r-1/messages"
    assert event.method == "GET"
    assert event.path_parameters == {"roomId": "r-1"}
    assert event.query_string_parameters == {"limit": "20", "before": "100"} and event.query("limit") == "20"
    assert event.raw_query_string == "limit=20&before=100"
    assert event.headers["accept"] == "application/json"  # lowercased
    assert event.header("Content-Type") == "application/json"
    assert event.cookies == ["a=1", "b=2"]
    assert event.body is None and event.body_bytes == b"" and event.json_body is None
    assert event.jwt_claims == {"sub": "alice", "role": "customer", "iss": "tidings"}
    assert event.jwt_scopes == ["chat.read"]
    assert event.request_id == "id-1" and event.source_ip == "203.0.113.9" and event.user_agent == "agent"
    assert event.stage_variables == {"stage": "dev"}


def test_http_api_base64_body(load_event):
    event = HttpApiEvent(load_event("apiGatewayHttpV2PostBase64"))
    assert event.method == "POST" and event.is_base64_encoded
    assert event.json_body == {"name": "Café", "members": {"carol": "groomer"}}
    assert event.body == '{"name":"Café","members":{"carol":"groomer"}}'
    assert event.path_parameters == {} and event.query_string_parameters == {}
    assert event.jwt_claims == {"sub": "bob"} and event.jwt_scopes == []


def test_http_api_plain_body_and_minimal_event():
    event = HttpApiEvent({"version": "2.0", "routeKey": "$default", "rawPath": "/",
                          "body": '{"a": 1}', "isBase64Encoded": False,
                          "requestContext": {"http": {"method": "post"}}})
    assert event.json_body == {"a": 1} and event.body == '{"a": 1}' and event.method == "POST"
    assert event.headers == {} and event.jwt_claims == {} and event.request_id is None
