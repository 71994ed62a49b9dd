"""One spelling per path: every listener refuses odd request targets before routing.

Routers and prefix checks disagree on odd spellings: falcon routes `//@connections/x` as
`/@connections/x` while `path.startswith("/@connections")` does not see it, and a
decoded `%2F` turns one segment into two. So the edges and the gateway serve only
canonical paths and answer 400 to anything else, before any routing decision:

- not starting with `/` (absolute-form targets, `*`), or not printable ASCII;
- an empty segment: `//x`, `/x//y`, a trailing slash (only `/` itself may end in one);
- a dot segment, raw or encoded: `/./x`, `/x/..`, `/%2e%2E/x`;
- an encoded slash or backslash (`%2F`, `%5C`) or a raw backslash;
- a bad percent-escape (`%zz`, `%4`), an escape that is not UTF-8, or a control
  character in a segment, raw or encoded (`%00`, `%0a`).
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from functions.contracts import has_control_chars

_RAW_OK = re.compile(r"/[\x21-\x7e]*")               # printable ASCII, no spaces
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def split_target(target: str) -> tuple[str, str]:
    """(raw path, raw query) of a request target."""
    path, _, query = target.partition("?")
    return path, query


def canonical_path(raw_path: str) -> str | None:
    """The decoded path when `raw_path` (a request target without its query, as sent) is
    canonical; None when it is to be refused."""
    if not isinstance(raw_path, str) or not _RAW_OK.fullmatch(raw_path) or "\\" in raw_path:
        return None
    if raw_path == "/":
        return "/"
    if _BAD_ESCAPE.search(raw_path):
        return None
    decoded = []
    for raw in raw_path[1:].split("/"):
        try:
            segment = unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            return None
        if segment in ("", ".", "..") or "/" in segment or "\\" in segment or has_control_chars(segment):
            return None
        decoded.append(segment)
    return "/" + "/".join(decoded)


def canonical_target(environ) -> str | None:
    """`canonical_path` of a WSGI request: the target as sent (gunicorn's and the gateway's
    `RAW_URI`), else PATH_INFO re-checked (a server that gives no raw target)."""
    raw = environ.get("RAW_URI")
    if raw is None:
        raw = environ.get("PATH_INFO") or ""
    return canonical_path(split_target(raw)[0])
