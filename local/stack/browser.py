"""What the web client and its browser tests need, installed idempotently.

    python -m local.stack.browser install      # chromium (apt-get) + node packages + vendored STOMP client
    python -m local.stack.browser vendor       # only the STOMP client into local/web/vendor/ (for `invoke up`)
    python -m local.stack.browser check        # say what is there, install nothing (exit 1 if something is missing)

- **Chromium** from Debian (`apt-get install chromium fonts-liberation`) when no chromium is
  found (`$TIDINGS_CHROMIUM`, then /usr/bin/chromium, then `chromium` on PATH). Test tools cannot
  download their own browsers here, so the tests drive this one with playwright-core.
- **Node packages** `playwright-core` and `@stomp/stompjs`, pinned, `npm install`ed into
  ``~/.cache/tidings/web-node-<versions>/`` (``$TIDINGS_CACHE_DIR`` moves it), outside git.
- **The vendored STOMP client**: @stomp/stompjs's ES module build copied from that cache into
  ``local/web/vendor/stompjs/`` (gitignored, with its licence), which the gateway serves at
  ``/vendor/stompjs/index.js``.

Every step says what it does on stdout and is skipped when already done.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from local import paths
from local.stack import npm_cache
from local.stack.kafka import file_lock
from local.stack.logs import tail

PLAYWRIGHT_CORE_VERSION = "1.65.1"
STOMPJS_VERSION = "7.5.0"
NPM_TIMEOUT_S = 15 * 60
APT_TIMEOUT_S = 30 * 60
CHROMIUM_ENV = "TIDINGS_CHROMIUM"
CHROMIUM_PACKAGES = ("chromium", "fonts-liberation")
WEB_DIR = paths.LOCAL_DIR / "web"
VENDOR_DIR = WEB_DIR / "vendor"
# Chromium flags for headless runs in containers and CI (no sandbox: we run as root there).
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync")


class BrowserSetupError(RuntimeError):
    """Something the browser tests need cannot be installed; the message says what to do."""


def say(message: str) -> None:
    print(f"[local.stack.browser] {message}", flush=True)


# --- chromium ---------------------------------------------------------------------------------

def chromium_path() -> Path | None:
    """The chromium to drive: $TIDINGS_CHROMIUM, /usr/bin/chromium, or `chromium` on PATH."""
    override = os.environ.get(CHROMIUM_ENV)
    if override:
        return Path(override) if Path(override).is_file() else None
    for candidate in (Path("/usr/bin/chromium"), shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def chromium_version(path: Path) -> str:
    try:
        out = subprocess.run([str(path), "--headless", "--no-sandbox", "--version"], capture_output=True,
                             text=True, timeout=60, stdin=subprocess.DEVNULL)
        return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else "?"
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


def install_chromium() -> Path:
    """Chromium from the Debian archive, when none is there yet."""
    found = chromium_path()
    if found:
        say(f"chromium: {found} ({chromium_version(found)}) already installed")
        return found
    if os.environ.get(CHROMIUM_ENV):
        raise BrowserSetupError(f"${CHROMIUM_ENV} is set to {os.environ[CHROMIUM_ENV]!r}, which is no file")
    apt = shutil.which("apt-get")
    if not apt:
        raise BrowserSetupError("no chromium found and no apt-get to install it: install Chromium (e.g. "
                                f"`apt-get install chromium`) or point ${CHROMIUM_ENV} at a chromium binary")
    prefix: list[str] = []
    if os.geteuid() != 0:
        sudo = shutil.which("sudo")
        if not sudo:
            raise BrowserSetupError("no chromium found; installing it needs root: run "
                                    f"`sudo apt-get install -y {' '.join(CHROMIUM_PACKAGES)}`")
        prefix = [sudo, "-n"]
    log = paths.cache_dir() / "chromium-apt.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with file_lock(paths.cache_dir() / ".chromium-apt.lock"):
        if chromium_path():   # another process installed it while we waited
            return chromium_path()
        started = time.monotonic()
        for argv, what in (([apt, "update"], "apt-get update"),
                           ([apt, "install", "-y", "--no-install-recommends", *CHROMIUM_PACKAGES],
                            f"apt-get install {' '.join(CHROMIUM_PACKAGES)}")):
            say(f"chromium: running `{what}` (log: {log})")
            with open(log, "ab") as out:
                try:
                    proc = subprocess.run(prefix + argv, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, env=env, timeout=APT_TIMEOUT_S)
                except subprocess.TimeoutExpired as exc:
                    raise BrowserSetupError(f"`{what}` did not finish within {APT_TIMEOUT_S}s; see {log}") from exc
            if proc.returncode != 0:
                raise BrowserSetupError(f"`{what}` failed (exit {proc.returncode}); last lines of {log}:\n"
                                        f"{tail(log, 20)}")
    found = chromium_path()
    if not found:
        raise BrowserSetupError(f"apt-get installed {CHROMIUM_PACKAGES[0]} but no chromium binary appeared; see {log}")
    say(f"chromium: installed {found} ({chromium_version(found)}) in {time.monotonic() - started:.0f}s")
    return found


# --- node packages ----------------------------------------------------------------------------

def node_home() -> Path:
    """The npm cache folder (outside git), one per pinned version pair."""
    return paths.cache_dir() / f"web-node-pw{PLAYWRIGHT_CORE_VERSION}-stomp{STOMPJS_VERSION}"


def node_modules() -> Path:
    return node_home() / "node_modules"


def stompjs_esm_dir() -> Path:
    return node_modules() / "@stomp" / "stompjs" / "esm6"


def node_packages_installed() -> bool:
    return (node_home() / "COMPLETE").exists() and (node_modules() / "playwright-core" / "package.json").exists() \
        and (stompjs_esm_dir() / "index.js").exists()


def install_node_packages() -> Path:
    """npm-install the pinned playwright-core and @stomp/stompjs into the cache; returns node_modules."""
    specs = [f"playwright-core@{PLAYWRIGHT_CORE_VERSION}", f"@stomp/stompjs@{STOMPJS_VERSION}"]
    if node_packages_installed():
        say(f"node packages: {' '.join(specs)} already in {node_home()}")
        return node_modules()
    say(f"node packages: npm install {' '.join(specs)} into {node_home()}")
    started = time.monotonic()
    npm_cache.install(node_home(), specs, expect="playwright-core/package.json", error=BrowserSetupError,
                      timeout_s=NPM_TIMEOUT_S)
    say(f"node packages: installed in {time.monotonic() - started:.0f}s")
    if not node_packages_installed():
        raise BrowserSetupError(f"npm installed the packages, but {stompjs_esm_dir() / 'index.js'} is missing")
    return node_modules()


# --- the vendored STOMP client ----------------------------------------------------------------

def vendor_stamp() -> str:
    return f"@stomp/stompjs@{STOMPJS_VERSION}\n"


def vendored(web_dir: Path = WEB_DIR) -> bool:
    target = web_dir / "vendor" / "stompjs"
    stamp = target / "VERSION"
    return stamp.exists() and stamp.read_text() == vendor_stamp() and (target / "index.js").exists()


def vendor_stompjs(web_dir: Path = WEB_DIR) -> Path:
    """Copy @stomp/stompjs's ES module build (and its licence) into <web_dir>/vendor/stompjs/."""
    target = web_dir / "vendor" / "stompjs"
    if vendored(web_dir):
        say(f"STOMP client: {target} already holds @stomp/stompjs@{STOMPJS_VERSION}")
        return target
    if not node_packages_installed():
        install_node_packages()
    package = node_modules() / "@stomp" / "stompjs"
    staging = target.parent / "stompjs.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    # only the runtime modules: no source maps, no .d.ts
    shutil.copytree(package / "esm6", staging, ignore=shutil.ignore_patterns("*.map", "*.d.ts"))
    for name in ("LICENSE", "LICENSE.md", "README.md"):
        if (package / name).exists():
            shutil.copy2(package / name, staging / name)
    (staging / "VERSION").write_text(vendor_stamp())
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    say(f"STOMP client: copied @stomp/stompjs@{STOMPJS_VERSION} (esm6 + LICENSE) into {target}")
    return target


# --- all of it --------------------------------------------------------------------------------

def install(web_dir: Path = WEB_DIR) -> dict[str, str]:
    """Everything the browser tests need; returns the paths they use (also as env for node)."""
    started = time.monotonic()
    chromium = install_chromium()
    modules = install_node_packages()
    vendor_stompjs(web_dir)
    say(f"ready in {time.monotonic() - started:.1f}s")
    return {"TIDINGS_CHROMIUM": str(chromium), "NODE_PATH": str(modules)}


def check(web_dir: Path = WEB_DIR) -> bool:
    chromium = chromium_path()
    items = [
        (chromium is not None, f"chromium: {chromium or 'missing'}"),
        (node_packages_installed(), f"node packages: {node_home()}" + ("" if node_packages_installed() else " (missing)")),
        (vendored(web_dir), f"STOMP client: {web_dir / 'vendor' / 'stompjs'}" + ("" if vendored(web_dir) else " (missing)")),
    ]
    for ok, text in items:
        say(("ok       " if ok else "MISSING  ") + text)
    return all(ok for ok, _ in items)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.stack.browser", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="install", choices=("install", "vendor", "check"))
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            install()
        elif args.command == "vendor":
            vendor_stompjs()
        else:
            return 0 if check() else 1
    except BrowserSetupError as exc:
        say(f"ERROR: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
