"""Keys for the local push services, made at run time in the stack's home (never in git).

`ensure(directory)` writes, once:
- `credentials.json`: what the notifier signs with, in the shape TIDINGS_PUSH_CREDENTIALS
  names (in AWS the same document is a Secrets Manager secret): an FCM service account
  (RSA), an APNs token key (P-256 .p8 PEM, key id, team id), a VAPID key (P-256 PEM).
- `gateway.json`: what the local push gateway verifies with, i.e. only the public halves,
  as the real services know them (the service account's key, the APNs key by its id).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

FCM_PROJECT = "tidings-local"
APNS_TEAM_ID = "TIDINGSDEV"
VAPID_SUBJECT = "mailto:push@tidings.invalid"


def _pem_private(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _pem_public(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def vapid_public_key(private_pem: str) -> str:
    """The applicationServerKey browsers subscribe with: base64url of the uncompressed point."""
    key = serialization.load_pem_private_key(private_pem.encode(), None)
    return b64url(key.public_key().public_bytes(serialization.Encoding.X962,
                                                serialization.PublicFormat.UncompressedPoint))


def _write(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def ensure(directory: Path) -> dict:
    """Make the keys if missing; returns {"credentials": path, "gateway": path, "vapidPublicKey"}."""
    directory.mkdir(parents=True, exist_ok=True)
    creds_path, gateway_path = directory / "credentials.json", directory / "gateway.json"
    if not (creds_path.exists() and gateway_path.exists()):
        fcm_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        apns_key, vapid_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        key_id, apns_key_id = secrets.token_hex(20), secrets.token_hex(5).upper()
        email = f"notifier@{FCM_PROJECT}.iam.gserviceaccount.com"
        credentials = {
            "fcm": {"type": "service_account", "project_id": FCM_PROJECT, "private_key_id": key_id,
                    "private_key": _pem_private(fcm_key), "client_email": email, "client_id": "1",
                    "token_uri": "https://oauth2.googleapis.com/token"},
            "apns": {"keyId": apns_key_id, "teamId": APNS_TEAM_ID, "privateKey": _pem_private(apns_key)},
            "webpush": {"vapidPrivateKey": _pem_private(vapid_key), "subject": VAPID_SUBJECT},
        }
        gateway = {
            "fcm": {"projectId": FCM_PROJECT, "clientEmail": email, "keyId": key_id, "publicKey": _pem_public(fcm_key)},
            "apns": {"keyId": apns_key_id, "teamId": APNS_TEAM_ID, "publicKey": _pem_public(apns_key)},
            "webpush": {"applicationServerKey": vapid_public_key(credentials["webpush"]["vapidPrivateKey"])},
        }
        _write(gateway_path, gateway)
        _write(creds_path, credentials)
    gateway = json.loads(gateway_path.read_text())
    return {"credentials": creds_path, "gateway": gateway_path,
            "vapidPublicKey": gateway["webpush"]["applicationServerKey"]}
