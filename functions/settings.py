"""Settings shared by the edge, the functions, the local stack and iac/.

Every knob is one environment variable named here, read in one place. iac/ sets the
same names on Lambda and ECS (a test checks that), local/ sets them on the processes it
starts. Nothing else in the code base reads os.environ for tidings settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Mapping


class SettingsError(ValueError):
    """A setting that makes no sense; raised before anything starts."""


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _bool(value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"not a boolean: {value!r}")


# Built-in secrets: published in this repository, so good for a local stack only.
LOCAL_JWT_SECRET = "tidings-local-dev-secret-change-me-0123456789"
LOCAL_DELIVERY_SECRET = "tidings-local-delivery-secret"
MIN_SECRET_CHARS = 32


@dataclass(frozen=True)
class Settings:
    # Kafka
    kafka_bootstrap: str = field(default="127.0.0.1:9092", metadata={"env": "TIDINGS_KAFKA_BOOTSTRAP"})
    # "plaintext" locally; "iam" for MSK with SASL/OAUTHBEARER signed by AWS credentials.
    kafka_security: str = field(default="plaintext", metadata={"env": "TIDINGS_KAFKA_SECURITY"})
    chat_topic: str = field(default="tidings.chat", metadata={"env": "TIDINGS_CHAT_TOPIC"})
    dead_letter_topic: str = field(default="tidings.chat.dlq", metadata={"env": "TIDINGS_DLQ_TOPIC"})
    partitions: int = field(default=3, metadata={"env": "TIDINGS_PARTITIONS"})
    consumer_group: str = field(default="tidings-chat-worker", metadata={"env": "TIDINGS_CONSUMER_GROUP"})
    # Brokers of the local cluster (`invoke up --brokers 3`). Unset: as many as the stack's
    # data was formatted for, else 1. Replication follows functions/kafka_cluster.py.
    brokers: int | None = field(default=None, metadata={"env": "TIDINGS_BROKERS"})

    # DynamoDB: endpoint None means real AWS; locally it points at dynalite.
    dynamodb_endpoint: str | None = field(default=None, metadata={"env": "TIDINGS_DYNAMODB_ENDPOINT"})
    aws_region: str = field(default="us-east-1", metadata={"env": "AWS_REGION"})
    table_prefix: str = field(default="tidings-", metadata={"env": "TIDINGS_TABLE_PREFIX"})

    # Tokens: HS256 with a shared secret by default, RS256 with a public key as an option.
    jwt_algorithm: str = field(default="HS256", metadata={"env": "TIDINGS_JWT_ALGORITHM"})
    jwt_secret: str = field(default=LOCAL_JWT_SECRET, metadata={"env": "TIDINGS_JWT_SECRET", "secret": True})
    jwt_public_key: str | None = field(default=None, metadata={"env": "TIDINGS_JWT_PUBLIC_KEY"})
    jwt_issuer: str = field(default="tidings-local", metadata={"env": "TIDINGS_JWT_ISSUER"})
    jwt_audience: str = field(default="tidings", metadata={"env": "TIDINGS_JWT_AUDIENCE"})

    # Edge
    allowed_origins: tuple[str, ...] = field(default=("*",), metadata={"env": "TIDINGS_ALLOWED_ORIGINS"})
    # Browsers always send Origin on a WebSocket, so a request without one is not a page of
    # another site riding a user's session; native mobile clients send none. Still token-checked.
    allow_missing_origin: bool = field(default=True, metadata={"env": "TIDINGS_ALLOW_MISSING_ORIGIN"})
    delivery_secret: str = field(default=LOCAL_DELIVERY_SECRET, metadata={"env": "TIDINGS_DELIVERY_SECRET", "secret": True})
    # The URL at which the worker reaches this edge's delivery API (…/@connections).
    edge_delivery_url: str = field(default="http://127.0.0.1:8101", metadata={"env": "TIDINGS_EDGE_DELIVERY_URL"})
    edge_id: str = field(default="edge-local", metadata={"env": "TIDINGS_EDGE_ID"})
    # The delivery API answers only on this port (gunicorn binds the public and this one).
    edge_internal_port: int = field(default=8101, metadata={"env": "TIDINGS_EDGE_INTERNAL_PORT"})
    max_message_bytes: int = field(default=65536, metadata={"env": "TIDINGS_MAX_MESSAGE_BYTES"})
    heartbeat_ms: int = field(default=10000, metadata={"env": "TIDINGS_HEARTBEAT_MS"})
    idle_timeout_s: int = field(default=600, metadata={"env": "TIDINGS_IDLE_TIMEOUT_S"})
    connection_ttl_s: int = field(default=300, metadata={"env": "TIDINGS_CONNECTION_TTL_S"})
    rate_per_second: float = field(default=50.0, metadata={"env": "TIDINGS_RATE_PER_SECOND"})
    rate_burst: int = field(default=100, metadata={"env": "TIDINGS_RATE_BURST"})
    # All of one user's connections on an edge share this bucket too (many sockets, one flood).
    user_rate_per_second: float = field(default=100.0, metadata={"env": "TIDINGS_USER_RATE_PER_SECOND"})
    user_rate_burst: int = field(default=200, metadata={"env": "TIDINGS_USER_RATE_BURST"})
    max_connections_per_user: int = field(default=20, metadata={"env": "TIDINGS_MAX_CONNECTIONS_PER_USER"})
    max_subscriptions_per_connection: int = field(default=200, metadata={"env": "TIDINGS_MAX_SUBSCRIPTIONS"})
    # A socket opened without a token must show one in its first frame (STOMP CONNECT, JSON
    # `auth`) within this time; until then it counts against these caps (docs/protocol.md).
    auth_timeout_s: float = field(default=5.0, metadata={"env": "TIDINGS_AUTH_TIMEOUT_S"})
    max_unauthenticated_per_address: int = field(default=50, metadata={"env": "TIDINGS_MAX_UNAUTHENTICATED_PER_ADDRESS"})
    max_unauthenticated: int = field(default=2000, metadata={"env": "TIDINGS_MAX_UNAUTHENTICATED"})
    produce_timeout_s: float = field(default=10.0, metadata={"env": "TIDINGS_PRODUCE_TIMEOUT_S"})
    # Backpressure (websocket_edge/admission.py): past this backlog delay (lag / drain rate) an
    # edge admits sends only as fast as the chat worker drains (0 turns it off), holding a send
    # at most max_hold; clients are told a send window of flow_window (1 while it holds),
    # smaller while the edge holds many connections: all of them together get flow_budget.
    backpressure_delay_s: float = field(default=2.0, metadata={"env": "TIDINGS_BACKPRESSURE_DELAY_S"})
    backpressure_max_hold_s: float = field(default=5.0, metadata={"env": "TIDINGS_BACKPRESSURE_MAX_HOLD_S"})
    flow_window: int = field(default=16, metadata={"env": "TIDINGS_FLOW_WINDOW"})
    flow_budget: int = field(default=2000, metadata={"env": "TIDINGS_FLOW_BUDGET"})
    # Frames queued for one client; a full queue closes it with 1013 (it reconnects, catches up).
    outbound_queue_size: int = field(default=1024, metadata={"env": "TIDINGS_OUTBOUND_QUEUE_SIZE"})
    # One frame write to a client taking longer than this: the client is not reading, drop it.
    send_timeout_s: float = field(default=15.0, metadata={"env": "TIDINGS_SEND_TIMEOUT_S"})

    # Event source mapping: AWS's default batch size (100); a window of 0 (AWS's default is
    # 500 ms) invokes as soon as a partition is free, so batches are small when traffic is light
    # (low latency) and grow by themselves under load (what iac/ deploys too).
    batch_size: int = field(default=100, metadata={"env": "TIDINGS_BATCH_SIZE"})
    batch_window_ms: int = field(default=0, metadata={"env": "TIDINGS_BATCH_WINDOW_MS"})
    max_retry_attempts: int = field(default=3, metadata={"env": "TIDINGS_MAX_RETRY_ATTEMPTS"})
    max_record_age_s: int = field(default=-1, metadata={"env": "TIDINGS_MAX_RECORD_AGE_S"})
    bisect_on_error: bool = field(default=True, metadata={"env": "TIDINGS_BISECT_ON_ERROR"})
    # How long a warm chat worker trusts a membership it read (functions/worker_memory.py).
    member_cache_s: float = field(default=30.0, metadata={"env": "TIDINGS_MEMBER_CACHE_S"})
    # How long a warm chat worker (and the notifier) reuses a room's subscribers it read, unless
    # a presence record of the room comes first; an edge re-reads a room it subscribes to once
    # this has passed, so nothing is missed (functions/remembered_rooms.py). Longer: fewer store
    # reads (one per room per batch at 2 s in V4); a message that raced a new subscription
    # reaches it up to this late in a room where nothing follows it.
    subs_cache_s: float = field(default=10.0, metadata={"env": "TIDINGS_SUBS_CACHE_S"})
    # How long after sending a sender may edit a message (from the message's sentAt to the
    # edit's, both stamped by an edge); the chat worker refuses later edits (too_late).
    edit_window_s: int = field(default=900, metadata={"env": "TIDINGS_EDIT_WINDOW_S"})
    # How long the HTTP API waits for the chat worker to store a change it produced (edit,
    # delete, reaction) before answering 202 accepted instead of 200 with the new state.
    http_change_wait_s: float = field(default=5.0, metadata={"env": "TIDINGS_HTTP_CHANGE_WAIT_S"})

    # --- Photo attachments (functions/attachments.py, functions/attachment_check.py) ---------
    # S3: endpoint None means real AWS; locally it points at s3rver. Browsers use the
    # presigned URLs as they are, so the endpoint must be one they reach too.
    s3_endpoint: str | None = field(default=None, metadata={"env": "TIDINGS_S3_ENDPOINT"})
    attachments_bucket: str = field(default="tidings-attachments", metadata={"env": "TIDINGS_ATTACHMENTS_BUCKET"})
    # The largest photo a member may upload (the presigned PUT signs the exact size asked for).
    attachment_max_bytes: int = field(default=10 * 1024 * 1024, metadata={"env": "TIDINGS_ATTACHMENT_MAX_BYTES"})
    # How long a presigned upload (PUT) and a presigned fetch (GET) stay valid.
    attachment_upload_ttl_s: int = field(default=300, metadata={"env": "TIDINGS_ATTACHMENT_UPLOAD_TTL_S"})
    attachment_url_ttl_s: int = field(default=300, metadata={"env": "TIDINGS_ATTACHMENT_URL_TTL_S"})

    # The edges the web client connects to (its /config.json; the page never takes them from
    # its URL). Empty: the page's own host name, port 8001.
    web_edges: tuple[str, ...] = field(default=(), metadata={"env": "TIDINGS_WEB_EDGES"})

    # --- Push notifications (functions/push/) ---------------------------------------------
    # The notifier is a second consumer of the chat topic in its own group: its lag and its
    # outages are its own, never the chat worker's.
    push_consumer_group: str = field(default="tidings-notifier", metadata={"env": "TIDINGS_PUSH_CONSUMER_GROUP"})
    # Off: pushes say "New message" and never carry the text (privacy, per deployment).
    push_preview: bool = field(default=True, metadata={"env": "TIDINGS_PUSH_PREVIEW"})
    # Where the sender credentials are: "file:/path.json" or "secretsmanager:<arn or name>";
    # one JSON document {fcm: {...service account}, apns: {keyId, teamId, privateKey},
    # webpush: {vapidPrivateKey, subject}}. Unset: no pushes are sent (devices still register).
    push_credentials: str | None = field(default=None, metadata={"env": "TIDINGS_PUSH_CREDENTIALS"})
    push_fcm_url: str = field(default="https://fcm.googleapis.com", metadata={"env": "TIDINGS_PUSH_FCM_URL"})
    push_fcm_token_url: str = field(default="https://oauth2.googleapis.com/token",
                                    metadata={"env": "TIDINGS_PUSH_FCM_TOKEN_URL"})
    push_apns_url: str = field(default="https://api.push.apple.com", metadata={"env": "TIDINGS_PUSH_APNS_URL"})
    # The VAPID public key (base64url, uncompressed P-256) browsers subscribe with; public.
    push_vapid_public_key: str | None = field(default=None, metadata={"env": "TIDINGS_PUSH_VAPID_PUBLIC_KEY"})
    # Hosts a Web Push endpoint may name (a subscription is a URL the notifier will POST to:
    # only the push services, never an internal address). "*.x" matches subdomains of x.
    push_webpush_hosts: tuple[str, ...] = field(
        default=("fcm.googleapis.com", "updates.push.services.mozilla.com", "*.push.apple.com",
                 "*.notify.windows.com"), metadata={"env": "TIDINGS_PUSH_WEBPUSH_HOSTS"})
    push_timeout_s: float = field(default=10.0, metadata={"env": "TIDINGS_PUSH_TIMEOUT_S"})
    # Tries of one send on 429/5xx/connection errors; Retry-After is honoured up to the cap.
    push_max_attempts: int = field(default=3, metadata={"env": "TIDINGS_PUSH_MAX_ATTEMPTS"})
    push_retry_after_cap_s: float = field(default=30.0, metadata={"env": "TIDINGS_PUSH_RETRY_AFTER_CAP_S"})
    # How long the notifier waits for the chat worker to store a record it has read.
    push_store_wait_s: float = field(default=10.0, metadata={"env": "TIDINGS_PUSH_STORE_WAIT_S"})

    # Local mode only (dev login on the gateway, `invoke token`).
    local_mode: bool = field(default=False, metadata={"env": "TIDINGS_LOCAL_MODE"})

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise SettingsError(f"TIDINGS_PARTITIONS must be at least 1, got {self.partitions}")
        if self.brokers is not None and not 1 <= self.brokers <= 5:
            raise SettingsError(f"TIDINGS_BROKERS must be 1..5, got {self.brokers}")
        if self.batch_size < 1 or self.batch_size > 10000:
            raise SettingsError(f"TIDINGS_BATCH_SIZE must be 1..10000, got {self.batch_size}")
        if self.batch_window_ms < 0 or self.batch_window_ms > 300_000:
            raise SettingsError(f"TIDINGS_BATCH_WINDOW_MS must be 0..300000, got {self.batch_window_ms}")
        if self.flow_window < 1:
            raise SettingsError(f"TIDINGS_FLOW_WINDOW must be at least 1, got {self.flow_window}")
        if self.flow_budget < 0:
            raise SettingsError(f"TIDINGS_FLOW_BUDGET must be 0 (no budget) or more, got {self.flow_budget}")
        if self.max_message_bytes < 1024:
            raise SettingsError(f"TIDINGS_MAX_MESSAGE_BYTES must be at least 1024, got {self.max_message_bytes}")
        if self.kafka_security not in ("plaintext", "iam"):
            raise SettingsError(f"TIDINGS_KAFKA_SECURITY must be plaintext or iam, got {self.kafka_security!r}")
        if self.jwt_algorithm not in ("HS256", "RS256"):
            raise SettingsError(f"TIDINGS_JWT_ALGORITHM must be HS256 or RS256, got {self.jwt_algorithm!r}")
        if self.jwt_algorithm == "RS256" and not self.jwt_public_key:
            raise SettingsError("TIDINGS_JWT_ALGORITHM=RS256 needs TIDINGS_JWT_PUBLIC_KEY")
        if self.edit_window_s < 0:
            raise SettingsError(f"TIDINGS_EDIT_WINDOW_S must be at least 0, got {self.edit_window_s}")
        if not 0 <= self.http_change_wait_s <= 25:   # inside the HTTP function's timeout (iac/)
            raise SettingsError(f"TIDINGS_HTTP_CHANGE_WAIT_S must be 0..25, got {self.http_change_wait_s}")
        if not 1 <= self.attachment_max_bytes <= 5 * 1024 ** 3:   # a single S3 PUT's limit
            raise SettingsError(f"TIDINGS_ATTACHMENT_MAX_BYTES must be 1..5 GiB, got {self.attachment_max_bytes}")
        for name in ("attachment_upload_ttl_s", "attachment_url_ttl_s"):
            if not 1 <= getattr(self, name) <= 604800:   # SigV4 presigned URLs live at most 7 days
                raise SettingsError(f"TIDINGS_{name.upper()} must be 1..604800, got {getattr(self, name)}")
        if self.push_max_attempts < 1:
            raise SettingsError(f"TIDINGS_PUSH_MAX_ATTEMPTS must be at least 1, got {self.push_max_attempts}")
        if not self.chat_topic or self.chat_topic == self.dead_letter_topic:
            raise SettingsError("the chat topic and the dead-letter topic must be set and differ")

    def require_deployable_secrets(self, component: str) -> None:
        """Outside local mode, refuse the built-in (public) secrets and short ones, saying
        which setting to set. Every process that verifies tokens or uses the delivery
        secret calls this before it serves anything."""
        if self.local_mode:
            return
        missing = []
        if self.jwt_algorithm == "HS256" and (self.jwt_secret == LOCAL_JWT_SECRET
                                              or len(self.jwt_secret) < MIN_SECRET_CHARS):
            missing.append(f"TIDINGS_JWT_SECRET (a random secret of {MIN_SECRET_CHARS}+ characters), "
                           "or TIDINGS_JWT_ALGORITHM=RS256 with TIDINGS_JWT_PUBLIC_KEY")
        if self.delivery_secret == LOCAL_DELIVERY_SECRET or len(self.delivery_secret) < MIN_SECRET_CHARS:
            missing.append(f"TIDINGS_DELIVERY_SECRET (a random secret of {MIN_SECRET_CHARS}+ characters)")
        if missing:
            raise SettingsError(f"{component} refuses to start with the built-in or a short secret outside "
                                f"local mode: set {'; and '.join(missing)}. For a local stack set "
                                "TIDINGS_LOCAL_MODE=true.")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        values = {}
        for f in fields(cls):
            raw = env.get(f.metadata["env"])
            if raw is None:
                continue
            values[f.name] = _convert(f.name, f.type, raw)
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The environment that reproduces these settings in a child process."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, tuple):
                value = ",".join(value)
            elif isinstance(value, bool):
                value = "true" if value else "false"
            out[f.metadata["env"]] = str(value)
        return out

    def table_name(self, logical: str) -> str:
        return f"{self.table_prefix}{logical}"

    def __repr__(self) -> str:  # never print secrets into logs
        shown = []
        for f in fields(self):
            value = "***" if f.metadata.get("secret") else getattr(self, f.name)
            shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"


def env_names() -> set[str]:
    """All environment variable names tidings reads (used by iac/ consistency tests)."""
    return {f.metadata["env"] for f in fields(Settings)}


def _convert(name: str, type_: str, raw: str):
    try:
        if type_ == "int":
            return int(raw)
        if type_ == "int | None":
            return int(raw) if raw.strip() else None
        if type_ == "float":
            return float(raw)
        if type_ == "bool":
            return _bool(raw)
        if type_.startswith("tuple"):
            return _split(raw)
        if type_ == "str | None":
            return raw or None
        return raw
    except ValueError as exc:
        raise SettingsError(f"setting {name}: {exc}") from exc
