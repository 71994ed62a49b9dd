"""JSON logs for the functions: one object per line on stdout (CloudWatch in Lambda).

`configure()` is idempotent and called by handlers when they build their clients, never
at import, so importing a module has no side effects. `get_logger(name)` works before
configuration too (structlog configures lazily).
"""

from __future__ import annotations

import logging
import sys

import orjson
import structlog

_configured = False


def _orjson_dumps(obj, default=None) -> str:
    return orjson.dumps(obj, default=default or str).decode()


def configure(level: str | int = "INFO") -> None:
    global _configured
    if _configured:
        return
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        numeric = logging.INFO
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=_orjson_dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=False,
    )
    # Libraries (botocore, urllib3) log through stdlib logging: keep them quiet but visible.
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, stream=sys.stdout,
                            format='{"level":"%(levelname)s","logger":"%(name)s","event":"%(message)s"}')
    _configured = True


def get_logger(name: str):
    return structlog.get_logger(logger_name=name)  # lazy: binds on first use


def bind_invocation(context) -> None:
    """Bind the Lambda request id (if any) to every log line of this invocation."""
    structlog.contextvars.clear_contextvars()
    request_id = getattr(context, "aws_request_id", None)
    if request_id:
        structlog.contextvars.bind_contextvars(request_id=request_id)
