"""python -m local.emulators.push_gateway --port 8091 --config HOME/push/gateway.json --state HOME/push

Serves the gateway with hypercorn on 127.0.0.1: HTTP/1.1, and HTTP/2 with prior knowledge
(h2c), which is how the notifier's httpx client reaches the local APNs without TLS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
from pathlib import Path

from hypercorn.asyncio import serve
from hypercorn.config import Config

from local.emulators.push_gateway.app import Gateway


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="local push gateway (FCM, APNs, Web Push)")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--config", type=Path, required=True, help="gateway.json (public keys) from local.stack.push_keys")
    parser.add_argument("--state", type=Path, required=True, help="directory for installs and the delivery log")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    base_url = f"http://127.0.0.1:{args.port}"
    app = Gateway(json.loads(args.config.read_text()), args.state, base_url)
    config = Config()
    config.bind = [f"127.0.0.1:{args.port}"]
    config.accesslog = "-"
    config.graceful_timeout = 2

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(app, config, shutdown_trigger=stop.wait)

    asyncio.run(run())


if __name__ == "__main__":
    main()
