"""boto3 clients built from Settings: real AWS in the cloud, dynalite locally."""

from __future__ import annotations

import functools

import boto3
from botocore.config import Config

from functions.settings import Settings

# Keep-alive pool big enough for the edge's greenlets and the worker's threads; standard
# retries back off on throttling (functions.store retries what a batch call leaves over).
# Client-side parameter validation is off: our requests have fixed shapes (the tests cover
# them) and DynamoDB validates anyway; it was ~7 % of the worker's CPU.
_CONFIG = Config(max_pool_connections=64, retries={"max_attempts": 8, "mode": "standard"},
                 connect_timeout=3, read_timeout=10, parameter_validation=False)


@functools.lru_cache(maxsize=8)
def dynamodb(settings: Settings):
    """A low-level DynamoDB client (thread-safe; cached per settings)."""
    kwargs = {"region_name": settings.aws_region, "config": _CONFIG}
    if settings.dynamodb_endpoint:
        # dynalite accepts any credentials; fixed ones keep a developer's real keys unused.
        kwargs.update(endpoint_url=settings.dynamodb_endpoint,
                      aws_access_key_id="local", aws_secret_access_key="local")
    return boto3.session.Session().client("dynamodb", **kwargs)


@functools.lru_cache(maxsize=8)
def dynamodb_wire(settings: Settings):
    """The batched calls' client (functions.dynamo_wire): one keep-alive pool per settings."""
    from functions.dynamo_wire import DynamoWire

    return DynamoWire(settings)


def dynamodb_data(settings: Settings):
    """The client for data calls (get/put/update/delete/query...): boto3's calling convention,
    DynamoWire underneath (functions/dynamo_wire.py). Table management stays on `dynamodb`."""
    from functions.dynamo_wire import WireClient

    return WireClient(dynamodb_wire(settings))


@functools.lru_cache(maxsize=8)
def s3(settings: Settings):
    """An S3 client (presigning, the attachment check). SigV4 always: presigned uploads sign
    their Content-Length and Content-Type. Locally path-style at s3rver, whose built-in
    account (S3RVER) is the only one it knows."""
    kwargs = {"region_name": settings.aws_region,
              "config": _CONFIG.merge(Config(signature_version="s3v4", parameter_validation=True))}
    if settings.s3_endpoint:
        kwargs.update(endpoint_url=settings.s3_endpoint, aws_access_key_id="S3RVER", aws_secret_access_key="S3RVER")
        kwargs["config"] = kwargs["config"].merge(Config(s3={"addressing_style": "path"}))
    return boto3.session.Session().client("s3", **kwargs)
