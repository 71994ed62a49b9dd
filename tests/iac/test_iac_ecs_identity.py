"""websocket_edge/docker/ecs_identity.py against a stand-in task metadata endpoint on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import iacutil as u

SCRIPT = u.ROOT / "websocket_edge" / "docker" / "ecs_identity.py"


@pytest.fixture
def metadata():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path == "/v4/abc":
                body = {"Networks": [{"NetworkMode": "awsvpc", "IPv4Addresses": ["10.40.8.17"]}]}
            elif self.path == "/v4/abc/task":
                body = {"TaskARN": "arn:aws:ecs:us-east-1:123456789012:task/tidings-prod/0f1e2d3c4b5a"}
            else:
                self.send_response(404)
                self.end_headers()
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v4/abc"
    finally:
        server.shutdown()
        server.server_close()


def test_exports_the_task_address_and_id(metadata):
    env = {"ECS_CONTAINER_METADATA_URI_V4": metadata, "TIDINGS_EDGE_INTERNAL_PORT": "8101", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "export TIDINGS_EDGE_DELIVERY_URL=http://10.40.8.17:8101",
        "export TIDINGS_EDGE_ID=edge-0f1e2d3c4b5a",
    ]


def test_entrypoint_uses_it_only_on_ecs(metadata, tmp_path):
    script = u.ROOT / "websocket_edge" / "docker" / "edge-entrypoint.sh"
    patched = tmp_path / "entry.sh"
    patched.write_text(script.read_text().replace("python /app/websocket_edge/docker/ecs_identity.py",
                                                  f"{sys.executable} {SCRIPT}"))
    show = ["sh", str(patched), "sh", "-c", 'echo "$TIDINGS_EDGE_DELIVERY_URL|$TIDINGS_EDGE_ID"']
    on_ecs = subprocess.run(show, env={"ECS_CONTAINER_METADATA_URI_V4": metadata, "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=30)
    assert on_ecs.stdout.strip() == "http://10.40.8.17:8101|edge-0f1e2d3c4b5a", on_ecs.stderr
    elsewhere = subprocess.run(show, env={"TIDINGS_EDGE_DELIVERY_URL": "http://edge-a:8101", "TIDINGS_EDGE_ID": "edge-a",
                                          "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=30)
    assert elsewhere.stdout.strip() == "http://edge-a:8101|edge-a"


def test_module_imports_cleanly(metadata, capsys):
    spec = importlib.util.spec_from_file_location("ecs_identity", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert capsys.readouterr().out == ""     # importing it runs nothing
    assert mod.identity(metadata, "8101") == {"TIDINGS_EDGE_DELIVERY_URL": "http://10.40.8.17:8101",
                                              "TIDINGS_EDGE_ID": "edge-0f1e2d3c4b5a"}
