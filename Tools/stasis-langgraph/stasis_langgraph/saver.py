"""StasisSaver: a LangGraph checkpointer whose checkpoints live in a Stasis store.

The daemon (`stasis serve`) stores what this class sends: the checkpoint and its metadata
serialised with LangGraph's serde, one value per channel version (content-defined-chunked, so a
growing message list costs only its new bytes) and the pending writes. Everything LangGraph
defines — which metadata is kept, how writes are indexed, how a list is filtered — is decided
here, in the same way as LangGraph's own InMemorySaver.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import random
import warnings

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Any, cast

import grpc

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.base.id import uuid6
from langgraph.checkpoint.serde.base import SerializerProtocol

from ._proto import stasis_pb2 as pb
from ._proto import stasis_pb2_grpc as rpc
from .client import StasisClient
from .daemon import StasisDaemon, health, init_store, store_exists
from .delta import RecentValues, make_delta
from .errors import DaemonError, StasisError
from .history import ERROR_CHANNEL, INTERRUPT_CHANNEL, HistoryWriter, checkpoint_event, write_events
from .models import Health, Sandbox, SandboxCheckpoint
from .transport import DEFAULT_CONNECT_GRACE
from .sandbox import (
    SANDBOX_CHECKPOINT_KEY,
    SANDBOX_SESSION_KEY,
    SANDBOX_TASK_PREFIX,
    SandboxLink,
)

#: Where LangGraph puts the run's durability mode in the config a checkpoint is put with.
_DURABILITY_KEY = "__pregel_durability"

_PRUNE_STRATEGIES = {
    "keep_latest": pb.PruneRequest.KEEP_LATEST,
    "delete": pb.PruneRequest.DELETE,
}


def _json(value: Any) -> str:
    """JSON for the daemon's metadata filters: anything not JSON becomes its str(), and
    non-finite floats (not JSON at all) become strings too."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return str(v)
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    try:
        return json.dumps(value, default=str, allow_nan=False)
    except ValueError:
        return json.dumps(clean(value), default=str, allow_nan=False)


def _config(thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> RunnableConfig:
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint_id,
        }
    }


#: The metadata key LangGraph (>= 1.2) keeps per DeltaChannel that was not snapshotted at a
#: checkpoint: {channel: (updates, supersteps) since its last _DeltaSnapshot}.
_DELTA_COUNTERS_KEY = "counters_since_delta_snapshot"

_Key = tuple[str, str, str]  # thread id, namespace, checkpoint id
#: A value sent with a put: ((thread, namespace, channel), version, serde type, bytes).
_Sent = tuple[tuple[str, str, str], str, str, bytes]


def _key(t: CheckpointTuple) -> _Key:
    conf = t.config["configurable"]
    return (str(conf["thread_id"]), conf.get("checkpoint_ns", "") or "", conf["checkpoint_id"])


def _parent_key(t: CheckpointTuple) -> _Key | None:
    if t.parent_config is None:
        return None
    thread, ns, _ = _key(t)
    return (thread, ns, t.parent_config["configurable"]["checkpoint_id"])


def delta_channels_replayed(t: CheckpointTuple) -> set[str]:
    """The DeltaChannels whose value at this checkpoint LangGraph rebuilds from its ancestors:
    named in the metadata's delta counters (so not snapshotted here), versioned, and without
    a stored value. Such a checkpoint needs its ancestors (and their writes) back to the nearest
    one that stores each of those channels' values."""
    counters = (t.metadata or {}).get(_DELTA_COUNTERS_KEY) or {}
    if not isinstance(counters, dict):
        return set()
    checkpoint = t.checkpoint
    return {
        channel
        for channel in counters
        if channel in checkpoint.get("channel_versions", {}) and channel not in checkpoint.get("channel_values", {})
    }


def _latest_per_namespace(tuples: Iterable[CheckpointTuple]) -> list[CheckpointTuple]:
    latest: dict[tuple[str, str], CheckpointTuple] = {}
    for t in tuples:
        thread, ns, checkpoint_id = _key(t)
        if (thread, ns) not in latest or checkpoint_id > _key(latest[(thread, ns)])[2]:
            latest[(thread, ns)] = t
    return list(latest.values())


def _prune_refusal(tuples: Iterable[CheckpointTuple]) -> str | None:
    """Why prune(keep_latest) would lose DeltaChannel data here (None if it would not)."""
    needy = sorted(
        (f"{_key(t)[0]!r} (namespace {_key(t)[1]!r}: {', '.join(sorted(channels))})"
         for t in _latest_per_namespace(tuples) if (channels := delta_channels_replayed(t))),
    )
    if not needy:
        return None
    return (
        "StasisSaver.prune(strategy='keep_latest') would lose DeltaChannel state: the latest "
        f"checkpoint of thread {', '.join(needy)} rebuilds those channels from earlier "
        "checkpoints and their writes, which keep_latest deletes. Nothing was deleted. Prune "
        "these threads after a checkpoint that snapshots every delta channel, use "
        "strategy='delete', or keep them."
    )


def _run_delete_refusal(tuples: Iterable[CheckpointTuple], doomed: set[_Key]) -> str | None:
    """Why deleting the checkpoints in `doomed` would lose DeltaChannel data of the remaining
    ones (`tuples`: every checkpoint of the affected threads), or None."""
    by_key = {_key(t): t for t in tuples}
    broken: set[str] = set()
    for key, t in by_key.items():
        if key in doomed:
            continue
        pending = delta_channels_replayed(t)
        cursor = _parent_key(t)
        while pending and cursor is not None:
            if cursor in doomed:
                broken.add(f"{key[0]!r} (namespace {key[1]!r})")
                break
            ancestor = by_key.get(cursor)
            if ancestor is None:
                break
            pending = {c for c in pending if c not in ancestor.checkpoint.get("channel_values", {})}
            cursor = _parent_key(ancestor)
    if not broken:
        return None
    return (
        "StasisSaver.delete_for_runs would lose DeltaChannel state: checkpoints of thread "
        f"{', '.join(sorted(broken))} that stay rebuild delta channels from checkpoints and writes "
        "of these runs. Nothing was deleted. Delete the whole thread (delete_thread) or keep the runs."
    )


class StasisSaver(
    BaseCheckpointSaver[str], AbstractContextManager["StasisSaver"], AbstractAsyncContextManager["StasisSaver"]
):
    """A LangGraph checkpointer talking to a Stasis daemon over gRPC.

    `address` is "unix:///path/to/stasis.sock" (or just the path) or "host:port"; on TCP the
    daemon wants a token, sent as "authorization: Bearer TOKEN" (default: $STASIS_TOKEN), and
    with `tls_ca` (default: $STASIS_TLS_CA) the channel is TLS, checked against that PEM file.
    Sync methods use a blocking channel, async ones a grpc.aio channel per event loop.
    `StasisSaver.from_store(path)` connects to the store's daemon, starting one if needed.

    Calls fail fast: with no daemon at the address they raise `UnavailableError` (naming the
    address and how to start one) after waiting `connect_grace` seconds (default 0.5) for a
    daemon that is restarting; give a larger `connect_grace` to ride out longer restarts.
    `timeout` bounds each call once connected.

    DeltaChannel (LangGraph >= 1.2, beta): every checkpoint is kept with its writes, so delta
    channels rebuild from their ancestors; `copy_thread` copies whole threads. `prune` with
    "keep_latest" and `delete_for_runs` raise NotImplementedError, deleting nothing, when they
    would delete checkpoints a remaining checkpoint's delta channels are rebuilt from.

    With `sandbox=SandboxLink(...)` graph checkpoints also name sandbox checkpoints (see
    `stasis_langgraph.sandbox`), and `restore_sandbox(config)` brings a sandbox back to the
    moment of a graph checkpoint.

    With `session=SESSION_ID` (default: the sandbox link's session, if any; `False`: none) the
    graph's checkpoints, messages, tool calls and results, interrupts and errors are appended to
    that session's signed history as `x-langgraph.*` events, in batches (see
    `stasis_langgraph.history`); `flush_history()`/`aflush_history()` wait until they are in.
    """

    def __init__(
        self,
        address: str,
        *,
        token: str | None = None,
        serde: SerializerProtocol | None = None,
        timeout: float | None = 60.0,
        sandbox: SandboxLink | None = None,
        tls_ca: str | None = None,
        connect_grace: float = DEFAULT_CONNECT_GRACE,
        session: str | bool | None = None,
    ) -> None:
        super().__init__(serde=serde)
        self.client = StasisClient(address, token=token, timeout=timeout, tls_ca=tls_ca, connect_grace=connect_grace)
        self._conn = self.client.connection
        self.sandbox = sandbox
        if session is True:
            raise ValueError("session=True names no session: pass the session id (or a sandbox link), or False for none")
        history_session = (sandbox.session if sandbox is not None else None) if session is None else session
        #: Appends the graph's steps to this session's history; None when there is none.
        self.history: HistoryWriter | None = HistoryWriter(self.client, history_session) if history_session else None
        #: Bases for sending grown values as deltas (see stasis_langgraph.delta).
        self.recent = RecentValues()
        self.deltas = True
        self._warned_durability = False
        self._daemon: StasisDaemon | None = None

    # ------------------------------------------------------------ construction and lifetime

    @classmethod
    def from_store(
        cls,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        binary: str | None = None,
        start_timeout: float = 30.0,
        **kwargs: Any,
    ) -> StasisSaver:
        """A saver for the store at `path`.

        If `path/stasis.sock` answers Health.Check with SERVING, that daemon is used. Otherwise
        (after `stasis init` when the store does not exist and `create` is true) a private
        `stasis serve --store PATH` is started; the saver owns it and stops it (SIGTERM) on
        `close()`, on leaving a `with` block, or at interpreter exit.
        """
        store = os.path.abspath(os.fspath(path))
        socket = os.path.join(store, "stasis.sock")
        token = kwargs.get("token")
        if _serving(socket, token):
            return cls("unix://" + socket, **kwargs)
        if not store_exists(store):
            if not create:
                raise DaemonError(f"no Stasis store at {store}: run `stasis init --store {store}` or pass create=True")
            init_store(store, binary)
        daemon = StasisDaemon(store, binary=binary)
        try:
            daemon.start(timeout=start_timeout)
        except DaemonError:
            # Another process may have started the store's daemon at the same moment.
            if _serving(socket, token):
                return cls("unix://" + socket, **kwargs)
            raise
        saver = cls(daemon.unix_address, **kwargs)
        saver._daemon = daemon
        atexit.register(daemon.stop)
        return saver

    @property
    def address(self) -> str:
        """The daemon's address, as given."""
        return self._conn.address

    @property
    def daemon(self) -> StasisDaemon | None:
        """The private daemon this saver started (from_store), if any."""
        return self._daemon

    def close(self) -> None:
        """Appends the graph's pending history events, closes the channels and stops the
        private daemon, if this saver started one."""
        try:
            self.flush_history()
        finally:
            self._conn.close()
            self._stop_daemon()

    async def aclose(self) -> None:
        """Async `close`: the running loop's channel is closed gracefully."""
        try:
            await self.aflush_history()
        finally:
            await self._conn.aclose()
            self._stop_daemon()

    def flush_history(self) -> None:
        """Appends the history events still waiting (see `session`); raises a failed append."""
        if self.history is not None:
            self.history.flush()

    async def aflush_history(self) -> None:
        """Async `flush_history`: waits for the background appends too."""
        if self.history is not None:
            await self.history.aflush()

    def _note_put(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata) -> None:
        if self.history is None:
            return
        conf = config["configurable"]
        self.history.add([checkpoint_event(str(conf["thread_id"]), conf.get("checkpoint_ns", "") or "", checkpoint["id"],
                                           conf.get("checkpoint_id"), cast(dict[str, Any], metadata))])

    def _note_writes(self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str) -> None:
        if self.history is None:
            return
        conf = config["configurable"]
        where = {"thread_id": str(conf["thread_id"]), "checkpoint_ns": conf.get("checkpoint_ns", "") or "",
                 "checkpoint_id": conf.get("checkpoint_id")}
        self.history.add(write_events(where, task_id, writes))

    def _stop_daemon(self) -> None:
        daemon, self._daemon = self._daemon, None
        if daemon is not None:
            atexit.unregister(daemon.stop)
            daemon.stop()

    def __enter__(self) -> StasisSaver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> StasisSaver:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def health(self) -> Health:
        """The daemon's state (Health.Check)."""
        return self.client.health()

    async def ahealth(self) -> Health:
        """Async `health`."""
        return await self.client.ahealth()

    # ------------------------------------------------------------ requests (shared by sync and async)

    def _get_request(self, config: RunnableConfig) -> pb.GetTupleRequest:
        conf = config["configurable"]
        return pb.GetTupleRequest(
            key=pb.CheckpointKey(
                thread_id=str(conf["thread_id"]),
                checkpoint_ns=conf.get("checkpoint_ns", "") or "",
                checkpoint_id=get_checkpoint_id(config) or "",
            )
        )

    def _list_request(
        self,
        config: RunnableConfig | None,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> pb.ListRequest | None:
        """None when nothing can match (limit <= 0)."""
        if limit is not None and limit <= 0:
            return None
        request = pb.ListRequest(limit=limit or 0)
        conf = (config or {}).get("configurable") or {}
        if conf.get("thread_id") is not None:
            request.thread_id = str(conf["thread_id"])
        if conf.get("checkpoint_ns") is not None:
            request.checkpoint_ns = conf["checkpoint_ns"]
        if checkpoint_id := conf.get("checkpoint_id"):
            request.checkpoint_id = checkpoint_id
        if before is not None and (before_id := get_checkpoint_id(before)):
            request.before_checkpoint_id = before_id
        if filter:
            request.metadata_filter_json = _json(filter)
        return request

    def _put_request(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
    ) -> pb.PutRequest:
        conf = config["configurable"]
        stored: dict[str, Any] = dict(checkpoint)
        stored.pop("channel_values", None)
        return pb.PutRequest(
            key=pb.CheckpointKey(
                thread_id=str(conf["thread_id"]),
                checkpoint_ns=conf.get("checkpoint_ns", "") or "",
                checkpoint_id=checkpoint["id"],
            ),
            parent_checkpoint_id=conf.get("checkpoint_id") or "",
            checkpoint=self._typed(stored),
            metadata=self._typed(metadata),
            metadata_json=_json(metadata),
            versions=[
                pb.ChannelVersion(channel=channel, version=str(version))
                for channel, version in checkpoint["channel_versions"].items()
            ],
        )

    def _add_values(
        self, request: pb.PutRequest, checkpoint: Checkpoint, new_versions: ChannelVersions
    ) -> list[_Sent]:
        """Adds the changed channels' values, as deltas against the recent values where they
        are edits of them. Returns what to remember once the put succeeded."""
        values = checkpoint.get("channel_values", {})
        thread, ns = request.key.thread_id, request.key.checkpoint_ns
        sent: list[_Sent] = []
        for channel, version in new_versions.items():
            value = pb.ChannelValue(channel=channel, version=str(version))
            if channel in values:
                type_, data = self.serde.dumps_typed(values[channel])
                key = (thread, ns, channel)
                base = self.recent.base(key, type_) if self.deltas else None
                delta = make_delta(base[1], data) if base is not None else None
                if base is not None and delta is not None:
                    value.value.type = type_
                    value.delta.CopyFrom(pb.ValueDelta(
                        base_version=base[0], head=delta.head, copy_offset=delta.copy_offset,
                        copy_length=delta.copy_length, tail=delta.tail,
                    ))
                else:
                    value.value.CopyFrom(pb.Typed(type=type_, data=data))
                sent.append((key, str(version), type_, data))
            request.new_values.append(value)
        return sent

    @staticmethod
    def _without_deltas(request: pb.PutRequest, sent: list[_Sent]) -> pb.PutRequest:
        """The same put with every value whole (the daemon lacked a delta's base)."""
        whole = {(key[2], version): (type_, data) for key, version, type_, data in sent}
        full = pb.PutRequest()
        full.CopyFrom(request)
        for value in full.new_values:
            if value.HasField("delta"):
                type_, data = whole[(value.channel, value.version)]
                value.ClearField("delta")
                value.value.CopyFrom(pb.Typed(type=type_, data=data))
        return full

    @staticmethod
    def _base_missing(error: StasisError, request: pb.PutRequest) -> bool:
        return error.code == grpc.StatusCode.FAILED_PRECONDITION and any(v.HasField("delta") for v in request.new_values)

    def _remember(self, sent: list[_Sent]) -> None:
        for key, version, type_, data in sent:
            self.recent.remember(key, version, type_, data)

    def _put_writes_request(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> pb.PutWritesRequest:
        conf = config["configurable"]
        return pb.PutWritesRequest(
            key=pb.CheckpointKey(
                thread_id=str(conf["thread_id"]),
                checkpoint_ns=conf.get("checkpoint_ns", "") or "",
                checkpoint_id=conf["checkpoint_id"],
            ),
            task_id=task_id,
            task_path=task_path,
            writes=[
                pb.PendingWrite(
                    task_id=task_id,
                    channel=channel,
                    value=self._typed(value),
                    task_path=task_path,
                    idx=WRITES_IDX_MAP.get(channel, idx),
                )
                for idx, (channel, value) in enumerate(writes)
            ],
            replace=all(channel in WRITES_IDX_MAP for channel, _ in writes),
        )

    def _typed(self, value: Any) -> pb.Typed:
        type_, data = self.serde.dumps_typed(value)
        return pb.Typed(type=type_, data=data)

    def _load(self, typed: pb.Typed) -> Any:
        return self.serde.loads_typed((typed.type, typed.data))

    def _tuple(self, message: pb.CheckpointTuple) -> CheckpointTuple:
        key = message.key
        for value in message.values:
            if value.HasField("value"):
                self.recent.remember((key.thread_id, key.checkpoint_ns, value.channel), value.version,
                                     value.value.type, value.value.data)
        checkpoint = self._load(message.checkpoint)
        checkpoint["channel_values"] = {
            value.channel: self._load(value.value)
            for value in message.values
            if value.HasField("value")
        }
        writes = sorted(
            message.pending_writes,
            key=lambda w: writes_sort_key(w.task_path, w.task_id, w.idx),
        )
        return CheckpointTuple(
            config=_config(key.thread_id, key.checkpoint_ns, key.checkpoint_id),
            checkpoint=checkpoint,
            metadata=self._load(message.metadata),
            parent_config=(
                _config(key.thread_id, key.checkpoint_ns, message.parent_checkpoint_id)
                if message.parent_checkpoint_id
                else None
            ),
            pending_writes=[(w.task_id, w.channel, self._load(w.value)) for w in writes],
        )

    @staticmethod
    def _delete_threads(thread_ids: Sequence[str]) -> pb.DeleteThreadRequest:
        return pb.DeleteThreadRequest(thread_ids=[str(t) for t in thread_ids])

    @staticmethod
    def _prune_request(thread_ids: Sequence[str], strategy: str) -> pb.PruneRequest:
        if strategy not in _PRUNE_STRATEGIES:
            raise ValueError(f"unknown prune strategy {strategy!r}: use 'keep_latest' or 'delete'")
        return pb.PruneRequest(thread_ids=[str(t) for t in thread_ids], strategy=_PRUNE_STRATEGIES[strategy])

    # ------------------------------------------------------------ sync API

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        response = self._conn.unary(rpc.CheckpointerStub, "GetTuple", self._get_request(config))
        return self._tuple(response.tuple) if response.found else None

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        request = self._list_request(config, filter, before, limit)
        if request is None:
            return
        for message in self._conn.stream(rpc.CheckpointerStub, "List", request):
            yield self._tuple(message)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        metadata = get_checkpoint_metadata(config, metadata)
        if (link := self._sandbox_due_on_put(config, metadata)) is not None:
            taken = self.client.checkpoint_sandbox(link.target, labels=link.labels_for(config, checkpoint["id"], "put"))
            extra = cast(dict[str, Any], metadata)
            extra[SANDBOX_CHECKPOINT_KEY] = taken.id
            extra[SANDBOX_SESSION_KEY] = taken.session or link.session
        request = self._put_request(config, checkpoint, metadata)
        sent = self._add_values(request, checkpoint, new_versions)
        try:
            self._conn.unary(rpc.CheckpointerStub, "Put", request)
        except StasisError as error:
            if not self._base_missing(error, request):
                raise
            self._conn.unary(rpc.CheckpointerStub, "Put", self._without_deltas(request, sent))
        self._remember(sent)
        if self.history is not None:
            self._note_put(config, checkpoint, metadata)
            self.history.flush()
        return _config(request.key.thread_id, request.key.checkpoint_ns, checkpoint["id"])

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        if not writes:
            return
        self._conn.unary(
            rpc.CheckpointerStub, "PutWrites", self._put_writes_request(config, writes, task_id, task_path)
        )
        self._note_writes(config, writes, task_id)
        if self.history is not None and any(channel in (INTERRUPT_CHANNEL, ERROR_CHANNEL) for channel, _ in writes):
            self.history.flush()  # the run stops here: no later put would send them
        if self.sandbox is not None and self.sandbox.due_on_writes(config, writes):
            taken = self.client.checkpoint_sandbox(
                self.sandbox.target,
                labels=self.sandbox.labels_for(config, config["configurable"]["checkpoint_id"], "interrupt"),
            )
            self._conn.unary(rpc.CheckpointerStub, "PutWrites", self._record_request(config, taken))

    def delete_thread(self, thread_id: str) -> None:
        self.recent.forget_threads({str(thread_id)})
        self._conn.unary(rpc.CheckpointerStub, "DeleteThread", self._delete_threads([thread_id]))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Deletes the checkpoints (and their writes) whose metadata run_id is one of these.

        Raises NotImplementedError, deleting nothing, when a checkpoint that stays rebuilds a
        DeltaChannel from checkpoints or writes of these runs (see the class doc)."""
        if not run_ids:
            return
        runs = [str(r) for r in run_ids]
        doomed = {_key(t) for run in runs for t in self.list(None, filter={"run_id": run})}
        threads = sorted({key[0] for key in doomed})
        if threads:
            everything = [t for thread in threads for t in self.list({"configurable": {"thread_id": thread}})]
            if (why := _run_delete_refusal(everything, doomed)) is not None:
                raise NotImplementedError(why)
        self._conn.unary(rpc.CheckpointerStub, "DeleteForRuns", pb.DeleteForRunsRequest(run_ids=runs))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copies every checkpoint and write of the source thread (the whole parent chain, so
        DeltaChannels rebuild in the copy) to the target thread, which must have none."""
        request = pb.CopyThreadRequest(source_thread_id=str(source_thread_id), target_thread_id=str(target_thread_id))
        self._conn.unary(rpc.CheckpointerStub, "CopyThread", request)

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """"keep_latest" keeps the newest checkpoint of each namespace (and its writes),
        "delete" deletes the threads.

        "keep_latest" raises NotImplementedError, deleting nothing, when a thread's newest
        checkpoint rebuilds a DeltaChannel from earlier checkpoints (see the class doc)."""
        request = self._prune_request(thread_ids, strategy)
        if not request.thread_ids:
            return
        if request.strategy == pb.PruneRequest.KEEP_LATEST:
            tuples = [t for thread in request.thread_ids for t in self.list({"configurable": {"thread_id": thread}})]
            if (why := _prune_refusal(tuples)) is not None:
                raise NotImplementedError(why)
        self._conn.unary(rpc.CheckpointerStub, "Prune", request)

    # ------------------------------------------------------------ async API

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        response = await self._conn.apipelined("get_tuple", "GetTuple", self._get_request(config))
        return self._tuple(response.tuple) if response.found else None

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        request = self._list_request(config, filter, before, limit)
        if request is None:
            return
        async for message in self._conn.astream(rpc.CheckpointerStub, "List", request):
            yield self._tuple(message)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        metadata = get_checkpoint_metadata(config, metadata)
        if (link := self._sandbox_due_on_put(config, metadata)) is not None:
            taken = await self.client.acheckpoint_sandbox(
                link.target, labels=link.labels_for(config, checkpoint["id"], "put")
            )
            extra = cast(dict[str, Any], metadata)
            extra[SANDBOX_CHECKPOINT_KEY] = taken.id
            extra[SANDBOX_SESSION_KEY] = taken.session or link.session
        request = self._put_request(config, checkpoint, metadata)
        sent = self._add_values(request, checkpoint, new_versions)
        try:
            await self._conn.apipelined("put", "Put", request)
        except StasisError as error:
            if not self._base_missing(error, request):
                raise
            await self._conn.apipelined("put", "Put", self._without_deltas(request, sent))
        self._remember(sent)
        if self.history is not None:
            self._note_put(config, checkpoint, metadata)
            self.history.schedule()
        return _config(request.key.thread_id, request.key.checkpoint_ns, checkpoint["id"])

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        if not writes:
            return
        await self._conn.apipelined("put_writes", "PutWrites", self._put_writes_request(config, writes, task_id, task_path))
        if self.history is not None:
            self._note_writes(config, writes, task_id)
            self.history.schedule()
        if self.sandbox is not None and self.sandbox.due_on_writes(config, writes):
            taken = await self.client.acheckpoint_sandbox(
                self.sandbox.target,
                labels=self.sandbox.labels_for(config, config["configurable"]["checkpoint_id"], "interrupt"),
            )
            await self._conn.aunary(rpc.CheckpointerStub, "PutWrites", self._record_request(config, taken))

    async def adelete_thread(self, thread_id: str) -> None:
        self.recent.forget_threads({str(thread_id)})
        await self._conn.aunary(rpc.CheckpointerStub, "DeleteThread", self._delete_threads([thread_id]))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Async `delete_for_runs`."""
        if not run_ids:
            return
        runs = [str(r) for r in run_ids]
        doomed = {_key(t) for run in runs async for t in self.alist(None, filter={"run_id": run})}
        threads = sorted({key[0] for key in doomed})
        if threads:
            everything = [t for thread in threads async for t in self.alist({"configurable": {"thread_id": thread}})]
            if (why := _run_delete_refusal(everything, doomed)) is not None:
                raise NotImplementedError(why)
        await self._conn.aunary(rpc.CheckpointerStub, "DeleteForRuns", pb.DeleteForRunsRequest(run_ids=runs))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Async `copy_thread`."""
        request = pb.CopyThreadRequest(source_thread_id=str(source_thread_id), target_thread_id=str(target_thread_id))
        await self._conn.aunary(rpc.CheckpointerStub, "CopyThread", request)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Async `prune`."""
        request = self._prune_request(thread_ids, strategy)
        if not request.thread_ids:
            return
        if request.strategy == pb.PruneRequest.KEEP_LATEST:
            tuples = [t for thread in request.thread_ids async for t in self.alist({"configurable": {"thread_id": thread}})]
            if (why := _prune_refusal(tuples)) is not None:
                raise NotImplementedError(why)
        await self._conn.aunary(rpc.CheckpointerStub, "Prune", request)

    # ------------------------------------------------------------ versions

    def get_next_version(self, current: str | int | None, channel: None = None) -> str:
        """"{n:032}.{random:016}" like InMemorySaver: n counts up, the random part keeps two
        writers that start from the same version apart."""
        if current is None:
            number = 0
        elif isinstance(current, (int, float)):
            number = int(current)
        else:
            number = int(str(current).split(".")[0])
        return f"{number + 1:032}.{random.random():016}"

    # ------------------------------------------------------------ sandboxes

    def _sandbox_due_on_put(self, config: RunnableConfig, metadata: CheckpointMetadata) -> SandboxLink | None:
        """The sandbox link, when this put should checkpoint the sandbox."""
        if self.sandbox is None or not self.sandbox.due_on_put(config, cast(dict[str, Any], metadata)):
            return None
        if config["configurable"].get(_DURABILITY_KEY) in (None, "async") and not self._warned_durability:
            self._warned_durability = True
            warnings.warn(
                "StasisSaver with a SandboxLink: run the graph with durability='sync' (or 'exit'). "
                "With 'async' (LangGraph's default) a checkpoint is stored while the next step "
                "already runs, so its sandbox checkpoint may include that step's effects.",
                stacklevel=3,
            )
        return self.sandbox

    def _record_request(self, config: RunnableConfig, taken: SandboxCheckpoint) -> Any:
        """The pending write that records an interrupt-time sandbox checkpoint on the
        interrupted graph checkpoint (its task id is no task's, so LangGraph ignores it)."""
        task_id = SANDBOX_TASK_PREFIX + str(uuid6())
        session = taken.session or (self.sandbox.session if self.sandbox is not None else "")
        record = {SANDBOX_CHECKPOINT_KEY: taken.id, SANDBOX_SESSION_KEY: session}
        return self._put_writes_request(config, [(SANDBOX_CHECKPOINT_KEY, record)], task_id, "")

    @staticmethod
    def _sandbox_checkpoint_of(tup: CheckpointTuple) -> str | None:
        if found := cast(dict[str, Any], tup.metadata).get(SANDBOX_CHECKPOINT_KEY):
            return str(found)
        records = [
            (task_id, value)
            for task_id, channel, value in tup.pending_writes or []
            if task_id.startswith(SANDBOX_TASK_PREFIX) and channel == SANDBOX_CHECKPOINT_KEY
        ]
        if records:
            return str(max(records, key=lambda r: r[0])[1][SANDBOX_CHECKPOINT_KEY])
        return None

    def sandbox_checkpoint(self, config: RunnableConfig) -> str | None:
        """The sandbox checkpoint named by this graph checkpoint, or by its nearest ancestor
        (following parent_config) that names one; None if none does."""
        cursor: RunnableConfig | None = config
        while cursor is not None:
            tup = self.get_tuple(cursor)
            if tup is None:
                return None
            if found := self._sandbox_checkpoint_of(tup):
                return found
            cursor = tup.parent_config
        return None

    async def asandbox_checkpoint(self, config: RunnableConfig) -> str | None:
        cursor: RunnableConfig | None = config
        while cursor is not None:
            tup = await self.aget_tuple(cursor)
            if tup is None:
                return None
            if found := self._sandbox_checkpoint_of(tup):
                return found
            cursor = tup.parent_config
        return None

    def restore_sandbox(self, config: RunnableConfig) -> Sandbox:
        """Restores the sandbox checkpoint of this graph checkpoint (see sandbox_checkpoint)
        into a fresh sandbox, and returns it."""
        checkpoint = self.sandbox_checkpoint(config)
        if checkpoint is None:
            raise LookupError(f"no sandbox checkpoint recorded at or before {config['configurable']}")
        return self.client.restore(checkpoint)

    async def arestore_sandbox(self, config: RunnableConfig) -> Sandbox:
        """Async `restore_sandbox`."""
        checkpoint = await self.asandbox_checkpoint(config)
        if checkpoint is None:
            raise LookupError(f"no sandbox checkpoint recorded at or before {config['configurable']}")
        return await self.client.arestore(checkpoint)


def _serving(socket: str, token: str | None) -> bool:
    if not os.path.exists(socket):
        return False
    answer = health("unix://" + socket, token=token, timeout=2.0)
    return answer is not None and answer.status == pb.HealthCheckResponse.SERVING
