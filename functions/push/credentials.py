"""The senders' keys, from where TIDINGS_PUSH_CREDENTIALS says: `file:/path.json` (the
local stack writes one, local/stack/push_keys.py) or `secretsmanager:<secret id or ARN>` (iac/).

The document: {"fcm": <a Google service-account JSON>, "apns": {"keyId", "teamId",
"privateKey": <the .p8 PEM>}, "webpush": {"vapidPrivateKey": <PEM>, "subject": "mailto:..."}};
any part may be missing, and that service then gets no pushes.
"""

from __future__ import annotations

import json
from pathlib import Path

from functions.settings import Settings, SettingsError


def load(settings: Settings, secrets_client=None) -> dict:
    spec = settings.push_credentials
    if not spec:
        return {}
    kind, _, where = spec.partition(":")
    if kind == "file":
        text = Path(where).read_text()
    elif kind == "secretsmanager":
        if secrets_client is None:
            import boto3

            secrets_client = boto3.client("secretsmanager", region_name=settings.aws_region)
        text = secrets_client.get_secret_value(SecretId=where)["SecretString"]
    else:
        raise SettingsError(f"TIDINGS_PUSH_CREDENTIALS must be file:<path> or secretsmanager:<id>, got {kind!r}")
    document = json.loads(text)
    if not isinstance(document, dict):
        raise SettingsError("the push credentials must be a JSON object")
    return document
