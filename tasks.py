"""invoke tasks of tidings. Thin on purpose: the logic lives in local/.

    invoke up                 install what is missing (Kafka jars, dynalite), start the stack
    invoke status             each component: state, pid, ports, health
    invoke logs kafka [-f]    tail a component's log (-f follows)
    invoke down [--wipe]      stop everything (data kept; --wipe deletes it)
    invoke test [-- ARGS]     run the tests (they start their own stack on free ports)

More tasks (token, demo, loadtest, dlq, package, deploy) go below, one function each.
"""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys

from invoke import Exit, task


def _run(fn, *args, **kwargs):
    """Call a local.stackctl command; a user error becomes a clean exit 1 (no traceback)."""
    from local.stackctl import CommandFailed

    try:
        return fn(*args, **kwargs)
    except CommandFailed as exc:
        raise Exit(exc.message, code=1) from None


# --------------------------------------------------------------------------- the local stack


@task(help={"only": "comma-separated components to start (with their dependencies), e.g. kafka"})
def up(c, only=""):
    """Install what is missing, start the local stack, print its endpoints (idempotent)."""
    from local import stackctl

    _run(stackctl.up, [n.strip() for n in only.split(",") if n.strip()] or None)


@task(help={"wipe": "also delete the data (broker log, store tables)"})
def down(c, wipe=False):
    """Stop every component cleanly (SIGTERM, then SIGKILL after a timeout); data is kept."""
    from local import stackctl

    _run(stackctl.down, wipe=wipe)


@task
def status(c):
    """Each component: state, pid, ports, health, uptime, log file."""
    from local import stackctl

    _run(stackctl.status)


@task(help={"name": "component (kafka, dynalite, ...)", "follow": "keep printing new lines",
            "lines": "how many lines to show first"})
def logs(c, name, follow=False, lines=50):
    """Tail a component's log (-f to follow)."""
    from local import stackctl

    _run(stackctl.logs, name, follow=follow, lines=int(lines))


# --------------------------------------------------------------------------- tests


@task(help={"args": "extra pytest arguments, e.g. --args='-k kafka -x' (or put them after --)"})
def test(c, args=""):
    """Run the tests with pytest (extra arguments: `invoke test -- -k foo` or --args)."""
    argv = [sys.executable, "-m", "pytest", *shlex.split(args), *shlex.split(c.remainder or "")]
    child = subprocess.Popen(argv)
    # SIGTERM (a CI timeout) is passed on, so pytest tears its test stack down.
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signum))
    try:
        while True:
            try:
                code = child.wait()
                break
            except KeyboardInterrupt:
                # Ctrl-C reached pytest too: let it tear its stack down instead of killing it.
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)
    if code != 0:
        # pytest's code is kept: 5 means no tests were collected, which is a failure too.
        raise Exit(code=code)
