"""A local stand-in for API Gateway (HTTP API, payload 2.0) in front of functions/http/api.py.

    python -m local.emulators.gateway --port 8080 [--host 127.0.0.1] [--web-dir local/web] [--default-route]

Ready when `GET /healthz` answers 200. One process, gevent (monkey-patched when run as a
program), a greenlet per request, so requests run concurrently.

- `/api/...`: the HTTP API. The `/api` prefix is stripped, as an API Gateway custom
  domain with the API mapping `api` does (`rawPath` never holds a mapping prefix), so
  `GET /api/rooms/r1` reaches the function as rawPath `/rooms/r1`. The JWT authorizer
  comes first (Authorization header, `Bearer ` prefix optional as in API Gateway;
  signature, algorithm, issuer, audience, exp via functions.tokens) and refuses with
  401 {"message":"Unauthorized"}. The routeKey is matched against
  functions.http.api.ROUTES, the routes iac/ declares; a request matching none gets API
  Gateway's own 404 {"message":"Not Found"} without the function being called, unless
  `--default-route` emulates a `$default` catch-all route (the function then answers its
  JSON 404/405). CORS preflights are answered without authorization, as API Gateway's
  CORS configuration does.
- `GET /healthz`: 200 {"status": "ok"}.
- `GET /config.json`: {"edges": [...], "editWindowS"}, the WebSocket URLs the web client may use
  (TIDINGS_WEB_EDGES; empty: the request's host name, port 8001). The page takes its edges
  from here only, never from its own URL, so a link cannot send its token elsewhere.
- `POST /dev/login` {userId, role}: {token, ...} minted with functions.tokens.mint; only
  when TIDINGS_LOCAL_MODE is true (404 otherwise).
- anything else: static files from the web directory (default local/web/, if it exists).

Before any routing a request target that is not canonical (`//x`, `/./x`, `%2F`, `%00`, ...;
functions/request_paths.py) is answered 400. Every answer carries `nosniff`; pages and
scripts also a Content-Security-Policy (scripts, styles and connections: this origin and
the configured edges; connections and images: the S3 endpoint of photos), `frame-ancestors 'none'`, X-Frame-Options and no referrer.
"""

if __name__ == "__main__":  # before anything imports socket, ssl or threading
    from gevent import monkey

    monkey.patch_all()

import argparse  # noqa: E402
import base64  # noqa: E402
import mimetypes  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable, Mapping  # noqa: E402
from urllib.parse import parse_qsl  # noqa: E402

import jwt  # noqa: E402
import orjson  # noqa: E402

from functions import contracts, tokens  # noqa: E402
from functions.http.api import match_route  # noqa: E402
from functions.request_paths import canonical_path, split_target  # noqa: E402
from functions.settings import Settings, SettingsError  # noqa: E402
from local.emulators.context import LambdaContext  # noqa: E402

API_PREFIX = "/api"
FUNCTION_NAME = "tidings-http-api"
ACCOUNT_ID = "000000000000"
API_ID = "local"
MAX_BODY_BYTES = 10 * 1024 * 1024        # API Gateway's payload limit
DEFAULT_WEB_DIR = Path(__file__).resolve().parent.parent / "web"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript",
               "application/x-www-form-urlencoded", "+json", "+xml")
_STATUS_TEXT = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
                403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
                413: "Payload Too Large", 500: "Internal Server Error", 503: "Service Unavailable"}
CORS_HEADERS = [("access-control-allow-origin", "*"),
                ("access-control-expose-headers", "apigw-requestid, location, retry-after")]
# On every answer; the page's own (CSP, framing, referrer) are added in `static`.
SAFETY_HEADERS = [("x-content-type-options", "nosniff")]
DEFAULT_EDGE_PORT = 8001

Handler = Callable[[dict, Any], Any]
Reply = tuple[int, list[tuple[str, str]], bytes]


# --- the JWT authorizer ---------------------------------------------------------------------

def claim_text(value: Any) -> str:
    """A claim as API Gateway passes it: every value a string, arrays as "[a b]"."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(claim_text(v) for v in value) + "]"
    if isinstance(value, (int, float)):
        return str(value)
    return orjson.dumps(value).decode()


def authorize(settings: Settings, authorization: str | None) -> tuple[dict, list[str] | None] | None:
    """(claims, scopes) for a valid token in the Authorization header, else None."""
    token = (authorization or "").strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    try:
        tokens.verify(settings, token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except (tokens.TokenError, jwt.PyJWTError):
        return None
    scope = claims.get("scope") or claims.get("scp")
    scopes = scope.split() if isinstance(scope, str) else [str(s) for s in scope] if isinstance(scope, list) else None
    return {name: claim_text(value) for name, value in claims.items()}, scopes


# --- the v2 event ---------------------------------------------------------------------------

def request_headers(environ: Mapping[str, Any]) -> dict[str, str]:
    """Lowercase header names; repeated headers arrive joined with commas (the WSGI server)."""
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").lower()] = value
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers[key.replace("_", "-").lower()] = value
    return headers


def query_parameters(raw_query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        params[name] = f"{params[name]},{value}" if name in params else value
    return params


def is_text(content_type: str | None) -> bool:
    ct = (content_type or "").split(";")[0].strip().lower()
    return any(ct.startswith(t) if t.endswith("/") else (ct.endswith(t) if t.startswith("+") else ct == t)
               for t in _TEXT_TYPES)


def apigw_time(epoch_ms: int) -> str:
    t = time.gmtime(epoch_ms / 1000)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


def build_event(environ: Mapping[str, Any], *, raw_path: str, raw_query: str, body: bytes,
                claims: dict, scopes: list[str] | None, request_id: str, now_ms: int) -> dict:
    """The HTTP API payload 2.0 event for a request (keys with no value are left out)."""
    method = environ["REQUEST_METHOD"].upper()
    route, params = match_route(method, raw_path)
    route_key = route.key if route else "$default"
    headers = request_headers(environ)
    cookie_header = headers.pop("cookie", None)
    source_ip = environ.get("REMOTE_ADDR") or "127.0.0.1"
    headers["x-forwarded-for"] = f"{headers['x-forwarded-for']}, {source_ip}" if "x-forwarded-for" in headers \
        else source_ip
    headers.setdefault("x-forwarded-port", str(environ.get("SERVER_PORT") or ""))
    headers.setdefault("x-forwarded-proto", environ.get("wsgi.url_scheme") or "http")
    domain = (headers.get("host") or environ.get("SERVER_NAME") or "localhost").rsplit(":", 1)[0]
    event: dict[str, Any] = {"version": "2.0", "routeKey": route_key, "rawPath": raw_path,
                             "rawQueryString": raw_query}
    if cookie_header:
        event["cookies"] = [c.strip() for c in cookie_header.split(";") if c.strip()]
    event["headers"] = headers
    if raw_query:
        event["queryStringParameters"] = query_parameters(raw_query)
    event["requestContext"] = {
        "accountId": ACCOUNT_ID, "apiId": API_ID,
        "authorizer": {"jwt": {"claims": claims, "scopes": scopes}},
        "domainName": domain, "domainPrefix": domain.split(".")[0],
        "http": {"method": method, "path": raw_path, "protocol": environ.get("SERVER_PROTOCOL") or "HTTP/1.1",
                 "sourceIp": source_ip, "userAgent": headers.get("user-agent", "")},
        "requestId": request_id, "routeKey": route_key, "stage": "$default",
        "time": apigw_time(now_ms), "timeEpoch": now_ms,
    }
    if body:
        if is_text(headers.get("content-type")):
            try:
                event["body"], event["isBase64Encoded"] = body.decode("utf-8"), False
            except UnicodeDecodeError:
                pass
        if "body" not in event:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
    if route and params:
        event["pathParameters"] = params
    event.setdefault("isBase64Encoded", False)
    return event


def map_response(result: Any) -> Reply:
    """The HTTP response API Gateway makes of a function's return value (payload 2.0)."""
    if not isinstance(result, Mapping) or "statusCode" not in result:
        # the 2.0 inference rule: 200, application/json, the value itself as the body
        body = result if isinstance(result, str) else orjson.dumps(result).decode()
        return 200, [("content-type", "application/json")], body.encode("utf-8")
    status, headers, raw = result["statusCode"], result.get("headers") or {}, result.get("body")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599 \
            or not isinstance(headers, Mapping) or not (raw is None or isinstance(raw, str)):
        return gateway_error(500)
    body = (base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode("utf-8")) if raw else b""
    out = [(str(k).lower(), str(v)) for k, v in headers.items()]
    out += [("set-cookie", str(c)) for c in result.get("cookies") or ()]
    return status, out, body


def gateway_error(status: int) -> Reply:
    """API Gateway's own answers: {"message": "..."}."""
    body = orjson.dumps({"message": _STATUS_TEXT.get(status, "Error")})
    headers = [("content-type", "application/json")]
    if status == 401:
        headers.append(("www-authenticate", "Bearer"))
    return status, headers, body


def json_reply(status: int, body: Any) -> Reply:
    return status, [("content-type", "application/json")], orjson.dumps(body)


# --- the WSGI app ---------------------------------------------------------------------------

class Gateway:
    def __init__(self, settings: Settings, handler: Handler | None = None, web_dir: Path | None = DEFAULT_WEB_DIR,
                 function_name: str = FUNCTION_NAME, max_body_bytes: int = MAX_BODY_BYTES,
                 default_route: bool = False):
        if handler is None:
            from functions import logs
            from functions.http import api as http_api

            logs.configure()
            handler = http_api.handler
        self.settings = settings
        self.handler = handler
        self.web_dir = Path(web_dir).resolve() if web_dir else None
        self.function_name = function_name
        self.max_body_bytes = max_body_bytes
        self.default_route = default_route

    def __call__(self, environ: dict, start_response) -> list[bytes]:
        request_id = uuid.uuid4().hex[:16]
        try:
            status, headers, body = self.route(environ, request_id)
        except Exception:  # noqa: BLE001 - a broken request never takes the server down
            status, headers, body = gateway_error(500)
        headers = headers + CORS_HEADERS + SAFETY_HEADERS + [("apigw-requestid", request_id),
                                                             ("content-length", str(len(body)))]
        start_response(f"{status} {_STATUS_TEXT.get(status, 'Status')}", headers)
        return [b"" if environ["REQUEST_METHOD"] == "HEAD" else body]

    def route(self, environ: dict, request_id: str) -> Reply:
        raw_path, raw_query = split_target(environ.get("RAW_URI") or environ.get("PATH_INFO") or "/")
        path = canonical_path(raw_path)
        if path is None:
            return gateway_error(400)
        method = environ["REQUEST_METHOD"].upper()
        if raw_path == API_PREFIX or raw_path.startswith(API_PREFIX + "/"):
            return self.api(environ, raw_path[len(API_PREFIX):] or "/", raw_query, request_id)
        if path == "/healthz":
            return json_reply(200, {"status": "ok"}) if method in ("GET", "HEAD") else gateway_error(405)
        if path == "/dev/login":
            return self.dev_login(environ)
        if path == "/config.json":
            config = {"edges": list(self.edges(environ)), "editWindowS": self.settings.edit_window_s}
            return json_reply(200, config) if method in ("GET", "HEAD") else gateway_error(405)
        return self.static(path, method, environ)

    def edges(self, environ: dict) -> tuple[str, ...]:
        """The WebSocket URLs the web client may connect to (and so send its token to)."""
        if self.settings.web_edges:
            return self.settings.web_edges
        host = (environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or "127.0.0.1").rsplit(":", 1)[0]
        return (f"ws://{host}:{DEFAULT_EDGE_PORT}/ws",)

    def page_headers(self, environ: dict) -> list[tuple[str, str]]:
        """CSP and friends for the web client: its own scripts and styles only, connections to
        this origin and the configured edges, never framed, no referrer sent along."""
        edges = " ".join(sorted({"/".join(url.split("/")[:3]) for url in self.edges(environ)}))
        # photos are uploaded to (PUT) and shown from (img) the S3 endpoint's presigned URLs
        s3 = " " + "/".join(self.settings.s3_endpoint.split("/")[:3]) if self.settings.s3_endpoint else ""
        policy = (f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:{s3}; "
                  f"connect-src 'self' {edges}{s3}; worker-src 'self'; object-src 'none'; base-uri 'none'; "
                  "form-action 'self'; frame-ancestors 'none'")
        return [("content-security-policy", policy), ("x-frame-options", "DENY"),
                ("referrer-policy", "no-referrer")]

    def api(self, environ: dict, raw_path: str, raw_query: str, request_id: str) -> Reply:
        method = environ["REQUEST_METHOD"].upper()
        if method == "OPTIONS" and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"):
            return 204, [("access-control-allow-methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS"),
                         ("access-control-allow-headers",
                          environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS") or "authorization, content-type"),
                         ("access-control-max-age", "600")], b""
        if not self.default_route and match_route(method, raw_path)[0] is None:
            return gateway_error(404)  # no such route: API Gateway answers, the function never runs
        authorized = authorize(self.settings, environ.get("HTTP_AUTHORIZATION"))
        if authorized is None:
            return gateway_error(401)
        body = read_body(environ, self.max_body_bytes)
        if body is None:
            return gateway_error(413)
        event = build_event(environ, raw_path=raw_path, raw_query=raw_query, body=body, claims=authorized[0],
                            scopes=authorized[1], request_id=request_id, now_ms=int(time.time() * 1000))
        try:
            result = self.handler(event, LambdaContext(self.function_name))
        except Exception:  # noqa: BLE001 - what API Gateway answers for a failed invocation
            return gateway_error(500)
        return map_response(result)

    def dev_login(self, environ: dict) -> Reply:
        if not self.settings.local_mode:
            return gateway_error(404)
        if environ["REQUEST_METHOD"].upper() != "POST":
            return gateway_error(405)
        try:
            body = orjson.loads(read_body(environ, 64 * 1024) or b"")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return json_reply(400, {"error": {"code": contracts.ERR_BAD_FRAME, "message": "a JSON object is required"}})
        user_id, role = body.get("userId"), body.get("role", "customer")
        if not contracts.USER_ID.valid(user_id) or role not in contracts.ROLES:
            return json_reply(400, {"error": {"code": contracts.ERR_BAD_REQUEST, "message":
                                              f"userId must match {contracts.USER_ID.pattern} and role be one "
                                              f"of {', '.join(contracts.ROLES)}"}})
        now = int(time.time())
        ttl = 12 * 3600
        token = tokens.mint(self.settings, user_id, role, ttl_s=ttl, now=now)
        return json_reply(200, {"token": token, "userId": user_id, "role": role, "expiresAt": now + ttl})

    def static(self, path: str, method: str, environ: dict) -> Reply:
        if self.web_dir is None or not self.web_dir.is_dir():
            return gateway_error(404)
        if method not in ("GET", "HEAD"):
            return gateway_error(405)
        target = (self.web_dir / path.lstrip("/")).resolve()
        if not target.is_relative_to(self.web_dir):
            return gateway_error(404)
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            return gateway_error(404)
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return 200, [("content-type", content_type), ("cache-control", "no-cache"),
                     *self.page_headers(environ)], target.read_bytes()


def read_body(environ: dict, limit: int) -> bytes | None:
    """The request body (b"" without one); None when it is over `limit` bytes."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH")
    if length:
        try:
            size = int(length)
        except ValueError:
            return None
        if size > limit:
            return None
        return stream.read(size) if size > 0 else b""
    data = stream.read(limit + 1)  # chunked, or no length: read to the end
    return None if len(data) > limit else data


# --- the program ----------------------------------------------------------------------------

def serve(settings: Settings, host: str, port: int, web_dir: Path | None, default_route: bool = False) -> None:
    from gevent.pywsgi import WSGIHandler, WSGIServer

    class _Handler(WSGIHandler):
        def get_environ(self):  # keep the request target as sent: rawPath is not decoded
            env = super().get_environ()
            env["RAW_URI"] = self.path
            return env

    app = Gateway(settings, web_dir=web_dir, default_route=default_route)
    server = WSGIServer((host, port), app, handler_class=_Handler, spawn=1000)
    print(f"tidings gateway on http://{host}:{port} (API under {API_PREFIX}/, local mode "
          f"{'on' if settings.local_mode else 'off'})", flush=True)
    server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.emulators.gateway", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--web-dir", type=Path, default=DEFAULT_WEB_DIR,
                        help="static files served at / when the folder exists (default: local/web)")
    parser.add_argument("--default-route", action="store_true",
                        help="send requests matching no route to the function as routeKey $default "
                             "(default: API Gateway's 404, as iac/ declares no $default route)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    try:
        settings.require_deployable_secrets("the gateway")
    except SettingsError as exc:
        parser.exit(2, f"{exc}\n")
    serve(settings, args.host, args.port, args.web_dir, args.default_route)


if __name__ == "__main__":
    main()
