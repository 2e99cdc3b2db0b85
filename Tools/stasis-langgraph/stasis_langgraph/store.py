"""LangGraph's long-term memory store (`BaseStore`) on a Stasis daemon.

Items are JSON documents under (namespace, key), kept in the daemon's catalog beside the
checkpoints (Formats/langgraph.md, "Memory store"). Each `batch`/`abatch` is one `MemoryStore.Batch`
call and one transaction on the daemon: all of its puts commit, or none. Filters, TTLs and
similarity ranking run in the daemon; embeddings are computed here, by the embedding function the
caller gives in `index` (as with LangGraph's `InMemoryStore` and `PostgresStore`), and stored by
the daemon.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    ensure_embeddings,
    get_text_at_path,
    tokenize_path,
)

from ._proto import stasis_pb2 as pb
from ._proto import stasis_pb2_grpc as rpc
from .errors import StasisError, UnavailableError
from .transport import DEFAULT_CONNECT_GRACE, Connection

__all__ = ["StasisStore"]


class StasisStore(BaseStore):
    """A LangGraph `BaseStore` whose items live in a Stasis store, served by `stasis serve`.

    Use it where LangGraph takes a store: `graph.compile(checkpointer=saver, store=store)`;
    nodes then reach it through `get_store()` or a `store` parameter.

    - Values are JSON objects (dicts of JSON values), returned with their keys in the order
      they were put; anything `json.dumps` cannot write raises TypeError, naming the key.
    - `filter` takes equality (nested dicts and lists compare field by field, numbers by value)
      and the operators `$eq`, `$ne`, `$gt`, `$gte`, `$lt`, `$lte`.
    - `ttl` (minutes) on `put`, `default_ttl` and `refresh_on_read` in `ttl=TTLConfig(...)`:
      an expired item is invisible at once and deleted by `sweep_ttl()` (or the sweeper thread
      of `start_ttl_sweeper()`, every `sweep_interval_minutes`).
    - `index={"dims": N, "embed": fn_or_Embeddings, "fields": ["text", ...]}` turns on
      similarity search: texts at those fields (default: the whole value) are embedded here
      when put, and `search(query=...)` ranks items by cosine similarity, best text first.
    - Search without a query lists the most recently updated items first.
    """

    supports_ttl = True

    def __init__(
        self,
        address: str,
        *,
        token: str | None = None,
        timeout: float | None = 60.0,
        tls_ca: str | None = None,
        connect_grace: float = DEFAULT_CONNECT_GRACE,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
    ) -> None:
        self._conn = Connection(address, token=token, timeout=timeout, tls_ca=tls_ca, connect_grace=connect_grace, pipelining=False)
        self.ttl_config = ttl
        self.index_config = index
        self._dims: int | None = None
        self._fields: list[tuple[str, list[str] | str]] = []
        self._embeddings: Any = None
        if index is not None:
            dims = index.get("dims")
            if not isinstance(dims, int) or dims <= 0:
                raise ValueError(f"index['dims'] must be a positive int (the embedding's length), not {dims!r}")
            if index.get("embed") is None:
                raise ValueError("index['embed'] must be an embedding function or a langchain Embeddings: the store computes no embeddings itself")
            self._dims = dims
            self._embeddings = ensure_embeddings(index.get("embed"))
            self._fields = [(p, tokenize_path(p) if p != "$" else p) for p in (index.get("fields") or ["$"])]
        self._sweeper: threading.Thread | None = None
        self._stop_sweeper = threading.Event()
        #: Single async ops waiting to be sent together, per event loop (see `abatch`).
        self._queues: dict[asyncio.AbstractEventLoop, list[tuple[Op, asyncio.Future[Result]]]] = {}
        self._flushes: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        """The daemon's address, as given."""
        return self._conn.address

    # ------------------------------------------------------------ BaseStore

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Runs `ops` in one transaction on the daemon; one result per op, in order. Reads see
        the store as it was before this batch's puts; of several puts to one key the last counts."""
        ops = list(ops)
        texts, where = self._texts_to_embed(ops)
        vectors = self._embeddings.embed_documents(texts) if texts else []
        queries = self._queries(ops)
        query_vectors = {q: self._embeddings.embed_query(q) for q in queries}
        request = self._request(ops, self._vectors_by_put(vectors, where), query_vectors)
        response = self._conn.unary(rpc.MemoryStoreStub, "Batch", request)
        return self._results(ops, response)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async `batch`: embeddings through the embedding function's async form.

        A single op (what `aget`, `aput`, `asearch`, `adelete` and `alist_namespaces` send) is
        sent together with the single ops other tasks of the event loop issue in the same loop
        iteration: one call and one transaction for many concurrent tasks. Such ops are
        concurrent, so no order among them is promised; if the shared call is refused, each op
        is sent again on its own, so that one task's bad op fails only that task.
        """
        ops = list(ops)
        if len(ops) == 1:
            return [await self._coalesced(ops[0])]
        return await self._abatch_now(ops)

    async def _coalesced(self, op: Op) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = []
            task = loop.create_task(self._flush(loop))
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)
        queue.append((op, future))
        return await future

    async def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        # Runs one iteration after the first op was queued: every task that issued an op in
        # between has queued it by now.
        queue = self._queues.pop(loop, [])
        if not queue:
            return
        try:
            results = await self._abatch_now([op for op, _ in queue])
        except Exception as error:
            if len(queue) == 1 or not isinstance(error, (StasisError, TypeError, ValueError)) or isinstance(error, UnavailableError):
                for _, future in queue:
                    if not future.done():
                        future.set_exception(error)
                return
            for op, future in queue:
                try:
                    result = (await self._abatch_now([op]))[0]
                except Exception as own:
                    if not future.done():
                        future.set_exception(own)
                else:
                    if not future.done():
                        future.set_result(result)
            return
        for (_, future), result in zip(queue, results):
            if not future.done():
                future.set_result(result)

    async def _abatch_now(self, ops: list[Op]) -> list[Result]:
        texts, where = self._texts_to_embed(ops)
        vectors = await self._embeddings.aembed_documents(texts) if texts else []
        query_vectors = {q: await self._embeddings.aembed_query(q) for q in self._queries(ops)}
        request = self._request(ops, self._vectors_by_put(vectors, where), query_vectors)
        response = await self._conn.aunary(rpc.MemoryStoreStub, "Batch", request)
        return self._results(ops, response)

    # ------------------------------------------------------------ TTL sweeping

    def sweep_ttl(self) -> int:
        """Deletes the items whose TTL has run out (already invisible) now; returns how many."""
        response = self._conn.unary(rpc.MemoryStoreStub, "SweepExpired", pb.MemorySweepRequest())
        return int(response.items_deleted)

    async def asweep_ttl(self) -> int:
        """Async `sweep_ttl`."""
        response = await self._conn.aunary(rpc.MemoryStoreStub, "SweepExpired", pb.MemorySweepRequest())
        return int(response.items_deleted)

    def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> None:
        """Starts a background thread that calls `sweep_ttl()` every `sweep_interval_minutes`
        (default: the TTL config's, else 5). A failed sweep is tried again at the next interval."""
        if self._sweeper is not None:
            return
        interval = sweep_interval_minutes or (self.ttl_config or {}).get("sweep_interval_minutes") or 5
        if interval <= 0:
            raise ValueError(f"sweep_interval_minutes must be > 0, not {interval!r}")
        self._stop_sweeper.clear()

        def run() -> None:
            while not self._stop_sweeper.wait(interval * 60):
                try:
                    self.sweep_ttl()
                except Exception:  # the daemon may be restarting: the next round tries again
                    pass

        self._sweeper = threading.Thread(target=run, name="stasis-store-ttl-sweeper", daemon=True)
        self._sweeper.start()

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stops the sweeper thread; True when it has stopped within `timeout` seconds."""
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is None:
            return True
        self._stop_sweeper.set()
        sweeper.join(timeout)
        return not sweeper.is_alive()

    # ------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Stops the sweeper and closes the channels."""
        self.stop_ttl_sweeper()
        self._conn.close()

    async def aclose(self) -> None:
        """Async `close`: the running loop's channel is closed gracefully."""
        self.stop_ttl_sweeper()
        await self._conn.aclose()

    def __enter__(self) -> StasisStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> StasisStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------ ops <-> messages

    def _texts_to_embed(self, ops: Sequence[Op]) -> tuple[list[str], list[tuple[int, str]]]:
        """The texts of the batch's puts to embed, and for each its (op index, field path).
        Only the last put to a key counts, so earlier ones are not embedded."""
        if self._embeddings is None:
            return [], []
        last: dict[tuple[tuple[str, ...], str], int] = {}
        for i, op in enumerate(ops):
            if isinstance(op, PutOp):
                last[(tuple(op.namespace), str(op.key))] = i
        texts: list[str] = []
        where: list[tuple[int, str]] = []
        for i in sorted(last.values()):
            op = ops[i]
            assert isinstance(op, PutOp)
            if op.value is None or op.index is False:
                continue
            fields = self._fields if op.index is None else [(p, tokenize_path(p)) for p in op.index]
            for path, tokens in fields:
                found = get_text_at_path(op.value, tokens)
                if len(found) == 1:
                    texts.append(found[0])
                    where.append((i, path))
                else:
                    for j, text in enumerate(found):
                        texts.append(text)
                        where.append((i, f"{path}.{j}"))
        return texts, where

    def _queries(self, ops: Sequence[Op]) -> set[str]:
        if self._embeddings is None:
            return set()
        return {op.query for op in ops if isinstance(op, SearchOp) and op.query}

    def _vectors_by_put(self, vectors: Sequence[Sequence[float]], where: list[tuple[int, str]]) -> dict[int, list[pb.MemoryVector]]:
        if len(vectors) != len(where):
            raise ValueError(f"the embedding function returned {len(vectors)} vectors for {len(where)} texts")
        out: dict[int, list[pb.MemoryVector]] = {}
        for vector, (i, path) in zip(vectors, where):
            self._check_dims(vector, f"the embedding of field {path!r}")
            out.setdefault(i, []).append(pb.MemoryVector(path=path, values=list(vector)))
        return out

    def _check_dims(self, vector: Sequence[float], what: str) -> None:
        if len(vector) != self._dims:
            raise ValueError(f"{what} has {len(vector)} dimensions, but index['dims'] is {self._dims}")

    def _request(self, ops: Sequence[Op], vectors: dict[int, list[pb.MemoryVector]], queries: dict[str, list[float]]) -> Any:
        request = pb.MemoryBatchRequest()
        for i, op in enumerate(ops):
            if isinstance(op, GetOp):
                request.ops.add(get=pb.MemoryGet(namespace=_labels(op.namespace, i), key=str(op.key), refresh_ttl=op.refresh_ttl))
            elif isinstance(op, PutOp):
                put = pb.MemoryPut(namespace=_labels(op.namespace, i), key=str(op.key))
                if op.value is None:
                    put.delete = True
                else:
                    put.value_json = _dump(op.value, op.namespace, op.key)
                    if op.ttl is not None:
                        put.ttl_minutes = float(op.ttl)
                    put.vectors.extend(vectors.get(i, []))
                request.ops.add(put=put)
            elif isinstance(op, SearchOp):
                if op.limit < 0 or op.offset < 0:
                    raise ValueError(f"search limit and offset must be >= 0, not {op.limit} and {op.offset}")
                search = pb.MemorySearch(namespace_prefix=_labels(op.namespace_prefix, i), limit=op.limit, offset=op.offset,
                                         refresh_ttl=op.refresh_ttl)
                if op.filter:
                    search.filter_json = _dump(dict(op.filter), op.namespace_prefix, "(filter)")
                if op.query and op.query in queries:
                    query = queries[op.query]
                    self._check_dims(query, "the query's embedding")
                    search.query_vector.extend(query)
                request.ops.add(search=search)
            elif isinstance(op, ListNamespacesOp):
                if op.limit < 0 or op.offset < 0:
                    raise ValueError(f"list_namespaces limit and offset must be >= 0, not {op.limit} and {op.offset}")
                listing = pb.MemoryListNamespaces(limit=op.limit, offset=op.offset)
                if op.max_depth is not None:
                    listing.max_depth = op.max_depth
                for condition in op.match_conditions or ():
                    if condition.match_type not in ("prefix", "suffix"):
                        raise ValueError(f"match_type must be 'prefix' or 'suffix', not {condition.match_type!r}")
                    kind = pb.MemoryMatch.PREFIX if condition.match_type == "prefix" else pb.MemoryMatch.SUFFIX
                    listing.match.add(kind=kind, path=_labels(condition.path, i))
                request.ops.add(list_namespaces=listing)
            else:
                raise TypeError(f"ops[{i}]: unknown operation {type(op).__name__}; StasisStore runs GetOp, PutOp, SearchOp and ListNamespacesOp")
        return request

    @staticmethod
    def _results(ops: Sequence[Op], response: Any) -> list[Result]:
        results: list[Result] = []
        for op, answer in zip(ops, response.results):
            if isinstance(op, GetOp):
                results.append(_item(answer.item, Item) if answer.HasField("item") else None)
            elif isinstance(op, SearchOp):
                results.append([_item(m, SearchItem) for m in answer.items.items])
            elif isinstance(op, ListNamespacesOp):
                results.append([tuple(ns.labels) for ns in answer.namespaces.namespaces])
            else:
                results.append(None)
        return results


def _labels(namespace: Sequence[str], i: int) -> list[str]:
    for label in namespace:
        if not isinstance(label, str):
            raise InvalidNamespaceError(f"ops[{i}]: namespace label {label!r} in {tuple(namespace)} is a {type(label).__name__}, not a str")
    return list(namespace)


def _dump(value: Any, namespace: Sequence[str], key: str) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as error:
        raise TypeError(f"the value of {key!r} in {tuple(namespace)} is not JSON ({error}); a Stasis store keeps JSON documents") from error


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def _item(message: Any, cls: type[Any]) -> Any:
    fields: dict[str, Any] = dict(
        namespace=tuple(message.namespace),
        key=message.key,
        value=json.loads(message.value_json),
        created_at=_time(message.created_at),
        updated_at=_time(message.updated_at),
    )
    if cls is SearchItem:
        fields["score"] = message.score if message.HasField("score") else None
    return cls(**fields)
