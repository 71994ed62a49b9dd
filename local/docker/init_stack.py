"""Compose init job: wait for dynalite and Kafka, then create the tables and the topics.

The same helpers as the invoke stack (local.stack.tables_setup, local.stack.kafka.ensure_topics), with
the TIDINGS_* environment; idempotent, so re-running it is harmless.

    python /app/local/docker/init_stack.py
"""

from __future__ import annotations

import sys
import time

from functions.settings import Settings
from local.stack import kafka, tables_setup

WAIT_S = 120.0


def _retry(what: str, fn):
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - the service may still be starting
            if time.monotonic() > deadline:
                print(f"init: {what} failed for {WAIT_S:.0f} s: {exc!r}", file=sys.stderr)
                raise
            time.sleep(2.0)


def main() -> int:
    settings = Settings.from_env()
    tables = _retry("tables", lambda: tables_setup.ensure_tables(settings))
    print(f"init: tables {tables}", flush=True)
    topics = _retry("topics", lambda: kafka.ensure_topics(settings))
    print(f"init: topics {topics}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
