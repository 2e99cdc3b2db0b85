"""One connection to a Stasis daemon: a sync gRPC channel plus one grpc.aio channel per event loop.

A grpc.aio channel belongs to the event loop that created it, so async calls look up (or open)
the channel of the loop they run on; channels of loops that have since closed are dropped.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import grpc.aio

from .errors import from_rpc_error
from .pipeline import Pipeline, PipelineBroken

#: Largest message sent or accepted (the daemon has its own limit, --max-message-bytes).
MAX_MESSAGE_BYTES = 64 * 1024 * 1024

_CHANNEL_OPTIONS = (
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    # A restarted daemon is found again within about a second.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
)


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


class Connection:
    """Address, token and channels for talking to one daemon.

    Unary calls wait for the daemon to be reachable (gRPC wait_for_ready) up to `timeout`
    seconds, so a daemon restart between two calls is ridden out; streams get `stream_timeout`.
    """

    def __init__(
        self,
        address: str,
        *,
        token: str | None = None,
        timeout: float | None = 60.0,
        stream_timeout: float | None = 600.0,
        wait_for_ready: bool = True,
        tls_ca: str | None = None,
        pipelining: bool = True,
    ) -> None:
        self.address = address
        # TLS on TCP: the PEM file of the CA (or self-signed certificate) the daemon's
        # --tls-cert chains to ($STASIS_TLS_CA when not given).
        tls_ca = tls_ca or os.environ.get("STASIS_TLS_CA") or None
        self._credentials: grpc.ChannelCredentials | None = None
        if tls_ca is not None and not self.target_is_unix(normalize_address(address)):
            with open(tls_ca, "rb") as f:
                self._credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
        self.target = normalize_address(address)
        if token is None:
            token = os.environ.get("STASIS_TOKEN") or None
        self._metadata: tuple[tuple[str, str], ...] | None = (
            (("authorization", f"Bearer {token}"),) if token else None
        )
        self.timeout = timeout
        self.stream_timeout = stream_timeout
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
        return target.startswith("unix:")

    def _open(self, module: Any) -> Any:
        if self._credentials is not None:
            return module.secure_channel(self.target, self._credentials, options=_CHANNEL_OPTIONS)
        return module.insecure_channel(self.target, options=_CHANNEL_OPTIONS)

    def stub(self, stub_cls: type) -> Any:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the connection to {self.address} is closed")
            if self._channel is None:
                self._channel = self._open(grpc)
            stub = self._stubs.get(stub_cls)
            if stub is None:
                stub = self._stubs[stub_cls] = stub_cls(self._channel)
            return stub

    def astub(self, stub_cls: type) -> Any:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the connection to {self.address} is closed")
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

    # ------------------------------------------------------------ calls

    def _kwargs(self, timeout: float | None, wait_for_ready: bool | None) -> dict[str, Any]:
        return {
            "timeout": timeout,
            "metadata": self._metadata,
            "wait_for_ready": self.wait_for_ready if wait_for_ready is None else wait_for_ready,
        }

    def unary(
        self,
        stub_cls: type,
        method: str,
        request: Any,
        *,
        timeout: float | None | object = DEFAULT,
        wait_for_ready: bool | None = None,
    ) -> Any:
        fn = getattr(self.stub(stub_cls), method)
        t = self.timeout if timeout is DEFAULT else timeout
        try:
            return fn(request, **self._kwargs(t, wait_for_ready))
        except grpc.RpcError as error:
            raise from_rpc_error(error, _method_name(stub_cls, method)) from error

    def stream(self, stub_cls: type, method: str, request: Any) -> Iterator[Any]:
        fn = getattr(self.stub(stub_cls), method)
        call = fn(request, **self._kwargs(self.stream_timeout, None))
        try:
            yield from call
        except grpc.RpcError as error:
            raise from_rpc_error(error, _method_name(stub_cls, method)) from error
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
        fn = getattr(self.astub(stub_cls), method)
        t = self.timeout if timeout is DEFAULT else timeout
        try:
            return await fn(request, **self._kwargs(t, wait_for_ready))
        except grpc.RpcError as error:
            raise from_rpc_error(error, _method_name(stub_cls, method)) from error

    async def apipelined(self, field: str, method: str, request: Any) -> Any:
        """A Checkpointer call (GetTuple, Put, PutWrites) over the loop's pipeline stream; as a
        unary call when pipelining is off or the stream broke before the call was answered."""
        if self.pipelining:
            loop = asyncio.get_running_loop()
            with self._lock:
                pipeline = self._pipelines.get(loop)
            if pipeline is None:
                pipeline = Pipeline(self._aio_channel(), self._metadata)
                with self._lock:
                    pipeline = self._pipelines.setdefault(loop, pipeline)
            try:
                return await pipeline.call(field, method, request, self.timeout)
            except PipelineBroken:
                pass
        from ._proto import stasis_pb2_grpc as rpc

        return await self.aunary(rpc.CheckpointerStub, method, request)

    async def astream(self, stub_cls: type, method: str, request: Any) -> AsyncIterator[Any]:
        fn = getattr(self.astub(stub_cls), method)
        call = fn(request, **self._kwargs(self.stream_timeout, None))
        try:
            async for message in call:
                yield message
        except grpc.RpcError as error:
            raise from_rpc_error(error, _method_name(stub_cls, method)) from error
        finally:
            call.cancel()
