"""StasisClient: sessions, history and sandboxes of a Stasis daemon (the Sessions, Sandboxes
and Health services). Results are the protobuf messages of stasis.proto."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ._proto import stasis_pb2 as pb
from ._proto import stasis_pb2_grpc as rpc
from .transport import Connection

#: Sandbox calls boot, checkpoint or restore VMs: give them longer than checkpointer calls.
SANDBOX_TIMEOUT = 600.0


def _event(event: pb.Event | Mapping[str, Any] | tuple[str, Mapping[str, Any]]) -> pb.Event:
    """An Event from a pb.Event, a (kind, data) pair, or a dict with "kind" and its fields."""
    if isinstance(event, pb.Event):
        return event
    if isinstance(event, tuple):
        kind, data = event
    else:
        data = dict(event)
        kind = data.pop("kind")
    return pb.Event(kind=kind, data_json=json.dumps(data, default=str))


class StasisClient:
    """Sessions, history and sandboxes over the same address and token as StasisSaver."""

    def __init__(
        self,
        address: str | None = None,
        *,
        token: str | None = None,
        timeout: float | None = 60.0,
        connection: Connection | None = None,
        tls_ca: str | None = None,
    ) -> None:
        if connection is None:
            if address is None:
                raise ValueError("StasisClient needs an address or a connection")
            connection = Connection(address, token=token, timeout=timeout, tls_ca=tls_ca)
        self.connection = connection

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> StasisClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, stub: type, method: str, request: Any, timeout: Any = None) -> Any:
        if timeout is None:
            return self.connection.unary(stub, method, request)
        return self.connection.unary(stub, method, request, timeout=timeout)

    async def _acall(self, stub: type, method: str, request: Any, timeout: Any = None) -> Any:
        if timeout is None:
            return await self.connection.aunary(stub, method, request)
        return await self.connection.aunary(stub, method, request, timeout=timeout)

    # ------------------------------------------------------------ health

    def health(self) -> pb.HealthCheckResponse:
        return self._call(rpc.HealthStub, "Check", pb.HealthCheckRequest())

    # ------------------------------------------------------------ sessions and history

    def create_session(self, labels: Mapping[str, str] | None = None) -> pb.Session:
        return self._call(rpc.SessionsStub, "Create", pb.CreateSessionRequest(labels=dict(labels or {})))

    def get_session(self, session: str) -> pb.Session:
        return self._call(rpc.SessionsStub, "Get", pb.GetSessionRequest(session=session))

    def list_sessions(self) -> list[pb.Session]:
        return list(self._call(rpc.SessionsStub, "List", pb.ListSessionsRequest()).sessions)

    def append(self, session: str, events: Iterable[Any]) -> pb.AppendResponse:
        """Appends events: pb.Event, (kind, data) pairs, or dicts with "kind" and the fields."""
        request = pb.AppendRequest(session=session, events=[_event(e) for e in events])
        return self._call(rpc.SessionsStub, "Append", request)

    def events(
        self, session: str, *, since: int = 0, kinds: Iterable[str] = (), last: int = 0
    ) -> Iterator[pb.Event]:
        """The session's history, oldest first."""
        request = pb.EventsRequest(session=session, since=since, kinds=list(kinds), last=last)
        return self.connection.stream(rpc.SessionsStub, "Events", request)

    def verify(self, session: str) -> pb.VerifyResponse:
        return self._call(rpc.SessionsStub, "Verify", pb.VerifyRequest(session=session))

    # ------------------------------------------------------------ sandboxes

    def run_sandbox(
        self,
        session: str = "",
        *,
        memory_bytes: int = 0,
        disk_bytes: int = 0,
        labels: Mapping[str, str] | None = None,
    ) -> pb.Sandbox:
        """Boots a sandbox for `session` ("" = a new session)."""
        request = pb.RunSandboxRequest(
            session=session, memory_bytes=memory_bytes, disk_bytes=disk_bytes, labels=dict(labels or {})
        )
        return self._call(rpc.SandboxesStub, "Run", request, SANDBOX_TIMEOUT)

    def exec(self, sandbox: str, command: str, *, timeout_seconds: float = 0) -> pb.ExecResponse:
        """Runs `command` in the guest's persistent shell (sandbox = sandbox or session id)."""
        request = pb.ExecRequest(sandbox=sandbox, command=command, timeout_seconds=timeout_seconds)
        return self._call(rpc.SandboxesStub, "Exec", request, (timeout_seconds or 600.0) + 60.0)

    def checkpoint_sandbox(self, sandbox: str, *, labels: Mapping[str, str] | None = None) -> pb.SandboxCheckpoint:
        request = pb.SandboxCheckpointRequest(sandbox=sandbox, labels=dict(labels or {}))
        return self._call(rpc.SandboxesStub, "Checkpoint", request, SANDBOX_TIMEOUT)

    async def acheckpoint_sandbox(self, sandbox: str, *, labels: Mapping[str, str] | None = None) -> pb.SandboxCheckpoint:
        request = pb.SandboxCheckpointRequest(sandbox=sandbox, labels=dict(labels or {}))
        return await self._acall(rpc.SandboxesStub, "Checkpoint", request, SANDBOX_TIMEOUT)

    def pause(self, sandbox: str) -> pb.SandboxCheckpoint:
        """Checkpoints the sandbox and stops its VM."""
        return self._call(rpc.SandboxesStub, "Pause", pb.SandboxRequest(sandbox=sandbox), SANDBOX_TIMEOUT)

    def resume(self, session: str, checkpoint: str = "") -> pb.Sandbox:
        """The session's latest (or the given) checkpoint in a fresh sandbox of the same session."""
        request = pb.ResumeRequest(session=session, checkpoint=checkpoint)
        return self._call(rpc.SandboxesStub, "Resume", request, SANDBOX_TIMEOUT)

    def restore(self, checkpoint: str) -> pb.Sandbox:
        """A checkpoint in a fresh sandbox of a new session (a fork)."""
        return self._call(rpc.SandboxesStub, "Restore", pb.RestoreRequest(checkpoint=checkpoint), SANDBOX_TIMEOUT)

    async def arestore(self, checkpoint: str) -> pb.Sandbox:
        return await self._acall(rpc.SandboxesStub, "Restore", pb.RestoreRequest(checkpoint=checkpoint), SANDBOX_TIMEOUT)

    def list_sandboxes(self) -> list[pb.Sandbox]:
        return list(self._call(rpc.SandboxesStub, "List", pb.ListSandboxesRequest()).sandboxes)

    def stop(self, sandbox: str) -> pb.StopSandboxResponse:
        return self._call(rpc.SandboxesStub, "Stop", pb.SandboxRequest(sandbox=sandbox), SANDBOX_TIMEOUT)
