"""Read-only views over the Lambda events tidings handles (Powertools style).

A view wraps the event dict (it is a Mapping over it), never copies or mutates it, and
keeps no iteration state: reading `records` twice walks the same records twice. Decoding
climbs a ladder: raw (`value`) -> `decoded_value` (bytes) -> `json_value` (cached).

- `KafkaEvent` / `KafkaRecord`: Lambda's event for MSK (`aws:kafka`) and self-managed
  Kafka (`SelfManagedKafka`, and the old spelling `aws:SelfManagedKafka`).
- `HttpApiEvent`: API Gateway HTTP API payload format 2.0.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import Any, Callable

import orjson

KAFKA_EVENT_SOURCES = ("aws:kafka", "SelfManagedKafka", "aws:SelfManagedKafka")

JsonLoader = Callable[[bytes | str], Any]


class DictWrapper(Mapping):
    """A read-only view over a dict from Lambda."""

    def __init__(self, data: Mapping[str, Any], json_deserializer: JsonLoader | None = None):
        self._data = data
        self._json_deserializer = json_deserializer or orjson.loads

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    @property
    def raw_event(self) -> Mapping[str, Any]:
        return self._data

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"


# --- Kafka --------------------------------------------------------------------------------

class KafkaRecord(DictWrapper):
    @property
    def topic(self) -> str:
        return self["topic"]

    @property
    def partition(self) -> int:
        # AWS sends an int; some old third-party samples show a string.
        return int(self["partition"])

    @property
    def offset(self) -> int:
        return int(self["offset"])

    @property
    def timestamp(self) -> int:
        return int(self["timestamp"])

    @property
    def timestamp_type(self) -> str:
        return self["timestampType"]

    @property
    def partition_key(self) -> str:
        """The `"topic-partition"` key of this record, as used in `batchItemFailures`."""
        return f"{self.topic}-{self.partition}"

    @property
    def key(self) -> str | None:
        """The raw (base64) key; None when the record has no key (missing or null)."""
        return self.get("key")

    @property
    def value(self) -> str | None:
        return self.get("value")

    @property
    def headers(self) -> list[Mapping[str, list[int]]]:
        return self.get("headers") or []

    @cached_property
    def decoded_key(self) -> bytes | None:
        return None if self.key is None else base64.b64decode(self.key, validate=True)

    @cached_property
    def decoded_value(self) -> bytes:
        return b"" if self.value is None else base64.b64decode(self.value, validate=True)

    @cached_property
    def json_value(self) -> Any:
        return self._json_deserializer(self.decoded_value)

    @cached_property
    def decoded_headers(self) -> dict[str, bytes]:
        """Header name -> value bytes. A repeated name keeps its first value."""
        out: dict[str, bytes] = {}
        for header in self.headers:
            for name, value in header.items():
                if name not in out:
                    out[name] = bytes(value or [])
        return out

    def header(self, name: str, default: str | None = None) -> str | None:
        """A header's value as UTF-8 text."""
        raw = self.decoded_headers.get(name)
        return default if raw is None else raw.decode("utf-8", "replace")


class KafkaEvent(DictWrapper):
    @property
    def event_source(self) -> str:
        return self["eventSource"]

    @property
    def is_kafka(self) -> bool:
        return self.get("eventSource") in KAFKA_EVENT_SOURCES

    @property
    def is_self_managed(self) -> bool:
        return self.get("eventSource") in ("SelfManagedKafka", "aws:SelfManagedKafka")

    @property
    def event_source_arn(self) -> str | None:
        """The MSK cluster ARN; self-managed Kafka events have none."""
        return self.get("eventSourceArn")

    @property
    def bootstrap_servers(self) -> str:
        return self.get("bootstrapServers") or ""

    @property
    def decoded_bootstrap_servers(self) -> list[str]:
        return [s for s in self.bootstrap_servers.split(",") if s]

    @property
    def partition_keys(self) -> list[str]:
        return list((self.get("records") or {}).keys())

    def partitions(self) -> Iterator[tuple[str, list[KafkaRecord]]]:
        """(`"topic-partition"`, its records in the order given) for each partition."""
        for key, records in (self.get("records") or {}).items():
            yield key, [KafkaRecord(r, self._json_deserializer) for r in records or ()]

    @property
    def records(self) -> Iterator[KafkaRecord]:
        """Every record of every partition, partition by partition, in order. Each access
        starts a fresh walk."""
        for _key, records in self.partitions():
            yield from records


# --- API Gateway HTTP API, payload format 2.0 -----------------------------------------------

class HttpApiEvent(DictWrapper):
    @property
    def version(self) -> str:
        return self.get("version", "2.0")

    @property
    def route_key(self) -> str:
        return self.get("routeKey") or self.request_context.get("routeKey", "$default")

    @property
    def raw_path(self) -> str:
        return self.get("rawPath", "")

    @property
    def raw_query_string(self) -> str:
        return self.get("rawQueryString", "")

    @property
    def request_context(self) -> Mapping[str, Any]:
        return self.get("requestContext") or {}

    @property
    def http(self) -> Mapping[str, Any]:
        return self.request_context.get("http") or {}

    @property
    def method(self) -> str:
        return (self.http.get("method") or "").upper()

    @property
    def path(self) -> str:
        return self.http.get("path") or self.raw_path

    @property
    def source_ip(self) -> str | None:
        return self.http.get("sourceIp")

    @property
    def user_agent(self) -> str | None:
        return self.http.get("userAgent")

    @property
    def request_id(self) -> str | None:
        return self.request_context.get("requestId")

    @property
    def stage(self) -> str | None:
        return self.request_context.get("stage")

    @property
    def path_parameters(self) -> dict[str, str]:
        return dict(self.get("pathParameters") or {})

    @property
    def query_string_parameters(self) -> dict[str, str]:
        return dict(self.get("queryStringParameters") or {})

    query_params = query_string_parameters

    def query(self, name: str, default: str | None = None) -> str | None:
        return self.query_string_parameters.get(name, default)

    @cached_property
    def headers(self) -> dict[str, str]:
        """Headers with lowercase names (HTTP API already lowercases them; this makes sure)."""
        return {name.lower(): value for name, value in (self.get("headers") or {}).items()}

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    @property
    def cookies(self) -> list[str]:
        return list(self.get("cookies") or [])

    @property
    def stage_variables(self) -> dict[str, str]:
        return dict(self.get("stageVariables") or {})

    @property
    def is_base64_encoded(self) -> bool:
        return bool(self.get("isBase64Encoded"))

    @property
    def raw_body(self) -> str | None:
        return self.get("body")

    @cached_property
    def body_bytes(self) -> bytes:
        """The body as bytes, base64-decoded when `isBase64Encoded`; b"" when absent."""
        raw = self.raw_body
        if raw is None:
            return b""
        if self.is_base64_encoded:
            return base64.b64decode(raw)
        return raw.encode("utf-8")

    @property
    def body(self) -> str | None:
        """The body as text (base64-decoded when needed); None when absent."""
        if self.raw_body is None:
            return None
        return self.body_bytes.decode("utf-8") if self.is_base64_encoded else self.raw_body

    @cached_property
    def json_body(self) -> Any:
        """The body parsed as JSON; None when there is no body. Raises on invalid JSON."""
        data = self.body_bytes
        return self._json_deserializer(data) if data else None

    @property
    def jwt_claims(self) -> dict[str, Any]:
        jwt = (self.request_context.get("authorizer") or {}).get("jwt") or {}
        return dict(jwt.get("claims") or {})

    @property
    def jwt_scopes(self) -> list[str]:
        jwt = (self.request_context.get("authorizer") or {}).get("jwt") or {}
        return list(jwt.get("scopes") or [])
