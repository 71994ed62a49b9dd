"""functions/entry.py: the Lambda entry points' handler, built once and kept while warm."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from functions import chat_worker
from functions.entry import WarmHandler
from functions.http import api as http_api
from functions.push import notifier


def test_built_on_first_call_once_across_threads_then_reused():
    builds = []

    def build():
        builds.append(1)
        time.sleep(0.05)  # threads arriving meanwhile wait for this one
        return lambda event, context: (event, context)

    handler = WarmHandler(build)
    assert handler.built is None and not builds  # nothing at import time
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: handler(i, "ctx"), range(16)))
    assert results == [(i, "ctx") for i in range(16)]
    assert len(builds) == 1
    assert handler("again") == ("again", None)
    assert len(builds) == 1


def test_a_failed_build_is_tried_again_on_the_next_call():
    attempts = []

    def build():
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("settings missing")
        return lambda event, context: "ok"

    handler = WarmHandler(build)
    try:
        handler({})
    except RuntimeError:
        pass
    assert handler.built is None
    assert handler({}) == "ok" and len(attempts) == 2


def test_the_functions_entry_points_are_warm_handlers():
    for module in (chat_worker, http_api, notifier):
        assert isinstance(module.handler, WarmHandler), module.__name__
