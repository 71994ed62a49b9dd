"""The web client (local/web/) in headless Chromium against the real local stack.

The browser tests are JavaScript (node's test runner driving Debian's chromium with
playwright-core): tests/web/chat.browser.test.mjs. This wrapper makes them part of
`pytest tests`: it installs what they need (local/stack/browser.py: chromium via apt-get when
missing, the pinned npm packages into ~/.cache/tidings, the vendored STOMP client), takes the
gateway and the two edges from the session's stack and runs node with their URLs in the
environment. Screenshots go to artifacts/web/ (also on failure, as FAILED-*.png).

A machine where chromium cannot be installed FAILS here with the reason; it is not skipped.
`TIDINGS_DOCS_SCREENSHOT=docs/web-client.png` also refreshes the README's screenshot.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys

import pytest
import requests

from harness import wait_for
from local.stack import browser
from local.paths import REPO_ROOT
from local.stack.process import free_port

WEB_TESTS = REPO_ROOT / "tests" / "web"
ARTIFACTS = REPO_ROOT / "artifacts" / "web"
NODE_TIMEOUT_S = 420

# a first run installs chromium (about a minute here) before the browser tests run
pytestmark = pytest.mark.timeout(1200)


def node_binary() -> str:
    node = shutil.which("node")
    if not node:
        pytest.fail("node is not on PATH: the web client's tests run on Node 20+ (Debian: apt-get install nodejs)",
                    pytrace=False)
    return node


def run_node(args: list[str], env: dict[str, str] | None = None, timeout: float = NODE_TIMEOUT_S) -> None:
    try:
        proc = subprocess.run([node_binary(), "--test", "--test-concurrency=1", "--test-reporter=spec", *args],
                              cwd=REPO_ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        pytest.fail(f"node --test {' '.join(args)} did not finish within {timeout}s\n{out[-6000:]}", pytrace=False)
    print(proc.stdout)
    print(proc.stderr)
    if proc.returncode != 0:
        pytest.fail(f"node --test {' '.join(args)} failed (exit {proc.returncode}); screenshots in {ARTIFACTS}\n"
                    f"{proc.stdout[-12000:]}\n{proc.stderr[-3000:]}", pytrace=False)


@pytest.fixture(scope="module")
def browser_env() -> dict[str, str]:
    """Chromium, playwright-core and the vendored STOMP client: installed once, or a clear failure."""
    try:
        paths = browser.install()
    except browser.BrowserSetupError as exc:
        pytest.fail(f"the browser tests cannot run on this machine: {exc}", pytrace=False)
    return {"TIDINGS_CHROMIUM": paths["TIDINGS_CHROMIUM"], "TIDINGS_WEB_NODE_MODULES": paths["NODE_PATH"]}


def test_timeline_logic():
    """The client's message bookkeeping (dedup, gaps, pending → sent, backoff, typing expiry), no browser."""
    run_node([str(WEB_TESTS / "timeline.test.mjs")], timeout=120)


def test_push_registration_logic():
    """Web Push registration (service worker, subscription, PUT /devices) and the worker, no browser."""
    run_node([str(WEB_TESTS / "push.test.mjs")], timeout=120)


@pytest.fixture
def dead_first_gateway(local_stack, tmp_path):
    """A second gateway on the same store whose /config.json lists a dead edge first, then
    edge-b: the page must back off and move on (the page takes edges from its server only)."""
    port = free_port()
    edges = ("ws://127.0.0.1:9/ws", local_stack.endpoints()["edge-b"]["websocket"])
    env = {**os.environ, **dataclasses.replace(local_stack.settings, web_edges=edges).to_env()}
    log = open(tmp_path / "gateway-dead-first.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "local.emulators.gateway", "--port", str(port)], cwd=REPO_ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(url), timeout=30, message="the second gateway")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _healthy(url: str) -> bool:
    try:
        return requests.get(url + "/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _page_env(endpoints: dict, browser_env: dict, dead_first: str = "unused", **extra: str) -> dict:
    """What a browser test (tests/web/*.mjs) reads: the web client's URL, both edges, where to
    put screenshots."""
    return {
        **browser_env,
        "TIDINGS_WEB_URL": endpoints["gateway"]["web client"].rstrip("/"),
        "TIDINGS_WEB_URL_DEAD_FIRST": dead_first,
        "TIDINGS_EDGES": ",".join(endpoints[name]["websocket"] for name in ("edge-a", "edge-b")),
        "TIDINGS_WEB_ARTIFACTS": str(ARTIFACTS),
        **extra,
    }


def test_chat_in_chromium(local_stack, browser_env, dead_first_gateway):
    """Customer on edge-a and groomer on edge-b chat in two browser contexts: both ways with pending →
    sent, typing, presence, read by, unread badges, reload and older pages, offline/online and a dropped
    socket with catch-up (no gap, no duplicate)."""
    endpoints = local_stack.endpoints()
    assert "gateway" in endpoints, "the stack has no gateway component (local/stack/components.py)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = _page_env(endpoints, browser_env, dead_first=dead_first_gateway)
    run_node([str(WEB_TESTS / "chat.browser.test.mjs")], env)
    shots = sorted(p.name for p in ARTIFACTS.glob("0*.png"))
    assert "01-customer.png" in shots, f"no screenshots in {ARTIFACTS}: {shots}"


def test_message_menu_in_chromium(local_stack, browser_env):
    """Issue 16 in the browser: reply with a quote, react, edit, delete from the message menu across a
    customer on edge-a and a groomer on edge-b; a refused edit says why; a reload shows the final state."""
    endpoints = local_stack.endpoints()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = _page_env(endpoints, browser_env)
    run_node([str(WEB_TESTS / "changes.browser.test.mjs")], env)


PHOTO_SIZE = (1200, 900)


def test_photos_in_chromium(local_stack, browser_env, tmp_path):
    """Issue 16 in the browser: the customer (edge-a) sends a photo with upload progress, the groomer
    (edge-b) sees its thumbnail once the check (the real s3rver's notification) is done and opens it full
    size; a fake image is shown as rejected; a file that is no photo is refused; history shows it again."""
    import random

    from PIL import Image

    rng = random.Random(16)   # noise: a PNG of a few MB, so the upload takes more than one progress event
    photo = tmp_path / "rex.png"
    Image.frombytes("RGB", PHOTO_SIZE, rng.randbytes(PHOTO_SIZE[0] * PHOTO_SIZE[1] * 3)).save(photo)
    fake = tmp_path / "fake.png"
    fake.write_text("<html>this is no png</html>\n" * 20)
    not_photo = tmp_path / "notes.txt"
    not_photo.write_text("shopping list")
    endpoints = local_stack.endpoints()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = _page_env(endpoints, browser_env, **{
        "TIDINGS_WEB_PHOTO": str(photo), "TIDINGS_WEB_FAKE_PHOTO": str(fake), "TIDINGS_WEB_NOT_PHOTO": str(not_photo),
        "TIDINGS_WEB_PHOTO_SIZE": f"{PHOTO_SIZE[0]}x{PHOTO_SIZE[1]}",
    })
    run_node([str(WEB_TESTS / "photos.browser.test.mjs")], env)
