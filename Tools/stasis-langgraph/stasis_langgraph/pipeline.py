"""Checkpointer calls over one long-lived stream (Checkpointer.Pipeline) instead of one RPC each.

A gRPC call costs both sides far more than a message on an open stream, and LangGraph makes
thousands of small calls (a put and a put_writes per task per step). A `Pipeline` belongs to one
event loop: calls carry an id and answers come back as they finish. One writer at a time sends
every call that is waiting in one message, so concurrent callers share a write (and the daemon
answers in batches too). When the stream breaks (the daemon restarted or is draining), calls still waiting raise
`PipelineBroken`; every pipelined call is idempotent (a put of the same checkpoint replaces it,
writes are kept per task and index, reads change nothing), so the caller repeats it as a unary
call, which waits for the daemon to be back.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import grpc
import grpc.aio

from ._proto import stasis_pb2 as pb
from ._proto import stasis_pb2_grpc as rpc
from .errors import error_for

_CODES = {code.value[0]: code for code in grpc.StatusCode}


class PipelineBroken(Exception):
    """The stream ended before the call was answered."""


class _Stream:
    def __init__(self, stub: Any, metadata: Any) -> None:
        self.call = stub.Pipeline(metadata=metadata)
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.broken = False
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for message in self.call:
                for answer in message.answers:
                    future = self.pending.pop(answer.id, None)
                    if future is not None and not future.done():
                        future.set_result(answer)
        except (grpc.RpcError, asyncio.CancelledError):
            pass
        finally:
            self.broken = True
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(PipelineBroken())
            self.pending.clear()

    def close(self) -> None:
        self.broken = True
        self.call.cancel()


class Pipeline:
    """Checkpointer calls of one event loop over one Checkpointer.Pipeline stream."""

    def __init__(self, channel: grpc.aio.Channel, metadata: Any, address: str = "") -> None:
        self._stub = rpc.CheckpointerStub(channel)
        self._metadata = metadata
        self.address = address
        self._stream: _Stream | None = None
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self._outbox: list[tuple[_Stream, pb.PipelineCall]] = []

    async def call(self, field: str, method: str, request: Any, timeout: float | None) -> Any:
        """Sends one call and waits for its answer; raises StasisError for a failed call and
        PipelineBroken when the stream ended first (the caller repeats it as a unary call)."""
        stream = self._stream
        if stream is None or stream.broken:
            stream = self._stream = _Stream(self._stub, self._metadata)
        call_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        stream.pending[call_id] = future
        self._outbox.append((stream, pb.PipelineCall(id=call_id, **{field: request})))
        if not self._lock.locked():
            # This caller writes; calls queued while it waits for the write go in the next message.
            async with self._lock:
                while self._outbox:
                    batch, self._outbox = self._outbox, []
                    for target in {id(s): s for s, _ in batch}.values():
                        calls = [c for s, c in batch if s is target]
                        try:
                            await target.call.write(pb.PipelineRequest(calls=calls))
                        except Exception:
                            target.close()  # its reader fails every pending call
        try:
            answer = await (future if timeout is None else asyncio.wait_for(future, timeout))
        except asyncio.TimeoutError:
            stream.pending.pop(call_id, None)
            raise error_for(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"no answer from the Stasis daemon at {self.address} within {timeout} s",
                f"Checkpointer.{method}", self.address,
            ) from None
        if answer.HasField("failure"):
            code = _CODES.get(answer.failure.code, grpc.StatusCode.UNKNOWN)
            raise error_for(code, answer.failure.message, f"Checkpointer.{method}", self.address)
        return getattr(answer, field)

    def close(self) -> None:
        """Cancels the stream; calls still waiting raise PipelineBroken."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None
