"""Checkpointer calls over one long-lived stream (Checkpointer.Pipeline) instead of one RPC each.

A gRPC call costs both sides far more than a message on an open stream, and LangGraph makes
thousands of small calls (a put and a put_writes per task per step). A `Pipeline` belongs to one
event loop: requests carry an id, answers come back as they finish, and a lock keeps writes in
order. When the stream breaks (the daemon restarted or is draining), calls still waiting raise
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
from .errors import StasisError

_CODES = {code.value[0]: code for code in grpc.StatusCode}


class PipelineBroken(Exception):
    """The stream ended before the call was answered."""


class _Stream:
    def __init__(self, stub: rpc.CheckpointerStub, metadata: Any) -> None:
        self.call = stub.Pipeline(metadata=metadata)
        self.pending: dict[int, asyncio.Future] = {}
        self.broken = False
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for answer in self.call:
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
    def __init__(self, channel: grpc.aio.Channel, metadata: Any) -> None:
        self._stub = rpc.CheckpointerStub(channel)
        self._metadata = metadata
        self._stream: _Stream | None = None
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()

    async def call(self, field: str, method: str, request: Any, timeout: float | None) -> Any:
        async with self._lock:
            stream = self._stream
            if stream is None or stream.broken:
                stream = self._stream = _Stream(self._stub, self._metadata)
            call_id = next(self._ids)
            future = asyncio.get_running_loop().create_future()
            stream.pending[call_id] = future
            try:
                await stream.call.write(pb.PipelineRequest(id=call_id, **{field: request}))
            except Exception as error:
                stream.pending.pop(call_id, None)
                stream.close()
                raise PipelineBroken() from error
        try:
            answer = await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            stream.pending.pop(call_id, None)
            raise StasisError(grpc.StatusCode.DEADLINE_EXCEEDED, f"no answer within {timeout} s", f"Checkpointer.{method}")
        if answer.HasField("failure"):
            code = _CODES.get(answer.failure.code, grpc.StatusCode.UNKNOWN)
            raise StasisError(code, answer.failure.message, f"Checkpointer.{method}")
        return getattr(answer, field)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
