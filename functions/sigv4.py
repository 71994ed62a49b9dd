"""AWS Signature Version 4 for the one request shape DynamoWire sends: `POST /` with a JSON body.

botocore's `SigV4Auth.add_auth` is general (any method, path, query, header set) and builds an
`AWSRequest` per call; on the edge that was ~11 % of its CPU while 3,000 clients subscribed
(py-spy, BENCHMARKS.md "What limits it"). Here the canonical request has a fixed shape and
the signing key (four HMACs) is derived once per day and secret. The result is the same
signature botocore computes: tests/functions/test_sigv4.py checks it against botocore.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Callable
from urllib.parse import urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def host_of(url: str) -> str:
    """The Host header of `url` as HTTP clients send it: the port only when it is not the default."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.hostname if parts.port in (None, default) else f"{parts.hostname}:{parts.port}"


class PostSigner:
    """Signs `POST /` requests with fixed extra headers for one service, region and host."""

    def __init__(self, service: str, region: str, host: str,
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)):
        self.service, self.region, self.host = service, region, host
        self._now = now
        self._key: tuple[str, str, bytes] | None = None   # (secret, date, signing key)

    def _signing_key(self, secret: str, date: str) -> bytes:
        cached = self._key
        if cached is not None and cached[0] == secret and cached[1] == date:
            return cached[2]
        key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), date), self.region), self.service),
                    "aws4_request")
        self._key = (secret, date, key)
        return key

    def headers(self, body: bytes, extra: dict[str, str], access_key: str, secret: str,
                token: str | None = None) -> dict[str, str]:
        """Every header the request needs, Authorization included. `extra`'s names must be
        lower case (they are signed as given)."""
        stamp = self._now().strftime("%Y%m%dT%H%M%SZ")
        date = stamp[:8]
        signed = {**extra, "host": self.host, "x-amz-date": stamp}
        if token:
            signed["x-amz-security-token"] = token
        names = sorted(signed)
        canonical = "\n".join((
            "POST", "/", "",
            "".join(f"{name}:{' '.join(signed[name].split())}\n" for name in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest()))
        scope = f"{date}/{self.region}/{self.service}/aws4_request"
        to_sign = f"{ALGORITHM}\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signature = hmac.new(self._signing_key(secret, date), to_sign.encode(), hashlib.sha256).hexdigest()
        signed["authorization"] = (f"{ALGORITHM} Credential={access_key}/{scope}, "
                                   f"SignedHeaders={';'.join(names)}, Signature={signature}")
        return signed
