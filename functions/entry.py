"""Lambda entry points: the handler is built on the first call (logging configured first,
settings from the environment) and kept while the container is warm."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from functions.logs import configure

Handler = Callable[[Any, Any], Any]


class WarmHandler:
    """`handler = WarmHandler(lambda: Worker(Settings.from_env()))` in a function's module:
    Lambda calls it as handler(event, context). Thread-safe, since the local event source
    mapping invokes partitions from several threads."""

    def __init__(self, build: Callable[[], Handler]):
        self._build = build
        self._lock = threading.Lock()
        self.built: Handler | None = None

    def __call__(self, event: Any, context: Any = None) -> Any:
        built = self.built
        if built is None:
            with self._lock:
                if self.built is None:
                    configure()
                    self.built = self._build()
                built = self.built
        return built(event, context)
