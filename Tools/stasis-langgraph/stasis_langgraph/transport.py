"""One connection to a Stasis daemon: a sync gRPC channel plus one grpc.aio channel per event loop.

A grpc.aio channel belongs to the event loop that created it, so async calls look up (or open)
the channel of the loop they run on; channels of loops that have since closed are dropped.

Calls fail fast: when nothing answers at the address (no socket file, a stale socket of a daemon
that is gone, a refused TCP port) a call raises `UnavailableError` naming the address, the cause
and how to start a daemon, after waiting at most `connect_grace` seconds for a daemon that is
restarting to come back. A call that never reached the daemon is repeated once it is back; a
call cut off mid-way is repeated only when repeating it is harmless (see `_NOT_IDEMPOTENT`).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Optional, cast

import grpc
import grpc.aio

from .errors import StasisError, UnavailableError, error_for, from_rpc_error
from .pipeline import Pipeline, PipelineBroken

#: Largest message sent or accepted (the daemon has its own limit, --max-message-bytes).
MAX_MESSAGE_BYTES = 64 * 1024 * 1024

#: Default seconds a call waits for a daemon that is not reachable to come (back) up.
DEFAULT_CONNECT_GRACE = 0.5

_CHANNEL_OPTIONS = (
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    # While the daemon is away the channel tries again every 50-250 ms, so a restarted daemon
    # is found within a fraction of a second (and within any connect_grace).
    ("grpc.initial_reconnect_backoff_ms", 50),
    ("grpc.min_reconnect_backoff_ms", 50),
    ("grpc.max_reconnect_backoff_ms", 250),
)

#: Calls that must not be repeated when the connection broke after they were sent: the daemon
#: may have done them already. (Checkpointer puts, writes, reads and deletes are idempotent.)
_NOT_IDEMPOTENT = frozenset({
    "Sessions.Create",
    "Sessions.Append",
    "Checkpointer.CopyThread",
    "Sandboxes.Run",
    "Sandboxes.Exec",
    "Sandboxes.Checkpoint",
    "Sandboxes.Pause",
    "Sandboxes.Resume",
    "Sandboxes.Restore",
    "Sandboxes.Stop",
})

#: "Use the connection's own timeout" (None means no deadline at all).
DEFAULT: Any = object()


def normalize_address(address: str) -> str:
    """A gRPC target for `address`: "unix:///path", "/path" (a Unix socket) or "host:port"."""
    address = address.strip()
    if not address:
        raise ValueError("empty Stasis daemon address: give 'unix:///path/to/stasis.sock' or 'host:port'")
    if address.startswith("/"):
        return "unix://" + address
    return address


def _method_name(stub_cls: type, method: str) -> str:
    service = stub_cls.__name__.removesuffix("Stub")
    return f"{service}.{method}"


def _not_sent(error: grpc.RpcError) -> bool:
    """True when the call failed because no connection could be made (so it never reached a
    daemon): gRPC's pick_first policy says "failed to connect to all addresses"."""
    try:
        code, details = error.code(), error.details() or ""
    except Exception:
        return False
    return code == grpc.StatusCode.UNAVAILABLE and "failed to connect" in details


def _unix_path(target: str) -> str | None:
    if target.startswith("unix://"):
        return target[len("unix://"):]
    if target.startswith("unix:"):
        return target[len("unix:"):]
    return None


class Connection:
    """Address, token and channels for talking to one daemon.

    `timeout` bounds each unary call (None: no deadline), `stream_timeout` each stream.
    `connect_grace` is how long a call waits for an unreachable daemon to come (back) up before
    it raises `UnavailableError`; a restart of the daemon between (or during) calls that is
    over within it goes unnoticed. `wait_for_ready=True` restores the old behaviour of waiting
    up to `timeout` instead.
    """

    def __init__(
        self,
        address: str,
        *,
        token: str | None = None,
        timeout: float | None = 60.0,
        stream_timeout: float | None = 600.0,
        wait_for_ready: bool = False,
        tls_ca: str | None = None,
        pipelining: bool = True,
        connect_grace: float = DEFAULT_CONNECT_GRACE,
    ) -> None:
        if connect_grace < 0:
            raise ValueError(f"connect_grace must be >= 0 seconds, not {connect_grace!r}")
        self.address = address
        self.target = normalize_address(address)
        # TLS on TCP: the PEM file of the CA (or self-signed certificate) the daemon's
        # --tls-cert chains to ($STASIS_TLS_CA when not given).
        tls_ca = tls_ca or os.environ.get("STASIS_TLS_CA") or None
        self._credentials: grpc.ChannelCredentials | None = None
        if tls_ca is not None and not self.target_is_unix(self.target):
            with open(tls_ca, "rb") as f:
                self._credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
        if token is None:
            token = os.environ.get("STASIS_TOKEN") or None
        self._metadata: tuple[tuple[str, str], ...] | None = (
            (("authorization", f"Bearer {token}"),) if token else None
        )
        self.timeout = timeout
        self.stream_timeout = stream_timeout
        self.connect_grace = float(connect_grace)
        #: Async checkpointer calls go over one stream per event loop (see pipeline.py).
        self.pipelining = pipelining
        self._pipelines: dict[asyncio.AbstractEventLoop, Pipeline] = {}
        self.wait_for_ready = wait_for_ready
        self._lock = threading.Lock()
        self._channel: grpc.Channel | None = None
        self._stubs: dict[type, Any] = {}
        self._aio: dict[asyncio.AbstractEventLoop, tuple[grpc.aio.Channel, dict[type, Any]]] = {}
        self._closed = False

    # ------------------------------------------------------------ channels

    @staticmethod
    def target_is_unix(target: str) -> bool:
        """True for a Unix socket target ("unix:...")."""
        return target.startswith("unix:")

    def _open(self, module: Any) -> Any:
        if self._credentials is not None:
            return module.secure_channel(self.target, self._credentials, options=_CHANNEL_OPTIONS)
        return module.insecure_channel(self.target, options=_CHANNEL_OPTIONS)

    def _closed_error(self) -> RuntimeError:
        return RuntimeError(f"the connection to the Stasis daemon at {self.address} is closed")

    def _sync_channel(self) -> grpc.Channel:
        with self._lock:
            if self._closed:
                raise self._closed_error()
            if self._channel is None:
                self._channel = self._open(grpc)
            return self._channel

    def stub(self, stub_cls: type) -> Any:
        """The blocking stub of `stub_cls` on the sync channel (opened when needed)."""
        channel = self._sync_channel()
        with self._lock:
            stub = self._stubs.get(stub_cls)
            if stub is None:
                stub = self._stubs[stub_cls] = stub_cls(channel)
            return stub

    def astub(self, stub_cls: type) -> Any:
        """The async stub of `stub_cls` on the running loop's grpc.aio channel."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._closed:
                raise self._closed_error()
            for old in [lp for lp in self._aio if lp.is_closed()]:
                del self._aio[old]
                self._pipelines.pop(old, None)
            entry = self._aio.get(loop)
            if entry is None:
                channel = self._open(grpc.aio)
                entry = self._aio[loop] = (channel, {})
            channel, stubs = entry
            stub = stubs.get(stub_cls)
            if stub is None:
                stub = stubs[stub_cls] = stub_cls(channel)
            return stub

    def _aio_channel(self) -> grpc.aio.Channel:
        """The running loop's async channel (opened by astub when needed)."""
        from ._proto import stasis_pb2_grpc as rpc

        self.astub(rpc.HealthStub)
        with self._lock:
            return self._aio[asyncio.get_running_loop()][0]

    def close(self) -> None:
        """Closes the sync channel and forgets the async ones (each closes when collected)."""
        with self._lock:
            self._closed = True
            channel, self._channel = self._channel, None
            self._stubs.clear()
            self._aio.clear()
            pipelines, self._pipelines = list(self._pipelines.values()), {}
        for pipeline in pipelines:
            pipeline.close()
        if channel is not None:
            channel.close()

    async def aclose(self) -> None:
        """Closes every channel; the current loop's async channel is closed gracefully."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._aio.pop(loop, None)
        if entry is not None:
            await entry[0].close()
        self.close()

    # ------------------------------------------------------------ errors

    def unreachable_details(self, raw: str, waited: float) -> str:
        """What UnavailableError says when no connection could be made: the address, the
        likely cause, and how to start a daemon."""
        path = _unix_path(self.target)
        if path is not None:
            if not os.path.exists(path):
                cause = f"the socket file {path} does not exist (no daemon was started for this store, or it stopped)"
            else:
                cause = (
                    f"nothing accepts connections on the socket {path} "
                    "(its daemon exited or was killed; a new daemon replaces the socket)"
                )
            store = os.path.dirname(path) or "DIR"
            hint = (
                f"start one with `stasis serve --store {store}` (it listens on STORE/stasis.sock), "
                "or use StasisSaver.from_store(STORE), which starts one"
            )
        else:
            cause = f"nothing answers at {self.target} (connection refused or host unreachable)"
            hint = (
                f"start one with `stasis serve --store DIR --listen {self.target} --token-file FILE`, "
                "or connect to its Unix socket DIR/stasis.sock"
            )
        waited_text = f" (waited {waited:.1f} s, connect_grace)" if waited > 0 else ""
        return f"no Stasis daemon at {self.address}: {cause}{waited_text}; {hint}. gRPC: {raw}"

    def error(self, error: grpc.RpcError, method: str, waited: float = 0.0) -> StasisError:
        """The StasisError for a failed call: its gRPC status, and always the address."""
        if _not_sent(error):
            return UnavailableError(
                grpc.StatusCode.UNAVAILABLE, self.unreachable_details(error.details() or "", waited),
                method, self.address,
            )
        converted = from_rpc_error(error, method, self.address)
        if converted.code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return error_for(
                converted.code, f"no answer from the Stasis daemon at {self.address} in time ({converted.details})",
                method, self.address,
            )
        if converted.code == grpc.StatusCode.UNAVAILABLE and method in _NOT_IDEMPOTENT:
            return UnavailableError(
                converted.code,
                f"the connection to the Stasis daemon at {self.address} broke during the call, which may "
                f"or may not have taken effect (it is not repeated: repeating it is not harmless): {converted.details}",
                method, self.address,
            )
        return converted

    def _may_retry(self, error: grpc.RpcError, method: str, wait_for_ready: bool) -> bool:
        if wait_for_ready or self.connect_grace <= 0:
            return False
        if _not_sent(error):
            return True
        try:
            code = error.code()
        except Exception:
            return False
        return code == grpc.StatusCode.UNAVAILABLE and method not in _NOT_IDEMPOTENT

    def _wait_ready(self, deadline: float) -> bool:
        """Waits until the sync channel is connected or `deadline` passes; True if connected."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            grpc.channel_ready_future(self._sync_channel()).result(timeout=remaining)
        except grpc.FutureTimeoutError:
            return False
        # A draining daemon is connected but refuses calls: do not spin on it.
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        return True

    async def _await_ready(self, deadline: float) -> bool:
        """Async _wait_ready on the running loop's channel."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            await asyncio.wait_for(self._aio_channel().channel_ready(), remaining)
        except asyncio.TimeoutError:
            return False
        await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        return True

    # ------------------------------------------------------------ calls

    def _kwargs(self, timeout: float | None, wait_for_ready: bool) -> dict[str, Any]:
        return {"timeout": timeout, "metadata": self._metadata, "wait_for_ready": wait_for_ready}

    def unary(
        self,
        stub_cls: type,
        method: str,
        request: Any,
        *,
        timeout: float | None | object = DEFAULT,
        wait_for_ready: bool | None = None,
    ) -> Any:
        """One unary call; raises StasisError (see the module doc for unreachable daemons)."""
        name = _method_name(stub_cls, method)
        t = cast(Optional[float], self.timeout if timeout is DEFAULT else timeout)
        wfr = self.wait_for_ready if wait_for_ready is None else wait_for_ready
        deadline: float | None = None
        while True:
            fn = getattr(self.stub(stub_cls), method)
            try:
                return fn(request, **self._kwargs(t, wfr))
            except grpc.RpcError as error:
                if deadline is None:
                    deadline = time.monotonic() + self.connect_grace
                if self._may_retry(error, name, wfr) and self._wait_ready(deadline):
                    continue
                raise self.error(error, name, self.connect_grace) from error

    def stream(self, stub_cls: type, method: str, request: Any) -> Iterator[Any]:
        """A server stream; repeated (within connect_grace) only if nothing was received yet."""
        name = _method_name(stub_cls, method)
        deadline: float | None = None
        received = False
        while True:
            fn = getattr(self.stub(stub_cls), method)
            call = fn(request, **self._kwargs(self.stream_timeout, self.wait_for_ready))
            try:
                for message in call:
                    received = True
                    yield message
                return
            except grpc.RpcError as error:
                if deadline is None:
                    deadline = time.monotonic() + self.connect_grace
                if not received and self._may_retry(error, name, self.wait_for_ready) and self._wait_ready(deadline):
                    continue
                raise self.error(error, name, self.connect_grace) from error
            finally:
                call.cancel()

    def duplex(self, stub_cls: type, method: str, requests: Iterator[Any], timeout: float | None) -> Iterator[Any]:
        """A bidirectional stream, tried once: its requests are consumed as they are sent, and
        the call may have acted (an exec ran), so it is never repeated."""
        name = _method_name(stub_cls, method)
        call = getattr(self.stub(stub_cls), method)(requests, **self._kwargs(timeout, self.wait_for_ready))
        try:
            yield from call
        except grpc.RpcError as error:
            raise self.error(error, name) from error
        finally:
            call.cancel()

    async def aduplex(self, stub_cls: type, method: str, requests: AsyncIterator[Any], timeout: float | None) -> AsyncIterator[Any]:
        """Async `duplex`."""
        name = _method_name(stub_cls, method)
        call = getattr(self.astub(stub_cls), method)(requests, **self._kwargs(timeout, self.wait_for_ready))
        try:
            async for message in call:
                yield message
        except grpc.RpcError as error:
            raise self.error(error, name) from error
        finally:
            call.cancel()

    async def aunary(
        self,
        stub_cls: type,
        method: str,
        request: Any,
        *,
        timeout: float | None | object = DEFAULT,
        wait_for_ready: bool | None = None,
    ) -> Any:
        """Async `unary`, on the running loop's channel."""
        name = _method_name(stub_cls, method)
        t = cast(Optional[float], self.timeout if timeout is DEFAULT else timeout)
        wfr = self.wait_for_ready if wait_for_ready is None else wait_for_ready
        deadline: float | None = None
        while True:
            fn = getattr(self.astub(stub_cls), method)
            try:
                return await fn(request, **self._kwargs(t, wfr))
            except grpc.RpcError as error:
                if deadline is None:
                    deadline = time.monotonic() + self.connect_grace
                if self._may_retry(error, name, wfr) and await self._await_ready(deadline):
                    continue
                raise self.error(error, name, self.connect_grace) from error

    async def apipelined(self, field: str, method: str, request: Any) -> Any:
        """A Checkpointer call (GetTuple, Put, PutWrites) over the loop's pipeline stream; as a
        unary call when pipelining is off or the stream broke before the call was answered."""
        if self.pipelining:
            loop = asyncio.get_running_loop()
            with self._lock:
                pipeline = self._pipelines.get(loop)
            if pipeline is None:
                pipeline = Pipeline(self._aio_channel(), self._metadata, self.address)
                with self._lock:
                    pipeline = self._pipelines.setdefault(loop, pipeline)
            try:
                return await pipeline.call(field, method, request, self.timeout)
            except PipelineBroken:
                pass
        from ._proto import stasis_pb2_grpc as rpc

        return await self.aunary(rpc.CheckpointerStub, method, request)

    async def astream(self, stub_cls: type, method: str, request: Any) -> AsyncIterator[Any]:
        """Async `stream`."""
        name = _method_name(stub_cls, method)
        deadline: float | None = None
        received = False
        while True:
            fn = getattr(self.astub(stub_cls), method)
            call = fn(request, **self._kwargs(self.stream_timeout, self.wait_for_ready))
            try:
                async for message in call:
                    received = True
                    yield message
                return
            except grpc.RpcError as error:
                if deadline is None:
                    deadline = time.monotonic() + self.connect_grace
                if not received and self._may_retry(error, name, self.wait_for_ready) and await self._await_ready(deadline):
                    continue
                raise self.error(error, name, self.connect_grace) from error
            finally:
                call.cancel()
