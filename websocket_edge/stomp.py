"""A pure STOMP 1.0/1.1/1.2 frame codec for the WebSocket edge (no I/O, no gevent).

Wire format: command EOL *(header EOL) EOL *OCTET NUL *(EOL), EOL = [CR] LF. Any problem with
the input raises `StompError(message, receipt_id)` and nothing else; the work per input byte
and the memory held for a frame are bounded by the limits. STOMP errors are fatal to a
connection: after one, a `Parser` refuses further input.
The handshake's terms are `stomp_handshake.py`, the chat's destinations `stomp_destinations.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CLIENT_COMMANDS = frozenset({
    "CONNECT", "STOMP", "SEND", "SUBSCRIBE", "UNSUBSCRIBE", "ACK", "NACK",
    "BEGIN", "COMMIT", "ABORT", "DISCONNECT",
})
SERVER_COMMANDS = frozenset({"CONNECTED", "MESSAGE", "RECEIPT", "ERROR"})
COMMANDS = CLIENT_COMMANDS | SERVER_COMMANDS
# Headers of these frames are never escaped (STOMP 1.2, "Value Encoding"). STOMP is CONNECT
# under another name, and clients (stomp.py) send it unescaped too.
UNESCAPED_COMMANDS = frozenset({"CONNECT", "STOMP", "CONNECTED"})

DEFAULT_MAX_HEADERS = 64
DEFAULT_MAX_LINE = 8 * 1024
DEFAULT_MAX_BODY = 64 * 1024
HEARTBEAT_BYTES = b"\n"  # what to send for a heart-beat

_UNESCAPES = {"r": "\r", "n": "\n", "c": ":", "\\": "\\"}
_ESCAPES_12 = str.maketrans({"\\": "\\\\", "\r": "\\r", "\n": "\\n", ":": "\\c"})
_ESCAPES_11 = str.maketrans({"\\": "\\\\", "\n": "\\n", ":": "\\c"})  # 1.1 has no \r
_ESCAPE_RE = re.compile(r"\\(.?)", re.S)
_EOLS_RE = re.compile(rb"(?:\r?\n)+")
_DIGITS_RE = re.compile(r"[0-9]{1,12}")


class StompError(Exception):
    """Bad input; fatal to the connection. Answer with `error(str(exc), receipt_id=exc.receipt_id)`."""

    def __init__(self, message: str, receipt_id: str | None = None):
        super().__init__(message)
        self.message = message
        self.receipt_id = receipt_id


@dataclass
class Frame:
    command: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of the first header called `name` (the first of repeated headers wins)."""
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def text(self, encoding: str = "utf-8") -> str:
        """The body as text; StompError when it is not valid in `encoding`."""
        try:
            return self.body.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise StompError(f"body is not valid {encoding}", self.get("receipt")) from exc


class Heartbeat:
    """A run of bare EOLs between frames (a heart-beat). Use the `HEARTBEAT` singleton."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "HEARTBEAT"


HEARTBEAT = Heartbeat()


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text

    def repl(match: re.Match) -> str:
        char = match.group(1)
        if char not in _UNESCAPES:
            raise StompError(f"undefined escape sequence {match.group(0)!r} in header")
        return _UNESCAPES[char]

    return _ESCAPE_RE.sub(repl, text)


def _decode_header(raw: bytes, escaped: bool) -> tuple[str, str]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise StompError("header is not valid UTF-8") from None
    name, colon, value = text.partition(":")
    if not colon or not name:
        raise StompError(f"malformed header line {text[:40]!r} (expected name:value)")
    if escaped:
        return _unescape(name), _unescape(value)
    return name, value


def _receipt_of(raw_lines: list[bytes], escaped: bool) -> str | None:
    """The first `receipt` header that can be read, for error replies."""
    for raw in raw_lines:
        if raw.startswith(b"receipt:"):
            try:
                return _decode_header(raw, escaped)[1]
            except StompError:
                continue
    return None


class Parser:
    """Incremental parser: `feed(data)` returns the frames completed by `data`.

    A run of EOLs outside a frame yields one `HEARTBEAT`, except EOLs that follow a frame
    in the same `feed` call (a frame's optional trailer). `version` ("1.0" disables header
    unescaping) may be changed once negotiated; CONNECT/STOMP/CONNECTED are never unescaped.
    A command outside `commands` (e.g. `CLIENT_COMMANDS`) is an unknown command.
    """

    def __init__(self, max_body: int = DEFAULT_MAX_BODY, max_headers: int = DEFAULT_MAX_HEADERS,
                 max_line: int = DEFAULT_MAX_LINE, version: str = "1.2", commands=COMMANDS):
        self.max_body, self.max_headers, self.max_line = max_body, max_headers, max_line
        self.version = version
        self._commands = {c.encode("ascii"): c for c in commands}
        self._buf = bytearray()
        self._pos = 0          # start of the unconsumed input
        self._scan = 0         # where to resume searching for LF / NUL (>= _pos)
        self._command: str | None = None  # command of the frame whose headers are being read
        self._lines: list[bytes] = []     # its raw header lines
        self._frame: Frame | None = None  # frame waiting for its body
        self._length: int | None = None   # its content-length
        self._trailer = False  # just completed a frame in this feed call
        self._beat = False     # HEARTBEAT already yielded for the current EOL run
        self._failed: StompError | None = None

    @property
    def pending(self) -> bool:
        """True while part of a frame is buffered."""
        return self._command is not None or self._frame is not None or self._pos < len(self._buf)

    def feed(self, data: bytes | bytearray | str) -> list[Frame | Heartbeat]:
        if self._failed is not None:
            raise StompError(f"connection already failed: {self._failed.message}", self._failed.receipt_id)
        if isinstance(data, str):
            data = data.encode("utf-8")
        self._buf += data
        self._trailer = self._beat = False
        out: list[Frame | Heartbeat] = []
        try:
            while self._step(out):
                pass
        except StompError as exc:
            self._failed = exc
            self._buf.clear()
            raise
        if self._pos:
            del self._buf[:self._pos]
            self._scan -= self._pos
            self._pos = 0
        return out

    def _escaped(self, command: str) -> bool:
        return command not in UNESCAPED_COMMANDS and self.version != "1.0"

    def _step(self, out: list) -> bool:
        if self._frame is not None:
            return self._read_body(out)
        if self._command is None:
            eols = _EOLS_RE.match(self._buf, self._pos)
            if eols:
                self._pos = self._scan = eols.end()
                if not (self._trailer or self._beat):
                    out.append(HEARTBEAT)
                self._beat = True
                return True
            if self._buf.endswith(b"\r") and len(self._buf) - self._pos == 1:
                return False  # maybe the start of a CR LF heart-beat
        line = self._read_line()
        if line is None:
            if self._command is None:  # reject a command line as soon as it cannot be one
                partial = bytes(self._buf[self._pos:self._pos + 13])
                partial = partial[:-1] if partial.endswith(b"\r") else partial
                if not any(known.startswith(partial) for known in self._commands):
                    raise StompError(f"unknown command {partial.decode('utf-8', 'replace')!r}")
            return False
        if self._command is None:
            command = self._commands.get(line)
            if command is None:
                shown = line[:32].decode("utf-8", "replace")
                raise StompError(f"unknown command {shown!r}")
            self._command, self._lines = command, []
            self._trailer = self._beat = False
        elif line:
            if len(self._lines) >= self.max_headers:
                raise StompError(f"too many headers (limit {self.max_headers})", self._receipt())
            self._lines.append(line)
        else:
            self._end_headers()
        return True

    def _receipt(self) -> str | None:
        """The receipt id of the frame being read, if it can be read yet."""
        if self._frame is not None:
            return self._frame.get("receipt")
        return _receipt_of(self._lines, self._escaped(self._command)) if self._command else None

    def _read_line(self) -> bytes | None:
        """The next complete line without its EOL, or None until more data arrives."""
        newline = self._buf.find(b"\n", self._scan)
        if newline < 0:
            self._scan = len(self._buf)
            if self._scan - self._pos > self.max_line + 1:
                raise StompError(f"header line longer than {self.max_line} bytes", self._receipt())
            return None
        line = bytes(self._buf[self._pos:newline])
        self._pos = self._scan = newline + 1
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > self.max_line:
            raise StompError(f"header line longer than {self.max_line} bytes", self._receipt())
        return line

    def _end_headers(self) -> None:
        command, lines = self._command, self._lines
        escaped = self._escaped(command)
        try:
            frame = Frame(command, [_decode_header(raw, escaped) for raw in lines])
        except StompError as exc:
            raise StompError(exc.message, _receipt_of(lines, escaped)) from None
        length = frame.get("content-length")
        if length is not None:
            if not _DIGITS_RE.fullmatch(length):
                raise StompError(f"invalid content-length {length[:20]!r}", frame.get("receipt"))
            length = int(length)
            if length > self.max_body:
                raise StompError(f"body larger than {self.max_body} bytes", frame.get("receipt"))
        self._frame, self._length = frame, length
        self._command, self._lines = None, []

    def _read_body(self, out: list) -> bool:
        frame, start = self._frame, self._pos
        if self._length is not None:
            end = start + self._length
            if len(self._buf) <= end:
                return False
            if self._buf[end] != 0:
                raise StompError("frame does not end with NUL after content-length bytes",
                                 frame.get("receipt"))
        else:
            end = self._buf.find(b"\x00", self._scan)
            self._scan = len(self._buf) if end < 0 else end
            if self._scan - start > self.max_body:
                raise StompError(f"body larger than {self.max_body} bytes", frame.get("receipt"))
            if end < 0:
                return False
        frame.body = bytes(self._buf[start:end])
        self._pos = self._scan = end + 1
        self._frame = self._length = None
        self._trailer = True
        out.append(frame)
        return True


def parse(data: bytes | bytearray | str, max_body: int = DEFAULT_MAX_BODY,
          max_headers: int = DEFAULT_MAX_HEADERS, max_line: int = DEFAULT_MAX_LINE,
          version: str = "1.2", commands=COMMANDS) -> list[Frame | Heartbeat]:
    """All frames in one buffer (e.g. one WebSocket message); a truncated frame is an error."""
    parser = Parser(max_body, max_headers, max_line, version, commands)
    items = parser.feed(data)
    if parser.pending:
        raise StompError("incomplete frame (missing NUL terminator?)", parser._receipt())
    return items


def serialize(frame: Frame, version: str = "1.2") -> bytes:
    """Encode a frame. Escapes headers (not for CONNECT/STOMP/CONNECTED or 1.0) and sets
    `content-length` (replacing any given one) when the body is not empty."""
    if frame.command not in COMMANDS:
        raise ValueError(f"unknown STOMP command {frame.command!r}")
    body = frame.body.encode("utf-8") if isinstance(frame.body, str) else bytes(frame.body)
    escaped = frame.command not in UNESCAPED_COMMANDS and version != "1.0"
    table = _ESCAPES_11 if version == "1.1" else _ESCAPES_12
    lines = [frame.command]
    for name, value in frame.headers:
        if name == "content-length":
            continue
        value = str(value)
        if escaped:
            name, value = name.translate(table), value.translate(table)
        else:  # no escaping possible: a name must be clean, a value loses its line breaks
            if not name or any(c in name for c in ":\r\n"):
                raise ValueError(f"header name {name!r} cannot be sent unescaped")
            value = value.replace("\r", " ").replace("\n", " ")
        lines.append(f"{name}:{value}")
    if body:
        lines.append(f"content-length:{len(body)}")
    return ("\n".join(lines) + "\n\n").encode("utf-8") + body + b"\x00"


# --- server frames ----------------------------------------------------------------------

def connected(version: str, heart_beat: tuple[int, int] = (0, 0), server: str = "tidings/0.1",
              session: str | None = None) -> Frame:
    headers = [("version", version), ("heart-beat", f"{int(heart_beat[0])},{int(heart_beat[1])}"),
               ("server", server)]
    if session is not None:
        headers.append(("session", session))
    return Frame("CONNECTED", headers)


def message(destination: str, subscription: str, message_id: str, body: bytes | str = b"",
            content_type: str | None = "application/json",
            extra_headers: list[tuple[str, str]] | tuple = ()) -> Frame:
    headers = [("destination", destination), ("message-id", message_id), ("subscription", subscription)]
    if content_type:
        headers.append(("content-type", content_type))
    headers.extend(extra_headers)
    return Frame("MESSAGE", headers, body.encode("utf-8") if isinstance(body, str) else bytes(body))


def receipt(receipt_id: str) -> Frame:
    return Frame("RECEIPT", [("receipt-id", receipt_id)])


def error(message: str, body: bytes | str = b"", receipt_id: str | None = None,
          extra_headers: list[tuple[str, str]] | tuple = ()) -> Frame:
    """ERROR frame: short `message` header, optional details in the body (text/plain)."""
    headers = [("message", message)]
    if receipt_id is not None:
        headers.append(("receipt-id", receipt_id))
    body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    if body:
        headers.append(("content-type", "text/plain;charset=utf-8"))
    headers.extend(extra_headers)
    return Frame("ERROR", headers, body)
