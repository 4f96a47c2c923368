"""A fault-injecting HTTP/1.1 proxy on loopback, between a till's sync client and the server.

It listens on 127.0.0.1 (a free port), reads each request the till sends (head and
``Content-Length`` body), and does to it what the next fault says:

* ``PASS`` — forward it, return the reply;
* ``RESET`` — forward the head and half of the body, then reset both connections (RST): the
  server sees a request cut mid-body, the till a reset connection;
* ``HOLD`` — keep the request until the till gives up (its read timeout) and hangs up, then
  deliver it anyway: a late duplicate the till never hears about;
* ``TRUNCATE`` — forward it, return the reply's head and half its body, then close: the
  server did the work, the till cannot know;
* ``GARBLE`` — forward it, return the reply cut to half its body *with a matching
  Content-Length*: a well-formed HTTP reply whose JSON is broken;
* ``DUPLICATE`` — forward it twice, one after the other, and return the second reply.

Three more, in :class:`ExtraFault` (a separate enum, so tests that iterate over ``Fault`` keep
their meaning), cut the other direction or cut differently:

* ``TRUNCATE_REQUEST`` — forward the head and half of the body, then close the server
  connection cleanly (FIN, not RST): the server sees a body that ends early; the till a reset;
* ``RESET_REPLY`` — forward it, return the reply's head and half its body, then reset (RST);
* ``STALL_REPLY`` — forward it (the server does the work), then keep the reply until the till
  gives up (its read timeout) and hangs up: a stalled answer, the push applied unbeknown.

Faults come from a script (``script(...)``: the next requests get these, in order; or
``target(path, ...)``: the next requests *to that path* get these, whatever comes between) or a
seeded RNG (``randomize(seed, rate)``); with neither, requests pass. ``down = True`` resets
every new request at once, as if the till's network were gone. Every socket operation has a
timeout and every wait a deadline; ``wait_idle()`` waits for requests still in flight (a
held request is in flight until its late delivery is done, a forwarded one until the server's
whole reply is read, whether or not the till still listens).

For the fault soak (tests/soak): a :class:`Trigger` runs an action once, when a matching
request reaches a :class:`Stage` (arrived, forwarded to the server, its reply read, the reply
delivered) — e.g. SIGKILL the server or the till exactly mid-push; one trigger may be armed on
several proxies and still fires once. ``set_upstream()`` follows a restarted server to its new
port; ``recorded`` keeps the last requests as the till sent them (bearer token included) for
``send_upstream()`` to replay byte for byte; ``stats.statuses`` counts the server's reply codes.
"""

from __future__ import annotations

import contextlib
import enum
import random
import select
import socket
import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = [
    "EVERY_FAULT",
    "FAULTS",
    "AnyFault",
    "ExtraFault",
    "Fault",
    "FaultProxy",
    "Stage",
    "Trigger",
    "fault_proxy",
]

_IO_TIMEOUT_S = 30.0
_MAX_HEAD = 64 * 1024


class Fault(enum.Enum):
    PASS = "pass"
    RESET = "reset"
    HOLD = "hold"
    TRUNCATE = "truncate"
    GARBLE = "garble"
    DUPLICATE = "duplicate"


FAULTS = tuple(f for f in Fault if f is not Fault.PASS)


class ExtraFault(enum.Enum):
    TRUNCATE_REQUEST = "truncate-request"
    RESET_REPLY = "reset-reply"
    STALL_REPLY = "stall-reply"


AnyFault = Fault | ExtraFault
EVERY_FAULT: tuple[AnyFault, ...] = (*FAULTS, *ExtraFault)
"""Every fault the proxy can apply (all but PASS)."""


class Stage(enum.Enum):
    ARRIVED = "arrived"
    """The till's whole request is at the proxy; nothing has reached the server yet."""
    FORWARDED = "forwarded"
    """The server has the whole request; its reply has not been read."""
    REPLIED = "replied"
    """The server's whole reply is at the proxy; the till has none of it."""
    DELIVERED = "delivered"
    """The till has the whole reply (and is applying it)."""


class Trigger:
    """Run ``action`` once, in the proxy's thread, when a request whose path starts with
    ``path`` reaches ``stage`` on any proxy it is armed on. The request goes on afterwards as
    if nothing had happened (a killed till's request still reaches the server)."""

    def __init__(self, stage: Stage, action: Callable[[], None], *, path: str = "") -> None:
        self.stage = stage
        self.path = path
        self.action = action
        self.fired = threading.Event()
        self.request: tuple[str, bytes] | None = None
        """(path, body) of the request it fired on, set before ``action`` runs."""
        self._lock = threading.Lock()
        self._spent = False

    def matches(self, stage: Stage, path: str) -> bool:
        return stage is self.stage and path.startswith(self.path) and not self._spent

    def claim(self) -> bool:
        """True for exactly one caller, ever (cancel() claims it for nobody)."""
        with self._lock:
            if self._spent:
                return False
            self._spent = True
            return True

    def cancel(self) -> bool:
        """Make sure it never fires; True when it had not fired."""
        return self.claim()


class _ClientGoneError(Exception):
    """The till closed its connection (between requests, or while one was held)."""


@dataclass
class _Request:
    head: bytes
    body: bytes
    method: str
    path: str

    def upstream_bytes(self, body: bytes | None = None) -> bytes:
        """The request for the server on a fresh connection, asking it to close afterwards
        (so a reply is simply everything until end of file)."""
        lines = [
            line
            for line in self.head.split(b"\r\n")
            if not line.lower().startswith((b"connection:", b"keep-alive:"))
        ]
        lines.append(b"Connection: close")
        return b"\r\n".join(lines) + b"\r\n\r\n" + (self.body if body is None else body)


@dataclass
class _Stats:
    faults: Counter[AnyFault] = field(default_factory=Counter)
    log: list[tuple[str, str, AnyFault]] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    """HTTP status of each reply the server gave through this proxy."""


def _reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def _split_reply(reply: bytes) -> tuple[bytes, bytes]:
    head, sep, body = reply.partition(b"\r\n\r\n")
    if not sep:
        return reply, b""
    return head, body


def _status(reply: bytes) -> int | None:
    first = reply.split(b"\r\n", 1)[0].split(b" ")
    if len(first) >= 2 and first[0].startswith(b"HTTP/") and first[1].isdigit():
        return int(first[1])
    return None


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
        if name.strip().lower() == b"transfer-encoding":
            raise ValueError("the proxy handles Content-Length bodies only")
    return 0


def _with_length(head: bytes, length: int) -> bytes:
    lines = [
        line for line in head.split(b"\r\n") if not line.lower().startswith(b"content-length:")
    ]
    lines.append(b"content-length: %d" % length)
    return b"\r\n".join(lines)


class FaultProxy:
    def __init__(self, upstream_url: str, *, hold_limit_s: float = 30.0) -> None:
        parts = urlsplit(upstream_url)
        assert parts.hostname in ("127.0.0.1", "localhost"), "loopback only"
        self.upstream = (parts.hostname, parts.port or 80)
        self.hold_limit_s = hold_limit_s
        self.down = False
        self.stats = _Stats()
        self.recorded: deque[tuple[str, str, bytes]] = deque(maxlen=64)
        """The last requests as the till sent them: (method, path, bytes for the server)."""
        self._script: deque[AnyFault] = deque()
        self._targeted: deque[tuple[str, AnyFault]] = deque()
        self._rng: random.Random | None = None
        self._rate = 0.0
        self._choices: tuple[AnyFault, ...] = FAULTS
        self._triggers: list[Trigger] = []
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._stopping = threading.Event()
        self._clients: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._acceptor = threading.Thread(target=self._accept_loop, name="fault-proxy", daemon=True)
        self._acceptor.start()

    # --- choosing faults ----------------------------------------------------------------------

    def script(self, *faults: AnyFault) -> None:
        """The next requests get these faults, in order; then the RNG (if any) or PASS."""
        with self._lock:
            self._script.extend(faults)

    def target(self, path: str, *faults: AnyFault) -> None:
        """The next requests whose path starts with ``path`` get these faults, in order
        (before the script); requests to other paths are not counted."""
        with self._lock:
            self._targeted.extend((path, fault) for fault in faults)

    def randomize(self, seed: int, rate: float, choices: Iterable[AnyFault] = FAULTS) -> None:
        """From now on each request (after the script) gets a random fault with ``rate``."""
        with self._lock:
            self._rng = random.Random(seed)
            self._rate = rate
            self._choices = tuple(choices)

    def clear_script(self) -> None:
        """Drop scripted (and targeted) faults no request has used."""
        with self._lock:
            self._script.clear()
            self._targeted.clear()

    def calm(self) -> None:
        """No more faults: clear the script and the RNG, bring the network back."""
        with self._lock:
            self._script.clear()
            self._targeted.clear()
            self._rng = None
            self.down = False

    def faults_since(self, mark: int) -> list[AnyFault]:
        """Faults applied to requests after ``len(stats.log)`` was ``mark``."""
        with self._lock:
            return [fault for _, _, fault in self.stats.log[mark:]]

    @property
    def mark(self) -> int:
        with self._lock:
            return len(self.stats.log)

    def _next_fault(self, request: _Request) -> AnyFault:
        with self._lock:
            if self._targeted and request.path.startswith(self._targeted[0][0]):
                fault = self._targeted.popleft()[1]
            elif self._script:
                fault = self._script.popleft()
            elif self._rng is not None and self._rng.random() < self._rate:
                fault = self._rng.choice(self._choices)
            else:
                fault = Fault.PASS
            self.stats.faults[fault] += 1
            self.stats.log.append((request.method, request.path, fault))
            return fault

    @property
    def pending_script(self) -> int:
        with self._lock:
            return len(self._script) + len(self._targeted)

    # --- triggers, retargeting, replays ---------------------------------------------------------

    def arm(self, trigger: Trigger) -> None:
        with self._lock:
            self._triggers.append(trigger)

    def disarm(self, trigger: Trigger) -> None:
        with self._lock:
            if trigger in self._triggers:
                self._triggers.remove(trigger)

    def _fire(self, stage: Stage, request: _Request) -> None:
        with self._lock:
            due = [t for t in self._triggers if t.matches(stage, request.path)]
        for trigger in due:
            if trigger.claim():
                with self._lock:
                    if trigger in self._triggers:
                        self._triggers.remove(trigger)
                trigger.request = (request.path, request.body)
                try:
                    trigger.action()
                finally:
                    trigger.fired.set()

    def set_upstream(self, upstream_url: str) -> None:
        """Forward from now on to this server (a restarted server on its new port)."""
        parts = urlsplit(upstream_url)
        assert parts.hostname in ("127.0.0.1", "localhost"), "loopback only"
        self.upstream = (parts.hostname, parts.port or 80)

    def send_upstream(self, payload: bytes) -> bytes:
        """Send raw request bytes (e.g. from ``recorded``) to the server; its whole reply."""
        return self._exchange(payload)

    # --- lifecycle ----------------------------------------------------------------------------

    def wait_idle(self, timeout_s: float = 30.0) -> None:
        """Wait until no request is in flight (held requests delivered, replies sent)."""
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self._in_flight} request(s) still in flight")
                self._idle.wait(left)

    def close(self) -> None:
        self._stopping.set()
        self._acceptor.join(timeout=5)
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
        for thread in list(self._threads):
            thread.join(timeout=self.hold_limit_s + 5)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- serving ------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(_IO_TIMEOUT_S)
            with self._lock:
                self._clients.add(client)
                self._threads = [t for t in self._threads if t.is_alive()]
                thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
                self._threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        """One request per connection: the server is asked to close after its reply and says
        so to the till (``connection: close``), so the till opens a new one for the next."""
        try:
            try:
                request = self._read_request(client)
            except (_ClientGoneError, OSError, ValueError):
                return
            with self._lock:
                self._in_flight += 1
            try:
                self._handle(client, request)
            except OSError:
                _reset(client)
            finally:
                with self._idle:
                    self._in_flight -= 1
                    self._idle.notify_all()
        finally:
            with self._lock:
                self._clients.discard(client)
            with contextlib.suppress(OSError):
                client.close()

    def _read_request(self, client: socket.socket) -> _Request:
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            chunk = client.recv(65536)
            if not chunk:
                raise _ClientGoneError
            buffer += chunk
            if len(buffer) > _MAX_HEAD and b"\r\n\r\n" not in buffer:
                raise ValueError("request head too large")
        head, _, rest = buffer.partition(b"\r\n\r\n")
        length = _content_length(head)
        while len(rest) < length:
            chunk = client.recv(65536)
            if not chunk:
                raise _ClientGoneError
            rest += chunk
        method, path, *_ = [*head.split(b"\r\n", 1)[0].decode("latin-1").split(" "), "", ""]
        return _Request(head, rest[:length], method, path)

    def _exchange(self, payload: bytes, request: _Request | None = None) -> bytes:
        """Send one request to the server on a fresh connection; its whole reply."""
        with socket.create_connection(self.upstream, timeout=_IO_TIMEOUT_S) as upstream:
            upstream.sendall(payload)
            if request is not None:
                self._fire(Stage.FORWARDED, request)
            chunks: list[bytes] = []
            while True:
                chunk = upstream.recv(65536)
                if not chunk:
                    reply = b"".join(chunks)
                    status = _status(reply)
                    if status is not None:
                        with self._lock:
                            self.stats.statuses[status] += 1
                    return reply
                chunks.append(chunk)

    def _handle(self, client: socket.socket, request: _Request) -> None:
        """Apply the next fault to one request."""
        with self._lock:
            self.recorded.append((request.method, request.path, request.upstream_bytes()))
        if self.down:
            with self._lock:
                self.stats.log.append((request.method, request.path, Fault.RESET))
            _reset(client)
            return
        fault = self._next_fault(request)
        self._fire(Stage.ARRIVED, request)
        if fault in (Fault.RESET, ExtraFault.TRUNCATE_REQUEST):
            upstream = socket.create_connection(self.upstream, timeout=_IO_TIMEOUT_S)
            try:
                upstream.sendall(request.upstream_bytes(request.body[: len(request.body) // 2]))
            finally:
                if fault is Fault.RESET:
                    _reset(upstream)
                else:
                    with contextlib.suppress(OSError):
                        upstream.shutdown(socket.SHUT_WR)
                    with contextlib.suppress(OSError):
                        upstream.close()
                _reset(client)
            return
        if fault is Fault.HOLD:
            self._hold(client)
            self._exchange(request.upstream_bytes(), request)  # delivered late; nobody reads it
            return
        reply = self._exchange(request.upstream_bytes(), request)
        if fault is Fault.DUPLICATE:
            reply = self._exchange(request.upstream_bytes())
        self._fire(Stage.REPLIED, request)
        if fault is ExtraFault.STALL_REPLY:
            self._hold(client)
            return
        if fault in (Fault.TRUNCATE, Fault.GARBLE, ExtraFault.RESET_REPLY):
            head, body = _split_reply(reply)
            cut = body[: len(body) // 2]
            if fault is Fault.GARBLE:
                head = _with_length(head, len(cut))
            client.sendall(head + b"\r\n\r\n" + cut)
            if fault is ExtraFault.RESET_REPLY:
                _reset(client)
            return
        client.sendall(reply)
        self._fire(Stage.DELIVERED, request)

    def _hold(self, client: socket.socket) -> None:
        """Wait (bounded) until the till hangs up on the held request."""
        deadline = time.monotonic() + self.hold_limit_s
        while time.monotonic() < deadline and not self._stopping.is_set():
            readable, _, _ = select.select([client], [], [], 0.05)
            if readable:
                try:
                    if not client.recv(65536):
                        return
                except OSError:
                    return
        _reset(client)


@contextmanager
def fault_proxy(upstream_url: str, *, hold_limit_s: float = 30.0) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream_url, hold_limit_s=hold_limit_s)
    try:
        yield proxy
    finally:
        proxy.close()
