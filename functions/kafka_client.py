"""The one Kafka producer configuration of tidings: the edge's gevent producer
(websocket_edge/producer.py) and the HTTP API's synchronous one (functions/record_producer.py)
both build theirs here, so acks, idempotence and MSK IAM auth are the same everywhere.

Security: `settings.kafka_security == "iam"` uses SASL_SSL + OAUTHBEARER with tokens from
aws-msk-iam-sasl-signer-python (`MSKAuthTokenProvider`); without it installed the caller
refuses to start with a message naming the package.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from functions.settings import Settings


class ProducerConfigError(RuntimeError):
    """The producer cannot be configured as the settings ask (raised at startup)."""


def iam_oauth_cb(region: str) -> Callable[[Any], tuple[str, float]]:
    try:
        from aws_msk_iam_sasl_signer import MSKAuthTokenProvider  # type: ignore[import-not-found]
    except ImportError as exc:
        raise ProducerConfigError(
            "TIDINGS_KAFKA_SECURITY=iam needs the 'aws-msk-iam-sasl-signer-python' package "
            "(pip install aws-msk-iam-sasl-signer-python)") from exc

    def oauth_cb(_config: Any) -> tuple[str, float]:
        token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(region)
        return token, expiry_ms / 1000.0

    return oauth_cb


def producer_config(settings: Settings, client_id: str, logger: logging.Logger) -> dict[str, Any]:
    """An idempotent, acks=all producer: every record gets its delivery report within
    TIDINGS_PRODUCE_TIMEOUT_S (librdkafka's message.timeout.ms)."""
    timeout_ms = max(1000, int(settings.produce_timeout_s * 1000))
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "client.id": client_id,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "lz4",
        "message.timeout.ms": timeout_ms,       # every record gets a report within this
        "request.timeout.ms": min(timeout_ms, 30000),
        "queue.buffering.max.messages": 100000,
        "socket.keepalive.enable": True,
        "reconnect.backoff.max.ms": 2000,
        "logger": logger,   # librdkafka's logs, served by poll()
    }
    if settings.kafka_security == "iam":
        config.update({
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "OAUTHBEARER",
            "oauth_cb": iam_oauth_cb(settings.aws_region),
        })
    return config


def new_producer(config: dict[str, Any]):
    """A confluent_kafka.Producer (imported here: the functions that never produce skip it)."""
    from confluent_kafka import Producer

    return Producer(config)


def is_fatal(err) -> bool:
    """Whether a librdkafka error given to error_cb is fatal (the producer must be rebuilt:
    idempotence can no longer be kept)."""
    try:
        return bool(err.fatal())
    except Exception:   # not a KafkaError: a stand-in, or an error object without fatal()
        return False
