"""A graph's steps in a sandbox session's signed history.

With `StasisSaver(..., session=SESSION_ID)` (or a `sandbox=SandboxLink(...)`, whose session is
used unless `session=False`), what the graph does is appended to that session's history as
namespaced events (Formats/history.md, "Namespaced kinds"), beside the sandbox's commands:

- `x-langgraph.checkpoint`: a checkpoint was stored: `thread_id`, `checkpoint_ns`,
  `checkpoint_id`, `parent_checkpoint_id`, `step`, `source`;
- `x-langgraph.message`: a message a task wrote (any channel holding LangChain messages):
  `type` ("ai", "human", "system", ...), `id`, `content`, and for AI messages `tool_calls`
  ([{id, name, args}]);
- `x-langgraph.tool-result`: a ToolMessage: `tool_call_id`, `name`, `status`, `content`;
- `x-langgraph.interrupt`: `langgraph.types.interrupt()` stopped a task: `value`, `id`;
- `x-langgraph.error`: a task failed: `error`.

Every event also names `thread_id`, `checkpoint_ns`, `checkpoint_id` (the checkpoint the writes
belong to) and, for writes, `task_id`. `stasis replay` then shows the agent's reasoning and the
sandbox's commands in one timeline, and `history verify`/`prove` cover both.

Appends are batched so that writes stay fast: events wait in memory and go in one `Append` call
per checkpoint (sync) or in a background task that sends whatever has gathered, one call at a
time, in order (async). An append that fails is raised by the saver's next call (or by
`flush_history()`), never dropped silently; `close()` flushes. Values that JSON cannot carry
(other objects) are written as their `str()`, and integers beyond 2^53 as strings (a history
event's numbers are JSON doubles).
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Sequence
from typing import Any

from .client import StasisClient

#: Channel LangGraph writes an interrupt to.
INTERRUPT_CHANNEL = "__interrupt__"
#: Channel LangGraph writes a task's exception to.
ERROR_CHANNEL = "__error__"
#: Kinds this module appends.
KINDS = ("x-langgraph.checkpoint", "x-langgraph.message", "x-langgraph.tool-result", "x-langgraph.interrupt", "x-langgraph.error")

_MAX_EXACT = 2**53


def jsonable(value: Any) -> Any:
    """`value` as plain JSON data a history event accepts (see the module doc)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if -_MAX_EXACT <= value <= _MAX_EXACT else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "model_dump"):
        try:
            return jsonable(value.model_dump())
        except Exception:
            pass
    return str(value)


def _messages(value: Any) -> list[Any]:
    """The LangChain messages in a written value (one message or a list of them)."""
    try:
        from langchain_core.messages import BaseMessage
    except ImportError:  # pragma: no cover - langchain_core comes with langgraph
        return []
    if isinstance(value, BaseMessage):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(m, BaseMessage) for m in value):
        return list(value)
    return []


def write_events(where: dict[str, Any], task_id: str, writes: Sequence[tuple[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The events for one task's writes (channel, value), in order. `where` names the thread,
    namespace and checkpoint."""
    events: list[tuple[str, dict[str, Any]]] = []
    base = {**where, "task_id": task_id}
    for channel, value in writes:
        if channel == INTERRUPT_CHANNEL:
            for interrupt in value if isinstance(value, (list, tuple)) else [value]:
                events.append(("x-langgraph.interrupt", {**base, "value": jsonable(getattr(interrupt, "value", interrupt)),
                                                          "id": jsonable(getattr(interrupt, "id", None))}))
            continue
        if channel == ERROR_CHANNEL:
            events.append(("x-langgraph.error", {**base, "error": f"{type(value).__name__}: {value}"}))
            continue
        for message in _messages(value):
            if getattr(message, "type", "") == "tool":
                events.append(("x-langgraph.tool-result", {
                    **base, "channel": channel, "id": message.id, "tool_call_id": getattr(message, "tool_call_id", None),
                    "name": getattr(message, "name", None), "status": getattr(message, "status", None),
                    "content": jsonable(message.content)}))
                continue
            fields = {**base, "channel": channel, "type": message.type, "id": message.id, "content": jsonable(message.content)}
            calls = getattr(message, "tool_calls", None)
            if calls:
                fields["tool_calls"] = [{"id": c.get("id"), "name": c.get("name"), "args": jsonable(c.get("args"))} for c in calls]
            events.append(("x-langgraph.message", fields))
    return events


class HistoryWriter:
    """Gathers a graph's events and appends them to one session's history in batches."""

    def __init__(self, client: StasisClient, session: str) -> None:
        self.client = client
        self.session = session
        self._pending: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()  # guards _pending and _failure
        self._send_lock = threading.Lock()  # one sync append at a time, in order
        self._failure: BaseException | None = None
        self._drains: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}

    def add(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        """Queues events; raises an earlier append's failure first."""
        self.raise_failure()
        if events:
            with self._lock:
                self._pending.extend(events)

    def raise_failure(self) -> None:
        with self._lock:
            failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def _take(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            taken, self._pending = self._pending, []
        return taken

    def flush(self) -> None:
        """Appends everything queued now (sync); raises a failed append."""
        with self._send_lock:
            events = self._take()
            if events:
                self.client.append(self.session, events)
        self.raise_failure()

    def schedule(self) -> None:
        """Starts (if none runs) the loop's background task that appends what is queued."""
        loop = asyncio.get_running_loop()
        task = self._drains.get(loop)
        if task is None or task.done():
            self._drains[loop] = loop.create_task(self._drain())

    async def _drain(self) -> None:
        while True:
            events = self._take()
            if not events:
                return
            try:
                await self.client.aappend(self.session, events)
            except BaseException as error:  # kept for the saver's next call
                with self._lock:
                    self._failure = self._failure or error
                return

    async def aflush(self) -> None:
        """Waits until everything queued is appended (async); raises a failed append."""
        loop = asyncio.get_running_loop()
        task = self._drains.get(loop)
        if task is not None:
            await task
        events = self._take()
        if events:
            await self.client.aappend(self.session, events)
        self.raise_failure()


def checkpoint_event(thread_id: str, checkpoint_ns: str, checkpoint_id: str, parent_id: str | None,
                     metadata: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The event for one stored checkpoint."""
    return ("x-langgraph.checkpoint", {
        "thread_id": thread_id, "checkpoint_ns": checkpoint_ns, "checkpoint_id": checkpoint_id,
        "parent_checkpoint_id": parent_id, "step": jsonable(metadata.get("step")), "source": jsonable(metadata.get("source"))})


__all__ = ["HistoryWriter", "KINDS", "checkpoint_event", "jsonable", "write_events"]
