"""What StasisClient returns: plain, typed, immutable dataclasses (not protobuf messages).

Names follow what a caller looks for: every object's own identifier is `id` (a sandbox's id,
a session's id, a sandbox checkpoint's id), and the session something belongs to is `session`.
The older protobuf field names stay available as read-only aliases where they differed
(`Sandbox.sandbox`, `SandboxCheckpoint.checkpoint`).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class HealthStatus(enum.IntEnum):
    """A daemon's state. An IntEnum with the protobuf's numbers, so it also compares equal to
    stasis_pb2.HealthCheckResponse.SERVING and friends."""

    UNKNOWN = 0
    SERVING = 1  # accepting calls
    DRAINING = 2  # SIGTERM received: in-flight calls finish, new ones are refused

    @classmethod
    def of(cls, number: int) -> HealthStatus:
        """The status for a protobuf number (UNKNOWN for numbers this client does not know)."""
        try:
            return cls(number)
        except ValueError:
            return cls.UNKNOWN


@dataclass(frozen=True)
class Health:
    """The daemon's answer to Health.Check; `status` is a HealthStatus (SERVING, DRAINING)."""

    status: HealthStatus
    daemon_version: str = ""
    store_path: str = ""
    store_format: int = 0
    packs: int = 0
    chunks: int = 0
    store_bytes: int = 0
    threads: int = 0
    graph_checkpoints: int = 0
    sessions: int = 0
    running_sandboxes: int = 0
    in_flight_calls: int = 0
    uptime_seconds: float = 0.0
    max_message_bytes: int = 0
    accelerator: str = ""  # what sandboxes run on: "kvm" or "tcg" ("" = not probed yet)

    @property
    def serving(self) -> bool:
        """True when the daemon accepts calls."""
        return self.status == HealthStatus.SERVING

    @classmethod
    def from_pb(cls, m: Any) -> Health:
        """From a stasis.v1.HealthCheckResponse."""
        return cls(
            status=HealthStatus.of(int(m.status)),
            daemon_version=m.daemon_version,
            store_path=m.store_path,
            store_format=m.store_format,
            packs=m.packs,
            chunks=m.chunks,
            store_bytes=m.store_bytes,
            threads=m.threads,
            graph_checkpoints=m.graph_checkpoints,
            sessions=m.sessions,
            running_sandboxes=m.running_sandboxes,
            in_flight_calls=m.in_flight_calls,
            uptime_seconds=m.uptime_seconds,
            max_message_bytes=m.max_message_bytes,
            accelerator=m.accelerator,
        )


@dataclass(frozen=True)
class Session:
    """A session: a history of events and the checkpoints of its sandboxes."""

    id: str
    labels: dict[str, str] = field(default_factory=dict)
    history_size: int = 0  # events in the history
    checkpoints: int = 0
    created_at: float = 0.0  # seconds since 1970

    @classmethod
    def from_pb(cls, m: Any) -> Session:
        """From a stasis.v1.Session."""
        return cls(
            id=m.id, labels=dict(m.labels), history_size=m.history_size,
            checkpoints=m.checkpoints, created_at=m.created_at,
        )


@dataclass(frozen=True)
class Event:
    """One event of a session's history (Formats/history.md). `data` is its fields."""

    seq: int
    kind: str
    data_json: str = "{}"
    time_ns: int = 0  # nanoseconds since 1970

    @property
    def data(self) -> dict[str, Any]:
        """The event's fields (parsed from `data_json`)."""
        parsed = json.loads(self.data_json or "{}")
        return parsed if isinstance(parsed, dict) else {"value": parsed}

    @classmethod
    def from_pb(cls, m: Any) -> Event:
        """From a stasis.v1.Event."""
        return cls(seq=m.seq, kind=m.kind, data_json=m.data_json, time_ns=m.time_ns)


@dataclass(frozen=True)
class AppendResult:
    """Where appended events went: sequence numbers first_seq <= seq < end_seq."""

    first_seq: int
    end_seq: int

    @property
    def count(self) -> int:
        """How many events were appended."""
        return self.end_seq - self.first_seq

    @classmethod
    def from_pb(cls, m: Any) -> AppendResult:
        """From a stasis.v1.AppendResponse."""
        return cls(first_seq=m.first_seq, end_seq=m.end_seq)


@dataclass(frozen=True)
class VerifyResult:
    """A history check: `ok`, the number of `events`, the Merkle `root`, and the first
    `problem` found (naming its position) when not ok."""

    ok: bool
    events: int = 0
    root: str = ""
    problem: str = ""

    @classmethod
    def from_pb(cls, m: Any) -> VerifyResult:
        """From a stasis.v1.VerifyResponse."""
        return cls(ok=m.ok, events=m.events, root=m.root, problem=m.problem)


@dataclass(frozen=True)
class SandboxNetwork:
    """A sandbox's network card: outbound TCP is refused except to `allow` (HOST:PORT as asked;
    `allowed_addresses` the addresses they resolved to), and `publish` maps guest ports to ports
    on the host's 127.0.0.1 ({guest_port: host_port})."""

    allow: tuple[str, ...] = ()
    allowed_addresses: tuple[str, ...] = ()
    publish: Mapping[int, int] = field(default_factory=dict)

    @classmethod
    def from_pb(cls, m: Any) -> SandboxNetwork:
        """From a stasis.v1.SandboxNetwork."""
        return cls(allow=tuple(m.allow), allowed_addresses=tuple(m.allowed_addresses),
                   publish={p.guest_port: p.host_port for p in m.publish})


@dataclass(frozen=True)
class Sandbox:
    """A microVM sandbox. `id` is the sandbox's id (also `sandbox`), `session` its session."""

    id: str
    session: str = ""
    directory: str = ""
    pid: int = 0  # 0 = not running
    memory_bytes: int = 0
    accelerator: str = ""  # "kvm" or "tcg"
    restored_from: str = ""  # the checkpoint it was restored from; "" = booted fresh
    restore_ms: float = 0.0
    network: SandboxNetwork | None = None  # None: no network card

    @property
    def sandbox(self) -> str:
        """The sandbox id (same as `id`)."""
        return self.id

    @property
    def running(self) -> bool:
        """True while its VM process runs."""
        return self.pid != 0

    @classmethod
    def from_pb(cls, m: Any) -> Sandbox:
        """From a stasis.v1.Sandbox."""
        return cls(
            id=m.id, session=m.session, directory=m.directory, pid=m.pid,
            memory_bytes=m.memory_bytes, accelerator=m.accelerator,
            restored_from=m.restored_from, restore_ms=m.restore_ms,
            network=SandboxNetwork.from_pb(m.network) if m.HasField("network") else None,
        )


@dataclass(frozen=True)
class SandboxCheckpoint:
    """A sandbox checkpoint. `id` is the checkpoint id (also `checkpoint`)."""

    id: str
    session: str = ""
    downtime_ms: float = 0.0  # how long the VM was paused
    durable_ms: float = 0.0  # until the checkpoint was durable
    stored_bytes: int = 0  # new bytes stored (after dedup)
    stopped: bool = False  # the VM was stopped (pause)

    @property
    def checkpoint(self) -> str:
        """The checkpoint id (same as `id`)."""
        return self.id

    @classmethod
    def from_pb(cls, m: Any) -> SandboxCheckpoint:
        """From a stasis.v1.SandboxCheckpoint."""
        return cls(
            id=m.checkpoint, session=m.session, downtime_ms=m.downtime_ms,
            durable_ms=m.durable_ms, stored_bytes=m.stored_bytes, stopped=m.stopped,
        )


@dataclass(frozen=True)
class ExecResult:
    """What a command run in a sandbox's guest did. From `exec_stream` (the last item) its
    stdout and stderr are empty: they came as ExecOutput items; the byte counts are the guest's."""

    exit_code: int
    stdout: bytes = b""
    stderr: bytes = b""
    duration_ms: float = 0.0
    timed_out: bool = False
    stdout_bytes: int = 0
    stderr_bytes: int = 0

    @property
    def ok(self) -> bool:
        """True when the command exited 0."""
        return self.exit_code == 0

    @property
    def stdout_text(self) -> str:
        """stdout decoded as UTF-8 (undecodable bytes replaced)."""
        return self.stdout.decode("utf-8", "replace")

    @property
    def stderr_text(self) -> str:
        """stderr decoded as UTF-8 (undecodable bytes replaced)."""
        return self.stderr.decode("utf-8", "replace")

    @classmethod
    def from_pb(cls, m: Any) -> ExecResult:
        """From a stasis.v1.ExecResponse."""
        return cls(exit_code=m.exit_code, stdout=m.stdout, stderr=m.stderr, duration_ms=m.duration_ms,
                   timed_out=m.timed_out, stdout_bytes=m.stdout_bytes, stderr_bytes=m.stderr_bytes)


@dataclass(frozen=True)
class ExecOutput:
    """Bytes a command wrote, as `exec_stream` yields them: `stream` is "stdout" or "stderr"."""

    stream: str
    data: bytes
