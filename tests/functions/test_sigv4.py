"""The lean signer gives botocore's signature for DynamoWire's request shape."""

import datetime as dt

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from functions import sigv4
from functions.sigv4 import PostSigner, host_of

AT = dt.datetime(2026, 12, 2, 9, 30, 5, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("url,token", [
    ("http://127.0.0.1:8000", None),
    ("https://dynamodb.eu-central-1.amazonaws.com", "session-token/with+chars="),
])
def test_same_signature_as_botocore(monkeypatch, url, token):
    body = b'{"TableName":"tidings-messages","Key":{"roomId":{"S":"r 1"}}}'
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.GetItem"}
    request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: AT.replace(tzinfo=None))
    SigV4Auth(Credentials("AKIDEXAMPLE", "secret/key", token), "dynamodb", "eu-central-1").add_auth(request)

    ours = PostSigner("dynamodb", "eu-central-1", host_of(url), now=lambda: AT).headers(
        body, {k.lower(): v for k, v in headers.items()}, "AKIDEXAMPLE", "secret/key", token)
    assert ours["authorization"] == request.headers["Authorization"]
    assert ours["x-amz-date"] == request.headers["X-Amz-Date"]
    assert ours.get("x-amz-security-token") == request.headers.get("X-Amz-Security-Token")


def test_signing_key_is_derived_once_per_day_and_secret(monkeypatch):
    calls = []
    real = sigv4._hmac
    monkeypatch.setattr(sigv4, "_hmac", lambda key, text: calls.append(text) or real(key, text))
    days = iter([AT, AT, AT + dt.timedelta(days=1)])
    signer = PostSigner("dynamodb", "us-east-1", "h", now=lambda: next(days))
    first = signer.headers(b"{}", {}, "A", "s")
    second = signer.headers(b"{}", {}, "A", "s")
    assert len(calls) == 4 and first == second   # the same second: the same signature
    signer.headers(b"{}", {}, "A", "s")
    assert len(calls) == 8   # a new day: a new key


def test_host_leaves_out_default_ports():
    assert host_of("https://dynamodb.us-east-1.amazonaws.com") == "dynamodb.us-east-1.amazonaws.com"
    assert host_of("https://x.example:443") == "x.example"
    assert host_of("http://127.0.0.1:8000") == "127.0.0.1:8000"
