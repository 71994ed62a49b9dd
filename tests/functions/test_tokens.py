"""functions/tokens.py: verify with a fixed algorithm list and required claims; mint HS256."""

from __future__ import annotations

import base64
import dataclasses
import time

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from functions import tokens
from functions.settings import Settings

SETTINGS = Settings()


def claims(**overrides):
    now = int(time.time())
    base = {"sub": "alice", "role": "customer", "iss": SETTINGS.jwt_issuer,
            "aud": SETTINGS.jwt_audience, "iat": now, "exp": now + 600}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def hs256(payload, secret=SETTINGS.jwt_secret):
    return jwt.encode(payload, secret, algorithm="HS256")


def b64(obj) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(obj)).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def rsa_pair():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private_pem, public_pem


def test_good_token_gives_identity():
    payload = claims()
    identity = tokens.verify(SETTINGS, hs256(payload))
    assert identity == tokens.Identity("alice", "customer", float(payload["exp"]))


def test_mint_round_trips():
    token = tokens.mint(SETTINGS, "bob", "groomer", ttl_s=120)
    identity = tokens.verify(SETTINGS, token)
    assert (identity.user_id, identity.role) == ("bob", "groomer")
    assert time.time() + 100 < identity.expires_at <= time.time() + 121


def test_mint_refuses_bad_input_and_rs256(rsa_pair):
    with pytest.raises(tokens.TokenError):
        tokens.mint(SETTINGS, "bob", "superuser")
    with pytest.raises(tokens.TokenError):
        tokens.mint(SETTINGS, "bad user id with spaces", "customer")
    rs = dataclasses.replace(SETTINGS, jwt_algorithm="RS256", jwt_public_key=rsa_pair[1])
    with pytest.raises(tokens.TokenError):
        tokens.mint(rs, "bob", "customer")


def test_expired():
    now = int(time.time())
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.verify(SETTINGS, hs256(claims(iat=now - 7200, exp=now - 3600)))


@pytest.mark.parametrize("field,value", [("iss", "someone-else"), ("aud", "another-app")])
def test_wrong_issuer_or_audience(field, value):
    with pytest.raises(tokens.TokenError):
        tokens.verify(SETTINGS, hs256(claims(**{field: value})))


def test_alg_none_refused():
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims())}."
    with pytest.raises(tokens.TokenError):
        tokens.verify(SETTINGS, unsigned)


def test_bad_signature():
    with pytest.raises(tokens.TokenError):
        tokens.verify(SETTINGS, hs256(claims(), secret="another-secret-of-decent-length-0123456789"))
    token = hs256(claims())
    head, body, sig = token.split(".")
    forged_body = b64(claims(sub="mallory"))
    with pytest.raises(tokens.TokenError):
        tokens.verify(SETTINGS, f"{head}.{forged_body}.{sig}")


@pytest.mark.parametrize("missing", ["sub", "exp", "iat", "iss", "aud"])
def test_missing_required_claim(missing):
    with pytest.raises(tokens.TokenError):
        tokens.verify(SETTINGS, hs256(claims(**{missing: None})))


@pytest.mark.parametrize("role", [None, "superuser", 7, ""])
def test_bad_role(role):
    payload = claims()
    if role is None:
        payload.pop("role")
    else:
        payload["role"] = role
    with pytest.raises(tokens.TokenError, match="role"):
        tokens.verify(SETTINGS, hs256(payload))


@pytest.mark.parametrize("sub", ["", "has space", "x" * 200, 42])
def test_bad_sub(sub):
    with pytest.raises(tokens.TokenError):
        tokens.verify(SETTINGS, hs256(claims(sub=sub)))


@pytest.mark.parametrize("token", [None, "", "not-a-jwt", "a.b.c", "x" * (tokens.MAX_TOKEN_CHARS + 1)])
def test_garbage(token):
    with pytest.raises(tokens.TokenError):
        tokens.verify(SETTINGS, token)


def test_rs256_with_generated_key(rsa_pair):
    private_pem, public_pem = rsa_pair
    rs = dataclasses.replace(SETTINGS, jwt_algorithm="RS256", jwt_public_key=public_pem)
    good = jwt.encode(claims(role="admin"), private_pem, algorithm="RS256")
    assert tokens.verify(rs, good).role == "admin"
    # An HS256 token is refused by an RS256 edge, even if well signed with the shared secret.
    with pytest.raises(tokens.TokenError):
        tokens.verify(rs, hs256(claims()))
    # And an RS256 token is refused by an HS256 edge.
    with pytest.raises(tokens.TokenError):
        tokens.verify(SETTINGS, good)


def test_hs_rs_confusion_refused(rsa_pair):
    """HS256 signed with the RSA public key as the HMAC secret (the classic confusion)."""
    _, public_pem = rsa_pair
    rs = dataclasses.replace(SETTINGS, jwt_algorithm="RS256", jwt_public_key=public_pem)
    import hashlib
    import hmac
    header = b64({"alg": "HS256", "typ": "JWT"})
    body = b64(claims())
    signing_input = f"{header}.{body}".encode()
    sig = hmac.new(public_pem.encode(), signing_input, hashlib.sha256).digest()
    forged = f"{header}.{body}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"
    with pytest.raises(tokens.TokenError):
        tokens.verify(rs, forged)
