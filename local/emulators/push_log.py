"""`invoke push-log`: what the local push gateway received, from its log in the stack's home
(HOME/push/deliveries.jsonl), readable whether the gateway runs or not."""

from __future__ import annotations

import json
from pathlib import Path


def read(home: Path, device: str = "", last: int = 20, everything: bool = False) -> list[dict]:
    path = home / "push" / "deliveries.jsonl"
    if not path.exists():
        return []
    entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    entries = [e for e in entries if (everything or e["delivered"]) and (not device or e["device"] == device)]
    return entries[-last:] if last > 0 else entries


def describe(entry: dict) -> str:
    """One line: when, service, status, the device (shortened), what the phone would show."""
    payload = entry.get("payload") or {}
    if entry["service"] == "apns":
        aps = payload.get("aps", {})
        shown, badge, collapse = aps.get("alert", {}), aps.get("badge"), entry.get("headers", {}).get("apns-collapse-id")
    elif entry["service"] == "fcm":
        shown, badge = payload.get("notification", {}), payload.get("android", {}).get("notification", {}).get(
            "notification_count")
        collapse = payload.get("android", {}).get("collapse_key")
    else:
        shown, badge, collapse = payload, payload.get("badge"), payload.get("tag")
    device = entry["device"][:12] + ("…" if len(entry["device"]) > 12 else "")
    what = f"{shown.get('title', '')!r}: {shown.get('body', '')!r} badge={badge} collapse={collapse}" \
        if entry["delivered"] else f"refused: {entry.get('reason') or ''}"
    return f"#{entry['seq']} {entry['service']:<7} {entry['status']} {device:<13} {what}"
