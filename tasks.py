"""invoke tasks of tidings. Thin on purpose: the logic lives in local/.

    invoke up                 install what is missing (Kafka jars, dynalite), start the stack
    invoke up --brokers 3     the same with a 3-node Kafka cluster (replicated like MSK)
    invoke status             each component: state, pid, ports, health
    invoke logs kafka [-f]    tail a component's log (-f follows)
    invoke down [--wipe]      stop everything (data kept; --wipe deletes it)
    invoke test [-- ARGS]     run the tests (they start their own stack on free ports)

    invoke token USER --role groomer          a local token
    invoke room-create ROOM --member U:ROLE   a room with members
    invoke demo               a customer on edge A and a groomer on edge B chat both ways
    invoke dlq [--replay]     dead letters of the event source mapping
    invoke loadtest -- v4     the load test (presets v1, v2, v4, burst, soak; see docs/loadtest.md)
    invoke bench -- v4        the load test 3 times on a wiped stack: median (min-max) figures
    invoke package            the Lambda zip;  invoke deploy --var-file F   terraform to AWS
    invoke iac-check          offline checks of iac/ (fmt, checkov)
"""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys

from invoke import Exit, task


def _run(fn, *args, **kwargs):
    """Call a local.stack.stackctl command; a user error becomes a clean exit 1 (no traceback)."""
    from local.stack.stackctl import CommandFailed

    try:
        return fn(*args, **kwargs)
    except CommandFailed as exc:
        raise Exit(exc.message, code=1) from None


# --------------------------------------------------------------------------- the local stack


@task(help={"only": "comma-separated components to start (with their dependencies), e.g. kafka",
            "brokers": "Kafka brokers: 1 (default) or a cluster of 3 (TIDINGS_BROKERS); kept with the data"})
def up(c, only="", brokers=0):
    """Install what is missing, start the local stack, print its endpoints (idempotent)."""
    from local.stack import stackctl

    _run(stackctl.up, [n.strip() for n in only.split(",") if n.strip()] or None, brokers=int(brokers) or None)


@task(help={"wipe": "also delete the data (broker log, store tables)"})
def down(c, wipe=False):
    """Stop every component cleanly (SIGTERM, then SIGKILL after a timeout); data is kept."""
    from local.stack import stackctl

    _run(stackctl.down, wipe=wipe)


@task
def status(c):
    """Each component: state, pid, ports, health, uptime, log file."""
    from local.stack import stackctl

    _run(stackctl.status)


@task(help={"name": "component (kafka, dynalite, ...)", "follow": "keep printing new lines",
            "lines": "how many lines to show first"})
def logs(c, name, follow=False, lines=50):
    """Tail a component's log (-f to follow)."""
    from local.stack import stackctl

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


# --------------------------------------------------------------------------- chat


def _stack():
    from local.stack.stack import Stack

    return Stack()   # ./.tidings (or $TIDINGS_HOME): the ports of the last `invoke up`


@task(help={"user": "user id (the token's sub)", "role": "customer, groomer or admin",
            "ttl": "lifetime in seconds"})
def token(c, user, role="customer", ttl=3600):
    """Mint a local token (HS256 with the local secret) for USER."""
    from functions.tokens import mint

    print(mint(_stack().settings, user, role, ttl_s=int(ttl)))


@task(iterable=["member"], help={"name": "room id (also its display name unless --title)",
                                 "member": "USER or USER:ROLE, repeatable; the first creates the room",
                                 "title": "display name"})
def room_create(c, name, member, title=""):
    """Create a room with members: invoke room-create bori-spa --member ann:customer --member gus:groomer."""
    from functions.rooms import RoomExists, Rooms

    if not member:
        raise Exit("give at least one --member USER[:ROLE]", code=1)
    members = dict((m.split(":", 1) + ["customer"])[:2] for m in member)
    try:
        Rooms(_stack().settings).create(name, title or name, next(iter(members)), members)
    except RoomExists:
        raise Exit(f"room {name} exists already", code=1) from None
    print(f"room {name}: " + ", ".join(f"{u} ({r})" for u, r in members.items()))


@task
def demo(c):
    """A customer on edge A and a groomer on edge B chat both ways; exits 1 unless all arrived."""
    from local.demo import chat as demo_module

    stack = _stack()
    edges = stack.endpoints()
    ok = demo_module.run(stack.settings, edges["edge-a"]["websocket"], edges["edge-b"]["websocket"])
    if not ok:
        raise Exit(code=1)


@task(help={"replay": "send the not-yet-replayed dead letters back to the chat topic"})
def dlq(c, replay=False):
    """List what the event source mapping dead-lettered (and --replay it)."""
    from local.emulators import dlq as dead_letters

    settings = _stack().settings
    if replay:
        print(f"replayed {dead_letters.replay(settings)} dead letters")
        return
    letters = dead_letters.read(settings)
    for letter in letters:
        meta = letter.meta
        print(f"dlq#{letter.offset}  {meta.get('topic')}-{meta.get('partition')}@{meta.get('offset')}  "
              f"{meta.get('condition')} after {meta.get('attempts')} attempts: {meta.get('error')}")
        print(f"    key={letter.key!r} value={(letter.value or b'')[:200]!r}")
    print(f"{len(letters)} dead letters")


@task(help={"device": "only this device (FCM/APNs token or Web Push subscription id)",
            "last": "how many (default 20; 0: all)", "all": "also what the gateway refused"})
def push_log(c, device="", last=20, all=False):
    """What the local push gateway received: each push as the phone or browser would show it."""
    from local.emulators import push_log as log

    entries = log.read(_stack().home, device=device, last=int(last), everything=all)
    for entry in entries:
        print(log.describe(entry))
    print(f"{len(entries)} push(es)")


@task(help={"args": "load test arguments, e.g. --args='v4' or --args='custom --users 500' "
                    "(or put them after --)"})
def loadtest(c, args=""):
    """Drive real WebSocket clients against the running stack (presets v1, v2, v4, soak)."""
    from local.loadtest.run import main

    code = main(shlex.split(args) + shlex.split(c.remainder or ""))
    if code:
        raise Exit(code=code)


@task(help={"args": "the preset and load test options, then --runs N (default 3), e.g. -- v4 --runs 3"})
def bench(c, args=""):
    """A benchmark figure: the load test N times on a wiped stack each, median (min–max)."""
    from local.loadtest.series import main

    code = main(shlex.split(args) + shlex.split(c.remainder or ""))
    if code:
        raise Exit(code=code)


# --------------------------------------------------------------------------- AWS


@task(help={"out": "output folder of the zip"})
def package(c, out="dist"):
    """Build the Lambda zip of functions/ with its dependencies for the Lambda runtime."""
    from local.deploy.package import build

    print(build(out))


@task(help={"var_file": "terraform variables (see iac/terraform.tfvars.example)",
            "plan": "plan only", "yes": "apply without asking"})
def deploy(c, var_file="iac/terraform.tfvars", plan=False, yes=False):
    """terraform init + plan + apply of iac/ (says what is missing: terraform, credentials...)."""
    from local.deploy.terraform import deploy as run_deploy

    code = run_deploy(var_file, plan_only=plan, auto_approve=yes)
    if code:
        raise Exit(code=code)


@task
def iac_check(c):
    """Offline checks of iac/: terraform fmt, and checkov in its own venv."""
    code = subprocess.call([sys.executable, "-m", "local.deploy.iac_check"])
    if code:
        raise Exit(code=code)
