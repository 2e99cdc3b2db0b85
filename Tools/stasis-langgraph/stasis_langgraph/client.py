"""StasisClient and AsyncStasisClient: health, sessions, history and sandboxes of a Stasis daemon
(the Health, Sessions and Sandboxes services of Formats/proto/stasis.proto).

Results are the typed dataclasses of `stasis_langgraph.models` (Session, Event, AppendResult,
VerifyResult, Sandbox, SandboxCheckpoint, ExecResult, Health). Failed calls raise StasisError
subclasses (`stasis_langgraph.errors`) that name the daemon's address.

`StasisClient` has every call in a blocking form (`get_session`) and an async one with an "a"
prefix (`aget_session`), like LangGraph's savers; `AsyncStasisClient` has the async ones under
the plain names (`await client.get_session(...)`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping, Sequence
from typing import Any, Union

from ._proto import stasis_pb2 as pb
from ._proto import stasis_pb2_grpc as rpc
from .models import AppendResult, Event, ExecOutput, ExecResult, Health, Sandbox, SandboxCheckpoint, Session, VerifyResult
from .transport import DEFAULT_CONNECT_GRACE, Connection

#: Sandbox calls boot, checkpoint or restore VMs: give them longer than checkpointer calls.
SANDBOX_TIMEOUT = 600.0

#: What `append` takes per event: an Event, a (kind, fields) pair, or a dict with "kind" and
#: the fields (a protobuf stasis.v1.Event is accepted too).
EventInput = Union[Event, "tuple[str, Mapping[str, Any]]", Mapping[str, Any], Any]


def _event(event: EventInput) -> Any:
    """A stasis.v1.Event for one `append` input."""
    if isinstance(event, pb.Event):
        return event
    if isinstance(event, Event):
        return pb.Event(kind=event.kind, data_json=event.data_json, time_ns=event.time_ns)
    if isinstance(event, tuple):
        kind, data = event
        data = dict(data)
    else:
        data = dict(event)
        if "kind" not in data:
            raise ValueError(f"an event needs a 'kind': {event!r}")
        kind = data.pop("kind")
    return pb.Event(kind=str(kind), data_json=json.dumps(data, default=str))


def _exec_timeout(timeout_seconds: float) -> float:
    return (timeout_seconds or 600.0) + 60.0


#: stdin goes to the daemon in pieces of at most this many bytes (a message each).
STDIN_PIECE = 1 << 20


def _exec_request(
    sandbox: str, command: str | None, argv: Sequence[str] | None, env: Mapping[str, str] | None, cwd: str, timeout_seconds: float
) -> Any:
    """A stasis.v1.ExecRequest; exactly one of `command` and `argv`."""
    if (command is None) == (argv is None):
        raise ValueError("give exactly one of command (a shell line) and argv (the program and its arguments)")
    if isinstance(argv, (str, bytes)):
        raise TypeError("argv is a list of strings (the program, then its arguments), not one string: use command= for a shell line")
    request = pb.ExecRequest(sandbox=sandbox, timeout_seconds=timeout_seconds, cwd=cwd, env=dict(env or {}))
    if command is not None:
        request.command = command
    else:
        request.argv.extend(list(argv or []))
    return request


def _stdin_chunks(stdin: bytes | Iterable[bytes]) -> Iterator[bytes]:
    """stdin as the pieces sent: bytes cut to STDIN_PIECE, an iterable's items likewise."""
    items = [stdin] if isinstance(stdin, (bytes, bytearray, memoryview)) else stdin
    for item in items:
        data = bytes(item)
        for at in range(0, len(data), STDIN_PIECE):
            yield data[at:at + STDIN_PIECE]


def _exec_item(message: Any) -> ExecOutput | ExecResult | None:
    """What one stasis.v1.ExecStreamResponse carries for the caller."""
    which = message.WhichOneof("message")
    if which == "stdout":
        return ExecOutput("stdout", message.stdout)
    if which == "stderr":
        return ExecOutput("stderr", message.stderr)
    if which == "exit":
        return ExecResult.from_pb(message.exit)
    return None


class StasisClient:
    """Sessions, history and sandboxes over the same address and token as StasisSaver.

    `address` is "unix:///path/to/stasis.sock" (or the path) or "host:port" (TCP: `token`,
    default $STASIS_TOKEN, and `tls_ca`, default $STASIS_TLS_CA). `timeout` bounds each call
    (sandbox calls get SANDBOX_TIMEOUT); `connect_grace` is how long a call waits for a daemon
    that is not reachable (restarting) before it raises UnavailableError. Or pass an existing
    `connection` (a StasisSaver's client shares the saver's).
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        token: str | None = None,
        timeout: float | None = 60.0,
        connection: Connection | None = None,
        tls_ca: str | None = None,
        connect_grace: float = DEFAULT_CONNECT_GRACE,
    ) -> None:
        if connection is None:
            if address is None:
                raise ValueError("StasisClient needs an address or a connection")
            connection = Connection(
                address, token=token, timeout=timeout, tls_ca=tls_ca, connect_grace=connect_grace
            )
        self.connection = connection

    @property
    def address(self) -> str:
        """The daemon's address, as given."""
        return self.connection.address

    def close(self) -> None:
        """Closes the channels (a shared connection is closed for its other users too)."""
        self.connection.close()

    async def aclose(self) -> None:
        """Closes the channels, the running loop's gracefully."""
        await self.connection.aclose()

    def __enter__(self) -> StasisClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> StasisClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _call(self, stub: type, method: str, request: Any, timeout: float | None = None) -> Any:
        if timeout is None:
            return self.connection.unary(stub, method, request)
        return self.connection.unary(stub, method, request, timeout=timeout)

    async def _acall(self, stub: type, method: str, request: Any, timeout: float | None = None) -> Any:
        if timeout is None:
            return await self.connection.aunary(stub, method, request)
        return await self.connection.aunary(stub, method, request, timeout=timeout)

    # ------------------------------------------------------------ health

    def health(self) -> Health:
        """The daemon's state: serving or draining, its store, counts, version."""
        return Health.from_pb(self._call(rpc.HealthStub, "Check", pb.HealthCheckRequest()))

    async def ahealth(self) -> Health:
        """Async `health`."""
        return Health.from_pb(await self._acall(rpc.HealthStub, "Check", pb.HealthCheckRequest()))

    # ------------------------------------------------------------ sessions and history

    def create_session(self, labels: Mapping[str, str] | None = None) -> Session:
        """Creates a session with these labels."""
        request = pb.CreateSessionRequest(labels=dict(labels or {}))
        return Session.from_pb(self._call(rpc.SessionsStub, "Create", request))

    async def acreate_session(self, labels: Mapping[str, str] | None = None) -> Session:
        """Async `create_session`."""
        request = pb.CreateSessionRequest(labels=dict(labels or {}))
        return Session.from_pb(await self._acall(rpc.SessionsStub, "Create", request))

    def get_session(self, session: str) -> Session:
        """The session with this id (or unique id prefix); NotFoundError if there is none."""
        return Session.from_pb(self._call(rpc.SessionsStub, "Get", pb.GetSessionRequest(session=session)))

    async def aget_session(self, session: str) -> Session:
        """Async `get_session`."""
        return Session.from_pb(await self._acall(rpc.SessionsStub, "Get", pb.GetSessionRequest(session=session)))

    def list_sessions(self) -> list[Session]:
        """Every session of the store."""
        answer = self._call(rpc.SessionsStub, "List", pb.ListSessionsRequest())
        return [Session.from_pb(s) for s in answer.sessions]

    async def alist_sessions(self) -> list[Session]:
        """Async `list_sessions`."""
        answer = await self._acall(rpc.SessionsStub, "List", pb.ListSessionsRequest())
        return [Session.from_pb(s) for s in answer.sessions]

    def append(self, session: str, events: Iterable[EventInput]) -> AppendResult:
        """Appends events to the session's history, all or none: Event objects, (kind, fields)
        pairs, or dicts with "kind" and the fields. Not repeated if the connection breaks
        mid-call (an append is not idempotent)."""
        request = pb.AppendRequest(session=session, events=[_event(e) for e in events])
        return AppendResult.from_pb(self._call(rpc.SessionsStub, "Append", request))

    async def aappend(self, session: str, events: Iterable[EventInput]) -> AppendResult:
        """Async `append`."""
        request = pb.AppendRequest(session=session, events=[_event(e) for e in events])
        return AppendResult.from_pb(await self._acall(rpc.SessionsStub, "Append", request))

    @staticmethod
    def _events_request(session: str, since: int, kinds: Iterable[str], last: int) -> Any:
        return pb.EventsRequest(session=session, since=since, kinds=list(kinds), last=last)

    def events(
        self, session: str, *, since: int = 0, kinds: Iterable[str] = (), last: int = 0
    ) -> Iterator[Event]:
        """The session's history, oldest first: from seq `since`, only `kinds` (all if empty),
        only the `last` N (all if 0)."""
        request = self._events_request(session, since, kinds, last)
        for message in self.connection.stream(rpc.SessionsStub, "Events", request):
            yield Event.from_pb(message)

    async def aevents(
        self, session: str, *, since: int = 0, kinds: Iterable[str] = (), last: int = 0
    ) -> AsyncIterator[Event]:
        """Async `events`."""
        request = self._events_request(session, since, kinds, last)
        async for message in self.connection.astream(rpc.SessionsStub, "Events", request):
            yield Event.from_pb(message)

    def verify(self, session: str) -> VerifyResult:
        """Checks the session's hash chain and Merkle tree against its signed heads."""
        return VerifyResult.from_pb(self._call(rpc.SessionsStub, "Verify", pb.VerifyRequest(session=session)))

    async def averify(self, session: str) -> VerifyResult:
        """Async `verify`."""
        return VerifyResult.from_pb(await self._acall(rpc.SessionsStub, "Verify", pb.VerifyRequest(session=session)))

    # ------------------------------------------------------------ sandboxes

    @staticmethod
    def _run_request(
        session: str, memory_bytes: int, disk_bytes: int, labels: Mapping[str, str] | None, template: str, cpus: int,
        network: bool, allow: Sequence[str], publish: Sequence[str | int],
    ) -> Any:
        for name, values in (("allow", allow), ("publish", publish)):
            if isinstance(values, (str, bytes)):
                raise TypeError(f"{name} is a list of values, not one string: {name}=[{values!r}]")
        return pb.RunSandboxRequest(
            session=session, memory_bytes=memory_bytes, disk_bytes=disk_bytes, labels=dict(labels or {}), template=template,
            cpus=cpus, network=network, allow=list(allow), publish=[str(p) for p in publish],
        )

    def run_sandbox(
        self,
        session: str = "",
        *,
        memory_bytes: int = 0,
        disk_bytes: int = 0,
        labels: Mapping[str, str] | None = None,
        template: str = "",
        cpus: int = 0,
        network: bool = False,
        allow: Sequence[str] = (),
        publish: Sequence[str | int] = (),
    ) -> Sandbox:
        """Boots a sandbox for `session` ("" = a new session) from `template` ("" = the built-in
        guest); memory, disk and cpus 0 = the daemon's defaults (256 MiB, 1 GiB or the
        template's, 1). `network` gives it a network card with every outbound connection refused;
        `allow` opens "HOST:PORT" destinations and `publish` forwards "[HOSTPORT:]GUESTPORT" from
        the host's 127.0.0.1 (both imply `network`; the chosen host ports are in
        `Sandbox.network.publish`)."""
        request = self._run_request(session, memory_bytes, disk_bytes, labels, template, cpus, network, allow, publish)
        return Sandbox.from_pb(self._call(rpc.SandboxesStub, "Run", request, SANDBOX_TIMEOUT))

    async def arun_sandbox(
        self,
        session: str = "",
        *,
        memory_bytes: int = 0,
        disk_bytes: int = 0,
        labels: Mapping[str, str] | None = None,
        template: str = "",
        cpus: int = 0,
        network: bool = False,
        allow: Sequence[str] = (),
        publish: Sequence[str | int] = (),
    ) -> Sandbox:
        """Async `run_sandbox`."""
        request = self._run_request(session, memory_bytes, disk_bytes, labels, template, cpus, network, allow, publish)
        return Sandbox.from_pb(await self._acall(rpc.SandboxesStub, "Run", request, SANDBOX_TIMEOUT))

    def exec(
        self,
        sandbox: str,
        command: str | None = None,
        *,
        argv: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str = "",
        stdin: bytes = b"",
        timeout_seconds: float = 0,
    ) -> ExecResult:
        """Runs a command in the guest (`sandbox` = sandbox or session id) and returns its whole
        output. Give `argv` (the program and its arguments, passed exactly: no expansion in the
        guest) or `command` (a line for the guest's persistent shell, whose `cd` and variables
        last). `env` and `cwd` apply to this command only; `stdin` is fed to it;
        `timeout_seconds` 0 = 600, after which the guest ends it (exit 124, `timed_out`).
        Recorded in the session's history."""
        request = _exec_request(sandbox, command, argv, env, cwd, timeout_seconds)
        request.stdin = stdin
        return ExecResult.from_pb(self._call(rpc.SandboxesStub, "Exec", request, _exec_timeout(timeout_seconds)))

    async def aexec(
        self,
        sandbox: str,
        command: str | None = None,
        *,
        argv: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str = "",
        stdin: bytes = b"",
        timeout_seconds: float = 0,
    ) -> ExecResult:
        """Async `exec`."""
        request = _exec_request(sandbox, command, argv, env, cwd, timeout_seconds)
        request.stdin = stdin
        return ExecResult.from_pb(await self._acall(rpc.SandboxesStub, "Exec", request, _exec_timeout(timeout_seconds)))

    def exec_stream(
        self,
        sandbox: str,
        command: str | None = None,
        *,
        argv: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str = "",
        stdin: bytes | Iterable[bytes] | None = None,
        timeout_seconds: float = 0,
    ) -> Iterator[ExecOutput | ExecResult]:
        """`exec` with the output as it comes: yields ExecOutput("stdout"|"stderr", bytes) while
        the command runs, and last its ExecResult (exit code, duration, byte counts). `stdin`
        (bytes, or an iterable of bytes read while the command runs) is fed to it and then
        closed; None: no stdin. The call is never repeated: a failure raises StasisError."""
        start = _exec_request(sandbox, command, argv, env, cwd, timeout_seconds)
        start.stdin_stream = stdin is not None

        def requests() -> Iterator[Any]:
            yield pb.ExecStreamRequest(start=start)
            if stdin is None:
                return
            for chunk in _stdin_chunks(stdin):
                yield pb.ExecStreamRequest(stdin=chunk)
            yield pb.ExecStreamRequest(stdin_closed=True)

        for message in self.connection.duplex(rpc.SandboxesStub, "ExecStream", requests(), _exec_timeout(timeout_seconds)):
            item = _exec_item(message)
            if item is not None:
                yield item

    async def aexec_stream(
        self,
        sandbox: str,
        command: str | None = None,
        *,
        argv: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str = "",
        stdin: bytes | Iterable[bytes] | AsyncIterable[bytes] | None = None,
        timeout_seconds: float = 0,
    ) -> AsyncIterator[ExecOutput | ExecResult]:
        """Async `exec_stream` (stdin may also be an async iterable)."""
        start = _exec_request(sandbox, command, argv, env, cwd, timeout_seconds)
        start.stdin_stream = stdin is not None

        async def requests() -> AsyncIterator[Any]:
            yield pb.ExecStreamRequest(start=start)
            if stdin is None:
                return
            if isinstance(stdin, AsyncIterable):
                async for chunk in stdin:
                    for piece in _stdin_chunks(chunk):
                        yield pb.ExecStreamRequest(stdin=piece)
            else:
                for piece in _stdin_chunks(stdin):
                    yield pb.ExecStreamRequest(stdin=piece)
            yield pb.ExecStreamRequest(stdin_closed=True)

        async for message in self.connection.aduplex(rpc.SandboxesStub, "ExecStream", requests(), _exec_timeout(timeout_seconds)):
            item = _exec_item(message)
            if item is not None:
                yield item

    def checkpoint_sandbox(self, sandbox: str, *, labels: Mapping[str, str] | None = None) -> SandboxCheckpoint:
        """Checkpoints a running sandbox (one short pause) and lets it run on."""
        request = pb.SandboxCheckpointRequest(sandbox=sandbox, labels=dict(labels or {}))
        return SandboxCheckpoint.from_pb(self._call(rpc.SandboxesStub, "Checkpoint", request, SANDBOX_TIMEOUT))

    async def acheckpoint_sandbox(self, sandbox: str, *, labels: Mapping[str, str] | None = None) -> SandboxCheckpoint:
        """Async `checkpoint_sandbox`."""
        request = pb.SandboxCheckpointRequest(sandbox=sandbox, labels=dict(labels or {}))
        return SandboxCheckpoint.from_pb(await self._acall(rpc.SandboxesStub, "Checkpoint", request, SANDBOX_TIMEOUT))

    def pause(self, sandbox: str) -> SandboxCheckpoint:
        """Checkpoints the sandbox and stops its VM."""
        answer = self._call(rpc.SandboxesStub, "Pause", pb.SandboxRequest(sandbox=sandbox), SANDBOX_TIMEOUT)
        return SandboxCheckpoint.from_pb(answer)

    async def apause(self, sandbox: str) -> SandboxCheckpoint:
        """Async `pause`."""
        answer = await self._acall(rpc.SandboxesStub, "Pause", pb.SandboxRequest(sandbox=sandbox), SANDBOX_TIMEOUT)
        return SandboxCheckpoint.from_pb(answer)

    def resume(self, session: str, checkpoint: str = "", *, eager: bool = False) -> Sandbox:
        """The session's latest (or the given) checkpoint in a fresh sandbox of the same session.
        Memory is served lazily, on first touch, unless `eager` (all of it written first)."""
        request = pb.ResumeRequest(session=session, checkpoint=checkpoint, eager=eager)
        return Sandbox.from_pb(self._call(rpc.SandboxesStub, "Resume", request, SANDBOX_TIMEOUT))

    async def aresume(self, session: str, checkpoint: str = "", *, eager: bool = False) -> Sandbox:
        """Async `resume`."""
        request = pb.ResumeRequest(session=session, checkpoint=checkpoint, eager=eager)
        return Sandbox.from_pb(await self._acall(rpc.SandboxesStub, "Resume", request, SANDBOX_TIMEOUT))

    def restore(self, checkpoint: str, *, eager: bool = False) -> Sandbox:
        """A checkpoint in a fresh sandbox of a new session (a fork); `eager` as for `resume`."""
        request = pb.RestoreRequest(checkpoint=checkpoint, eager=eager)
        return Sandbox.from_pb(self._call(rpc.SandboxesStub, "Restore", request, SANDBOX_TIMEOUT))

    async def arestore(self, checkpoint: str, *, eager: bool = False) -> Sandbox:
        """Async `restore`."""
        request = pb.RestoreRequest(checkpoint=checkpoint, eager=eager)
        return Sandbox.from_pb(await self._acall(rpc.SandboxesStub, "Restore", request, SANDBOX_TIMEOUT))

    def list_sandboxes(self) -> list[Sandbox]:
        """The daemon's sandboxes."""
        answer = self._call(rpc.SandboxesStub, "List", pb.ListSandboxesRequest())
        return [Sandbox.from_pb(s) for s in answer.sandboxes]

    async def alist_sandboxes(self) -> list[Sandbox]:
        """Async `list_sandboxes`."""
        answer = await self._acall(rpc.SandboxesStub, "List", pb.ListSandboxesRequest())
        return [Sandbox.from_pb(s) for s in answer.sandboxes]

    def stop(self, sandbox: str) -> str:
        """Stops the sandbox's VM (without a checkpoint); returns the stopped sandbox's id."""
        answer = self._call(rpc.SandboxesStub, "Stop", pb.SandboxRequest(sandbox=sandbox), SANDBOX_TIMEOUT)
        return str(answer.sandbox)

    async def astop(self, sandbox: str) -> str:
        """Async `stop`."""
        answer = await self._acall(rpc.SandboxesStub, "Stop", pb.SandboxRequest(sandbox=sandbox), SANDBOX_TIMEOUT)
        return str(answer.sandbox)


class AsyncStasisClient:
    """StasisClient's async calls under plain names: `await client.get_session(id)`.

    Takes the same arguments as StasisClient (or `client=` an existing StasisClient, whose
    connection it shares). Use it from one or more event loops; each loop gets its own channel.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        token: str | None = None,
        timeout: float | None = 60.0,
        connection: Connection | None = None,
        tls_ca: str | None = None,
        connect_grace: float = DEFAULT_CONNECT_GRACE,
        client: StasisClient | None = None,
    ) -> None:
        self.sync = client or StasisClient(
            address, token=token, timeout=timeout, connection=connection, tls_ca=tls_ca, connect_grace=connect_grace
        )

    @property
    def address(self) -> str:
        """The daemon's address, as given."""
        return self.sync.address

    @property
    def connection(self) -> Connection:
        """The connection (shared with `sync`)."""
        return self.sync.connection

    async def close(self) -> None:
        """Closes the channels, the running loop's gracefully."""
        await self.sync.aclose()

    async def __aenter__(self) -> AsyncStasisClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def health(self) -> Health:
        """The daemon's state: serving or draining, its store, counts, version."""
        return await self.sync.ahealth()

    async def create_session(self, labels: Mapping[str, str] | None = None) -> Session:
        """Creates a session with these labels."""
        return await self.sync.acreate_session(labels)

    async def get_session(self, session: str) -> Session:
        """The session with this id (or unique id prefix); NotFoundError if there is none."""
        return await self.sync.aget_session(session)

    async def list_sessions(self) -> list[Session]:
        """Every session of the store."""
        return await self.sync.alist_sessions()

    async def append(self, session: str, events: Iterable[EventInput]) -> AppendResult:
        """Appends events to the session's history, all or none (see StasisClient.append)."""
        return await self.sync.aappend(session, events)

    def events(
        self, session: str, *, since: int = 0, kinds: Iterable[str] = (), last: int = 0
    ) -> AsyncIterator[Event]:
        """The session's history, oldest first (`async for event in client.events(id)`)."""
        return self.sync.aevents(session, since=since, kinds=kinds, last=last)

    async def verify(self, session: str) -> VerifyResult:
        """Checks the session's hash chain and Merkle tree against its signed heads."""
        return await self.sync.averify(session)

    async def run_sandbox(
        self,
        session: str = "",
        *,
        memory_bytes: int = 0,
        disk_bytes: int = 0,
        labels: Mapping[str, str] | None = None,
        template: str = "",
        cpus: int = 0,
        network: bool = False,
        allow: Sequence[str] = (),
        publish: Sequence[str | int] = (),
    ) -> Sandbox:
        """Boots a sandbox for `session` ("" = a new session); see StasisClient.run_sandbox."""
        return await self.sync.arun_sandbox(session, memory_bytes=memory_bytes, disk_bytes=disk_bytes, labels=labels, template=template,
                                            cpus=cpus, network=network, allow=allow, publish=publish)

    async def exec(
        self,
        sandbox: str,
        command: str | None = None,
        *,
        argv: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str = "",
        stdin: bytes = b"",
        timeout_seconds: float = 0,
    ) -> ExecResult:
        """Runs a command in the guest and returns its whole output (see StasisClient.exec)."""
        return await self.sync.aexec(sandbox, command, argv=argv, env=env, cwd=cwd, stdin=stdin, timeout_seconds=timeout_seconds)

    def exec_stream(
        self,
        sandbox: str,
        command: str | None = None,
        *,
        argv: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str = "",
        stdin: bytes | Iterable[bytes] | AsyncIterable[bytes] | None = None,
        timeout_seconds: float = 0,
    ) -> AsyncIterator[ExecOutput | ExecResult]:
        """Output as it comes, then the ExecResult (see StasisClient.exec_stream)."""
        return self.sync.aexec_stream(sandbox, command, argv=argv, env=env, cwd=cwd, stdin=stdin, timeout_seconds=timeout_seconds)

    async def checkpoint_sandbox(self, sandbox: str, *, labels: Mapping[str, str] | None = None) -> SandboxCheckpoint:
        """Checkpoints a running sandbox and lets it run on."""
        return await self.sync.acheckpoint_sandbox(sandbox, labels=labels)

    async def pause(self, sandbox: str) -> SandboxCheckpoint:
        """Checkpoints the sandbox and stops its VM."""
        return await self.sync.apause(sandbox)

    async def resume(self, session: str, checkpoint: str = "", *, eager: bool = False) -> Sandbox:
        """The session's latest (or the given) checkpoint in a fresh sandbox of the same session."""
        return await self.sync.aresume(session, checkpoint, eager=eager)

    async def restore(self, checkpoint: str, *, eager: bool = False) -> Sandbox:
        """A checkpoint in a fresh sandbox of a new session (a fork)."""
        return await self.sync.arestore(checkpoint, eager=eager)

    async def list_sandboxes(self) -> list[Sandbox]:
        """The daemon's sandboxes."""
        return await self.sync.alist_sandboxes()

    async def stop(self, sandbox: str) -> str:
        """Stops the sandbox's VM; returns its id."""
        return await self.sync.astop(sandbox)
