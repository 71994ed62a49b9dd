"""python -m local.emulators.s3_events --port 9402 --handler functions.attachment_check.handler

The local stand-in for S3's event notification to a Lambda function: the local S3
(local/emulators/s3_server.js) POSTs each ObjectCreated event of a key under rooms/ to
/invoke, and this process calls the handler with it, as Lambda would (the event is S3's
own JSON). 200 when the handler returned, 500 when it raised: the S3 side then tries again,
three tries in all, like Lambda's retries of an asynchronous invoke. GET /healthz: ready.
"""

from __future__ import annotations

import argparse
import importlib
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from local.emulators.context import LambdaContext

MAX_EVENT_BYTES = 256 * 1024   # Lambda's limit for an asynchronous invoke's payload


def load(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def serve(port: int, handler_path: str, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    handler = load(handler_path)
    function_name = handler_path.rsplit(".", 1)[0].replace(".", "-")

    class Invoke(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/healthz":
                self._answer(200, {"ok": True, "handler": handler_path})
            else:
                self._answer(404, {"error": "GET /healthz, POST /invoke"})

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("content-length") or 0)
            if self.path != "/invoke" or not 0 < length <= MAX_EVENT_BYTES:
                self._answer(400, {"error": "POST /invoke with an S3 event"})
                return
            try:
                event = json.loads(self.rfile.read(length))
                result = handler(event, LambdaContext(function_name))
            except Exception as exc:  # noqa: BLE001 - the caller retries; the log says why
                print(f"invoke failed: {exc!r}", file=sys.stderr, flush=True)
                self._answer(500, {"errorMessage": repr(exc)[:500]})
                return
            self._answer(200, result if isinstance(result, dict) else {"result": str(result)})

        def log_message(self, fmt, *args) -> None:
            print(f"{self.address_string()} {fmt % args}", flush=True)

    return ThreadingHTTPServer((host, port), Invoke)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="S3 event notifications -> a Lambda-style handler")
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 in a container (Compose)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--handler", default="functions.attachment_check.handler")
    args = parser.parse_args(argv)
    server = serve(args.port, args.handler, args.host)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    print(f"s3 events on 127.0.0.1:{args.port} -> {args.handler}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
