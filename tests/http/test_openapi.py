"""docs/openapi.yaml against the code: the route table, ids, codes, and real responses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from http_harness import Client, new_id, path
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from functions import contracts
from functions.http.api import ROUTES
from local.emulators.gateway import API_PREFIX

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
DOC = yaml.safe_load(DOC_PATH.read_text())
URI = "urn:tidings:openapi"
REGISTRY = Registry().with_resource(URI, Resource.from_contents(DOC, default_specification=DRAFT202012))
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def pointer(*parts) -> str:
    return "#/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def validator(*parts) -> Draft202012Validator:
    return Draft202012Validator({"$ref": URI + pointer(*parts)}, registry=REGISTRY)


def response_location(route_path: str, method: str, status: int) -> tuple:
    """Where the JSON schema of one response lives (following a components/responses $ref)."""
    responses = DOC["paths"][route_path][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {route_path} does not document {status}"
    response = responses[str(status)]
    if "$ref" in response:
        name = response["$ref"].rsplit("/", 1)[-1]
        return ("components", "responses", name, "content", "application/json", "schema")
    return ("paths", route_path, method.lower(), "responses", str(status), "content", "application/json", "schema")


def resolve_params(params):
    out = []
    for p in params:
        if "$ref" in p:
            p = DOC["components"]["parameters"][p["$ref"].rsplit("/", 1)[-1]]
        out.append(p)
    return out


def test_document_is_openapi_31_and_valid_schema():
    assert DOC["openapi"].startswith("3.1")
    for name in DOC["components"]["schemas"]:
        Draft202012Validator.check_schema(DOC["components"]["schemas"][name])
    assert any(s["url"].endswith(API_PREFIX) and s["url"].startswith("http://127.0.0.1:8080")
               for s in DOC["servers"])


def test_routes_match_the_route_table():
    documented = {(m.upper(), p) for p, item in DOC["paths"].items() for m in item if m in METHODS}
    assert documented == {(r.method, r.path) for r in ROUTES}
    for route in ROUTES:
        item = DOC["paths"][route.path]
        params = resolve_params(item.get("parameters", []) + item[route.method.lower()].get("parameters", []))
        path_params = [p["name"] for p in params if p["in"] == "path"]
        assert sorted(path_params) == sorted(route.params) == sorted(re.findall(r"{(\w+)}", route.path)), route.key
        assert all(p["required"] for p in params if p["in"] == "path")


def test_ids_roles_and_codes_match_contracts():
    schemas = DOC["components"]["schemas"]
    assert schemas["RoomId"]["pattern"] == contracts.ROOM_ID.pattern
    assert schemas["UserId"]["pattern"] == contracts.USER_ID.pattern
    assert tuple(schemas["Role"]["enum"]) == contracts.ROLES
    assert schemas["ClientMsgId"]["pattern"] == contracts.CLIENT_MSG_ID.pattern
    assert schemas["EditMessage"]["properties"]["content"]["maxLength"] == contracts.MAX_BODY_CHARS
    codes = {v for k, v in vars(contracts).items() if k.startswith("ERR_")}
    assert set(schemas["Error"]["properties"]["error"]["properties"]["code"]["enum"]) == codes


def _examples():
    for route_path, item in DOC["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            if "example" in body:
                yield (("paths", route_path, method, "requestBody", "content", "application/json", "schema"),
                       body["example"])
            for status, response in op["responses"].items():
                media = response.get("content", {}).get("application/json", {})
                if "example" in media:
                    yield (("paths", route_path, method, "responses", status, "content", "application/json",
                            "schema"), media["example"])
    for name, response in DOC["components"]["responses"].items():
        media = response["content"]["application/json"]
        if "example" in media:
            yield ("components", "responses", name, "content", "application/json", "schema"), media["example"]


@pytest.mark.parametrize("location, example", list(_examples()), ids=lambda v: "/".join(v) if isinstance(v, tuple)
                         else None)
def test_examples_match_their_schemas(location, example):
    validator(*location).validate(example)


def test_real_responses_match_the_document(client: Client, sender, uid):
    """Every route's answers from the real handler validate against the documented schema."""
    alice, bob, carol = uid("alice"), uid("bob"), uid("carol")
    room_id = client.room(alice, {bob: "groomer"})
    sender.send(room_id, bob, 12, role="groomer")
    client.call("PUT", path("rooms", room_id, "read"), user=alice, body={"seq": 4})
    calls = [
        ("POST", "/rooms", {"body": {"name": "doc room", "members": [{"userId": bob, "role": "groomer"}]}}),
        ("POST", "/rooms", {"body": {"roomId": room_id, "name": "again"}}),
        ("POST", "/rooms", {"raw_body": "{"}),
        ("GET", "/rooms", {}),
        ("GET", path("rooms", room_id), {}),
        ("GET", path("rooms", new_id("room")), {}),
        ("GET", path("rooms", room_id), {"user": uid("eve")}),
        ("POST", path("rooms", room_id, "members"), {"body": {"userId": carol, "role": "customer"}}),
        ("POST", path("rooms", room_id, "members"), {"body": {"userId": carol, "role": "customer"}}),
        ("POST", path("rooms", room_id, "members"), {"body": {"userId": carol, "role": "admin"}}),
        ("DELETE", path("rooms", room_id, "members", carol), {}),
        ("DELETE", path("rooms", room_id, "members", carol), {}),
        ("GET", path("rooms", room_id, "messages"), {"query": {"limit": "5"}}),
        ("GET", path("rooms", room_id, "messages"), {"query": {"after": "0", "limit": "5"}}),
        ("GET", path("rooms", room_id, "messages"), {"query": {"limit": "0"}}),
        ("PUT", path("rooms", room_id, "read"), {"body": {"seq": 8}}),
        ("PUT", path("rooms", room_id, "read"), {"body": {"seq": -8}}),
        ("GET", path("rooms", room_id, "read"), {}),
        ("GET", path("rooms", room_id, "presence"), {}),
        ("GET", "/me", {}),
        ("GET", "/me", {"user": None}),
        # push notifications (issue 15)
        ("PUT", "/devices", {"body": {"platform": "apns", "token": "ab" * 32, "appId": "app.doc"}}),
        ("PUT", "/devices", {"body": {"platform": "apns", "token": "ab" * 32, "appId": "app.doc"}}),
        ("PUT", "/devices", {"body": {"platform": "pager", "token": "x", "appId": "a"}}),
        ("GET", "/devices", {}),
        ("DELETE", path("devices", "d" + "0" * 32), {}),
        ("DELETE", path("devices", "nope"), {}),
        ("PUT", path("rooms", room_id, "mute"), {"body": {"until": 0}}),
        ("PUT", path("rooms", room_id, "mute"), {"body": {"until": "later"}}),
        ("GET", "/push/config", {}),
        # photo attachments (issue 16)
        ("POST", path("rooms", room_id, "attachments"), {"body": {"contentType": "image/png", "bytes": 1234}}),
        ("POST", path("rooms", room_id, "attachments"), {"body": {"contentType": "image/gif", "bytes": 1234}}),
        ("POST", path("rooms", room_id, "attachments"), {"body": {"contentType": "image/png", "bytes": 1234},
                                                         "user": uid("eve")}),
        ("GET", path("rooms", room_id, "attachments", "0" * 32), {}),
        ("GET", path("rooms", room_id, "attachments", "nope"), {}),
        # edit, delete, react (issue 16): through the stack's Kafka and chat worker
        ("POST", path("rooms", room_id, "messages", "3", "reactions"), {"body": {"emoji": "👍"}}),
        ("POST", path("rooms", room_id, "messages", "3", "reactions"), {"body": {"emoji": "👍👍"}}),
        ("PATCH", path("rooms", room_id, "messages", "3"), {"body": {"content": "not mine"}}),
        ("PATCH", path("rooms", room_id, "messages", "3"), {"body": {"content": "fixed"}, "user": bob}),
        ("PATCH", path("rooms", room_id, "messages", "01"), {"body": {"content": "x"}}),
        ("DELETE", path("rooms", room_id, "messages", "99"), {}),
        ("DELETE", path("rooms", room_id, "messages", "4"), {"query": {"clientMsgId": "doc-delete"}}),
    ]
    seen = set()
    for method, url, kwargs in calls:
        kwargs.setdefault("user", alice)
        status, body = client.call(method, url, **kwargs)
        route = next(r for r in ROUTES if r.method == method and r.match(url) is not None)
        validator(*response_location(route.path, method, status)).validate(body)
        seen.add((route.key, status))
    assert {key for key, _ in seen} == {r.key for r in ROUTES}
