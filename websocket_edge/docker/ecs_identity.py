"""Print shell exports of TIDINGS_EDGE_DELIVERY_URL and TIDINGS_EDGE_ID for this ECS task.

Reads the task metadata endpoint v4 (ECS_CONTAINER_METADATA_URI_V4): the container's
private IPv4 address (awsvpc mode) and the task id. The internal port is
TIDINGS_EDGE_INTERNAL_PORT (8101 by default). Used by edge-entrypoint.sh only.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
import urllib.request


def _get(url: str) -> dict:
    last: Exception | None = None
    for attempt in range(10):  # the endpoint can lag the container start by a moment
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return json.load(resp)
        except Exception as exc:  # noqa: BLE001 - retried, then reported
            last = exc
            time.sleep(0.5 * (attempt + 1))
    raise SystemExit(f"ecs_identity: cannot read {url}: {last}")


def identity(base: str, internal_port: str) -> dict[str, str]:
    container = _get(base)
    task = _get(base + "/task")
    try:
        address = container["Networks"][0]["IPv4Addresses"][0]
    except (KeyError, IndexError) as exc:
        raise SystemExit(f"ecs_identity: no IPv4 address in the container metadata: {exc!r}") from exc
    task_id = task.get("TaskARN", "").rsplit("/", 1)[-1] or address
    return {
        "TIDINGS_EDGE_DELIVERY_URL": f"http://{address}:{internal_port}",
        "TIDINGS_EDGE_ID": f"edge-{task_id}",
    }


def main() -> int:
    base = os.environ["ECS_CONTAINER_METADATA_URI_V4"]
    port = os.environ.get("TIDINGS_EDGE_INTERNAL_PORT", "8101")
    for name, value in identity(base, port).items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
