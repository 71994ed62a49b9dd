"""What the push services check, with real crypto: an answer the real service would give
is raised as `Reject(status, body)`.

- FCM: the OAuth2 token endpoint takes a service-account JWT (RS256, signed with the key the
  service account was issued) and gives an access token; messages:send wants that bearer.
- APNs: a provider token, ES256 JWT of the team, signed with the .p8 key named by `kid`,
  not older than an hour; the headers APNs requires (apns-topic, apns-push-type...).
- Web Push: the VAPID JWT (RFC 8292) verified with the key in `k=`, its `aud` being the
  push service's origin; the payload decrypted (RFC 8291 aes128gcm) with the subscription's
  private key and auth secret.
"""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any, Mapping

import http_ece
import jwt
from cryptography.hazmat.primitives.asymmetric import ec

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
# Google's token endpoint wants its own URL as the assertion's aud, wherever it is reached.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
APNS_PUSH_TYPES = ("alert", "background", "voip", "complication", "fileprovider", "mdm", "location",
                   "liveactivity", "pushtotalk")
APNS_TOKEN_MAX_AGE_S = 3600
VAPID_MAX_EXP_S = 24 * 3600
TOPIC_RE = re.compile(r"^[A-Za-z0-9_\-]{1,32}$")


class Reject(Exception):
    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None):
        super().__init__(f"{status}: {body}")
        self.status, self.body, self.headers = status, body, dict(headers or {})


def b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


# --- FCM ----------------------------------------------------------------------------------

def fcm_error(status: int, code: str, message: str, fcm_code: str | None = None) -> Reject:
    error: dict = {"code": status, "message": message, "status": code}
    if fcm_code:
        error["details"] = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcm_code}]
    return Reject(status, {"error": error})


def check_token_request(form: Mapping[str, str], account: Mapping[str, str], audience: str) -> dict:
    """The claims of a valid service-account assertion (else 400 invalid_grant, as Google)."""
    if form.get("grant_type") != JWT_BEARER:
        raise Reject(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
    try:
        header = jwt.get_unverified_header(form.get("assertion", ""))
        if header.get("kid") != account["keyId"]:
            raise jwt.InvalidTokenError("unknown key id")
        claims = jwt.decode(form["assertion"], account["publicKey"], algorithms=["RS256"], audience=audience,
                            issuer=account["clientEmail"], options={"require": ["iss", "aud", "exp", "iat"]})
    except (jwt.InvalidTokenError, KeyError) as exc:
        raise Reject(400, {"error": "invalid_grant", "error_description": f"Invalid JWT: {exc}"}) from None
    if FCM_SCOPE not in str(claims.get("scope", "")).split():
        raise Reject(400, {"error": "invalid_scope", "error_description": f"scope must include {FCM_SCOPE}"})
    return claims


def check_fcm_message(body: Any) -> dict:
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, dict) or not isinstance(message.get("token"), str):
        raise fcm_error(400, "INVALID_ARGUMENT", "message.token is required")
    data = message.get("data", {})
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise fcm_error(400, "INVALID_ARGUMENT", "message.data values must be strings")
    return message


# --- APNs ---------------------------------------------------------------------------------

def apns_reject(status: int, reason: str) -> Reject:
    return Reject(status, {"reason": reason})


def check_apns_request(headers: Mapping[str, str], key: Mapping[str, str], now: float | None = None) -> dict:
    """The provider token and the headers; returns the verified token claims."""
    now = time.time() if now is None else now
    auth = headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        raise apns_reject(403, "MissingProviderToken")
    token = auth[7:].strip()
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "ES256" or header.get("kid") != key["keyId"]:
            raise jwt.InvalidTokenError("wrong alg or kid")
        claims = jwt.decode(token, key["publicKey"], algorithms=["ES256"], issuer=key["teamId"],
                            options={"require": ["iss", "iat"], "verify_iat": False})
    except jwt.InvalidTokenError:
        raise apns_reject(403, "InvalidProviderToken") from None
    if not isinstance(claims["iat"], int) or now - claims["iat"] > APNS_TOKEN_MAX_AGE_S:
        raise apns_reject(403, "ExpiredProviderToken")
    if not headers.get("apns-topic"):
        raise apns_reject(400, "MissingTopic")
    if headers.get("apns-push-type", "alert") not in APNS_PUSH_TYPES:
        raise apns_reject(400, "InvalidPushType")
    if len(headers.get("apns-collapse-id", "").encode()) > 64:
        raise apns_reject(400, "BadCollapseId")
    return claims


def check_apns_payload(body: bytes) -> dict:
    if len(body) > 4096:
        raise apns_reject(413, "PayloadTooLarge")
    try:
        payload = json.loads(body)
    except ValueError:
        raise apns_reject(400, "BadPayload") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("aps"), dict):
        raise apns_reject(400, "BadPayload")
    return payload


# --- Web Push -----------------------------------------------------------------------------

def parse_vapid(auth: str) -> tuple[str, str]:
    """`vapid t=<jwt>, k=<key>` -> (jwt, key)."""
    if not auth.lower().startswith("vapid "):
        raise Reject(401, {"error": "Authorization must be the vapid scheme (RFC 8292)"})
    params = dict(part.strip().split("=", 1) for part in auth[6:].split(",") if "=" in part)
    if "t" not in params or "k" not in params:
        raise Reject(401, {"error": "vapid needs t= and k="})
    return params["t"], params["k"]


def check_vapid(auth: str, origin: str, expected_key: str | None, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    token, key = parse_vapid(auth)
    if expected_key and key.rstrip("=") != expected_key.rstrip("="):
        raise Reject(403, {"error": "k= is not the applicationServerKey this subscription was made with"})
    try:
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
        claims = jwt.decode(token, public, algorithms=["ES256"], audience=origin,
                            options={"require": ["aud", "exp", "sub"]})
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise Reject(401, {"error": f"invalid VAPID token: {exc}"}) from None
    if claims["exp"] > now + VAPID_MAX_EXP_S:
        raise Reject(401, {"error": "VAPID exp more than 24 hours ahead"})
    if not str(claims["sub"]).startswith(("mailto:", "https:")):
        raise Reject(401, {"error": "VAPID sub must be a mailto: or https: URI"})
    return claims


def check_webpush_headers(headers: Mapping[str, str]) -> None:
    if headers.get("content-encoding", "").lower() != "aes128gcm":
        raise Reject(415, {"error": "Content-Encoding must be aes128gcm (RFC 8291)"})
    if not headers.get("ttl", "").isdigit():
        raise Reject(400, {"error": "TTL header required (RFC 8030)"})
    topic = headers.get("topic")
    if topic is not None and not TOPIC_RE.match(topic):
        raise Reject(400, {"error": "Topic must be at most 32 base64url characters"})


def decrypt_webpush(body: bytes, private_key: ec.EllipticCurvePrivateKey, auth_secret: bytes) -> bytes:
    try:
        return http_ece.decrypt(body, private_key=private_key, auth_secret=auth_secret, version="aes128gcm")
    except Exception as exc:  # noqa: BLE001 - any failure to decrypt is the sender's
        raise Reject(400, {"error": f"cannot decrypt the payload: {exc!r}"}) from None
