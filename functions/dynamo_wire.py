"""DynamoDB's JSON protocol straight over HTTP, for the batched calls on the hot path.

Measured (BENCHMARKS.md, "What limits it"): botocore spends ~200 µs of CPU per item building
a BatchWriteItem request (it walks the service model for every attribute of every item) and
boto3's TypeSerializer another ~130 µs, more than the store itself needs to write the item.
Here the same requests are encoded once with orjson (`encode_item` knows the few types tidings
stores), signed by functions/sigv4.py (botocore's signature, without its per-request
generality) and sent over a keep-alive urllib3 pool.
`WireClient` offers boto3's low-level calling convention on top, so the stores of the
functions and the edge use it for every data call; tables are created with boto3.

Errors keep botocore's shape: a refusal raises `botocore.exceptions.ClientError` with the
service's error code, so callers handle both paths alike. Throttling, 5xx and dropped
connections are retried here with backoff (what boto3's standard retry mode does).
"""

from __future__ import annotations

import base64
import decimal
import random
import time
from typing import Any, Mapping

import orjson
import urllib3
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.session import get_session

from functions.settings import Settings
from functions.sigv4 import PostSigner, host_of

TARGET_PREFIX = "DynamoDB_20120810."
CONTENT_TYPE = "application/x-amz-json-1.0"
RETRYABLE_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException",
                             "RequestLimitExceeded", "InternalServerError", "ServiceUnavailable",
                             "TransactionInProgressException"})


# --- plain values <-> AttributeValues --------------------------------------------------------

def encode(value: Any) -> dict:
    """A plain value (str, int, float, bool, None, bytes, dict, list) as an AttributeValue."""
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is int:
        return {"N": str(value)}
    if kind is bool:
        return {"BOOL": value}
    if kind is dict:
        return {"M": {k: encode(v) for k, v in value.items() if v is not None}}
    if kind is float or kind is decimal.Decimal:
        return {"N": str(decimal.Decimal(repr(value)) if kind is float else value)}
    if kind is list or kind is tuple:
        return {"L": [encode(v) for v in value]}
    if value is None:
        return {"NULL": True}
    if kind is bytes:
        return {"B": base64.b64encode(value).decode("ascii")}
    raise TypeError(f"cannot store a {kind.__name__}")


def encode_item(obj: Mapping[str, Any]) -> dict:
    """An item: attributes whose value is None are left out (as functions.store.to_item does)."""
    return {k: encode(v) for k, v in obj.items() if v is not None}


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        number = decimal.Decimal(text)
        return int(number) if number == number.to_integral_value() else float(number)


def decode(value: Mapping[str, Any]) -> Any:
    (kind, raw), = value.items()
    if kind == "S":
        return raw
    if kind == "N":
        return _number(raw)
    if kind == "M":
        return {k: decode(v) for k, v in raw.items()}
    if kind == "L":
        return [decode(v) for v in raw]
    if kind == "BOOL":
        return raw
    if kind == "NULL":
        return None
    if kind == "B":
        return base64.b64decode(raw)
    if kind == "SS":
        return set(raw)
    if kind == "NS":
        return {_number(n) for n in raw}
    raise ValueError(f"unknown AttributeValue type {kind}")


def decode_item(item: Mapping[str, Any]) -> dict:
    return {k: decode(v) for k, v in item.items()}


# --- the client -----------------------------------------------------------------------------

class DynamoWire:
    """A thread- and greenlet-safe caller of DynamoDB operations with pre-encoded bodies."""

    def __init__(self, settings: Settings, *, max_attempts: int = 8, pool_size: int = 256,
                 connect_timeout_s: float = 3.0, read_timeout_s: float = 10.0, sleep=time.sleep):
        self.region = settings.aws_region
        self.url = settings.dynamodb_endpoint or f"https://dynamodb.{settings.aws_region}.amazonaws.com"
        if settings.dynamodb_endpoint:   # dynalite takes any credentials (as functions.aws does)
            self._credentials = Credentials("local", "local")
        else:
            self._credentials = get_session().get_credentials()
            if self._credentials is None:
                raise RuntimeError("no AWS credentials found for DynamoDB")
        self.max_attempts = max_attempts
        self._sleep = sleep
        self._signer = PostSigner("dynamodb", self.region, host_of(self.url))
        # block: callers beyond pool_size wait for a connection instead of opening (and then
        # discarding) one of their own: thousands of greenlets must not become thousands of
        # connections to the store
        self._pool = urllib3.PoolManager(maxsize=pool_size, block=True, retries=False,
                                         timeout=urllib3.Timeout(connect=connect_timeout_s, read=read_timeout_s))

    def _signed_headers(self, operation: str, body: bytes) -> dict[str, str]:
        credentials = self._credentials.get_frozen_credentials() if hasattr(
            self._credentials, "get_frozen_credentials") else self._credentials
        return self._signer.headers(body, {"content-type": CONTENT_TYPE, "x-amz-target": TARGET_PREFIX + operation},
                                    credentials.access_key, credentials.secret_key, credentials.token)

    def call(self, operation: str, params: Mapping[str, Any]) -> dict:
        """One operation; returns its decoded JSON answer or raises ClientError."""
        body = orjson.dumps(params)
        for attempt in range(self.max_attempts):
            if attempt:
                self._sleep(min(0.025 * 2 ** attempt, 2.0) * (0.5 + random.random() / 2))
            try:
                response = self._pool.request("POST", self.url, body=body,
                                              headers=self._signed_headers(operation, body))
            except urllib3.exceptions.HTTPError:
                if attempt == self.max_attempts - 1:
                    raise
                continue
            data = orjson.loads(response.data) if response.data else {}
            if response.status == 200:
                return data
            code = str(data.get("__type", "")).rpartition("#")[2] or f"HTTP{response.status}"
            if (code in RETRYABLE_CODES or response.status >= 500) and attempt < self.max_attempts - 1:
                continue
            message = data.get("message") or data.get("Message") or ""
            raise ClientError({"Error": {"Code": code, "Message": message},
                               "ResponseMetadata": {"HTTPStatusCode": response.status}}, operation)
        raise AssertionError("unreachable")   # pragma: no cover


class WireClient:
    """boto3's low-level DynamoDB client's calling convention over DynamoWire: the same
    parameters (AttributeValue dicts), the same answers, the same ClientErrors, e.g.
    `client.update_item(TableName=..., Key=..., UpdateExpression=...)`."""

    def __init__(self, wire: DynamoWire):
        self.wire = wire

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        operation = "".join(part.title() for part in name.split("_"))
        return lambda **params: self.wire.call(operation, params)
