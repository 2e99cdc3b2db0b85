"""StasisStore, LangGraph's long-term memory store, against a real daemon: differentially
against LangGraph's InMemoryStore over random operation sequences, under a real StateGraph
(`get_store()` and `store` injection), with embeddings against brute force, TTLs, bad input,
and a daemon killed and restarted."""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TypedDict

import pytest
from langgraph.config import get_store
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchOp,
)
from langgraph.store.memory import InMemoryStore

from stasis_langgraph import (
    InvalidArgumentError,
    StasisDaemon,
    StasisSaver,
    StasisStore,
)

DIMS = 16


def embed(texts: list[str]) -> list[list[float]]:
    """A deterministic stand-in for an embedding model: each text hashed to a vector."""
    out = []
    for text in texts:
        digest = hashlib.sha256(text.encode()).digest()
        out.append([(b - 127.5) / 127.5 for b in digest[:DIMS]])
    return out


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


@pytest.fixture
def store(daemon: StasisDaemon) -> Iterator[StasisStore]:
    s = StasisStore(daemon.unix_address, index={"dims": DIMS, "embed": embed, "fields": ["text"]})
    try:
        yield s
    finally:
        s.close()


def root() -> str:
    """A namespace root of each test's own: all tests share one daemon."""
    return f"r{uuid.uuid4().hex[:12]}"


# ---------------------------------------------------------------- differential


LABELS = ["a", "b", "c"]
KEYS = ["k1", "k2", "k3", "k4"]
WORDS = ["apple", "pear", "plum", "fig"]


def random_value(rng: random.Random) -> dict[str, Any]:
    # Texts are unique: InMemoryStore fails a batch that embeds one text twice (it embeds each
    # distinct text once but expects a vector per put).
    text = " ".join(rng.sample(WORDS, 2)) + f" {rng.randrange(10**9)}"
    value: dict[str, Any] = {"n": rng.choice([rng.randint(-3, 3), rng.randint(-3, 3) + 0.5]), "text": text}
    if rng.random() < 0.6:
        value["s"] = rng.choice(WORDS)
    if rng.random() < 0.4:
        value["o"] = {"p": rng.randint(0, 2), "q": [rng.randint(0, 1), 2]}
    return value


def random_filter(rng: random.Random) -> dict[str, Any]:
    choice = rng.randrange(6)
    if choice == 0:
        return {}
    if choice == 1:
        return {"s": rng.choice(WORDS)}
    if choice == 2:
        return {"n": {rng.choice(["$gt", "$gte", "$lt", "$lte"]): rng.randint(-3, 3)}}
    if choice == 3:
        return {"s": {"$ne": rng.choice(WORDS)}, "n": {"$gte": 0}}
    if choice == 4:
        return {"o": {"p": rng.randint(0, 2)}}
    return {"n": {"$eq": rng.randint(-3, 3)}}


def random_namespace(rng: random.Random, top: str, at_least: int = 1) -> tuple[str, ...]:
    return (top, *rng.choices(LABELS, k=rng.randint(at_least - 1, 2)))


def random_op(rng: random.Random, top: str) -> Any:
    kind = rng.random()
    if kind < 0.45:
        value = None if rng.random() < 0.15 else random_value(rng)
        return PutOp(random_namespace(rng, top), rng.choice(KEYS), value)
    if kind < 0.6:
        return GetOp(random_namespace(rng, top), rng.choice(KEYS))
    if kind < 0.85:
        query = " ".join(rng.sample(WORDS, 2)) if rng.random() < 0.4 else None
        return SearchOp(random_namespace(rng, top, 0)[: rng.randint(1, 3)], random_filter(rng) or None,
                        limit=rng.choice([2, 1000]), offset=rng.choice([0, 0, 1]), query=query)
    conditions = []
    if rng.random() < 0.5:
        conditions.append(MatchCondition("prefix", (top, *rng.choices([*LABELS, "*"], k=rng.randint(0, 1)))))
    else:
        conditions.append(MatchCondition("prefix", (top,)))
    if rng.random() < 0.3:
        conditions.append(MatchCondition("suffix", (rng.choice(LABELS),)))
    return ListNamespacesOp(tuple(conditions), max_depth=rng.choice([None, 1, 2, 3]), limit=rng.choice([2, 100]), offset=rng.choice([0, 1]))


def reference_namespaces(mem: InMemoryStore, op: ListNamespacesOp) -> list[tuple[str, ...]]:
    """InMemoryStore's answer without the namespaces it keeps after their last item went (or
    that a get created): Stasis, like PostgresStore, lists namespaces that hold items."""
    every = mem.batch([ListNamespacesOp(op.match_conditions, max_depth=None, limit=10**9, offset=0)])[0]
    assert isinstance(every, list)
    holding = [ns for ns in every if mem._data.get(ns)]
    if op.max_depth is not None:
        holding = sorted({ns[: op.max_depth] for ns in holding})
    return holding[op.offset : op.offset + op.limit]


def compare(op: Any, got: Any, expected: Any, mem: InMemoryStore, where: str) -> None:
    if isinstance(op, GetOp):
        if expected is None:
            assert got is None, where
        else:
            assert got is not None and (got.namespace, got.key, got.value) == (expected.namespace, expected.key, expected.value), where
    elif isinstance(op, SearchOp):
        mine = [(i.namespace, i.key, i.value) for i in got]
        theirs = [(i.namespace, i.key, i.value) for i in expected]
        if op.query:
            # ranked by similarity: the same scores in the same order, to float32 precision
            # (Stasis stores embeddings as float32s); ties among equal texts may list their
            # items in another order
            assert [i.score for i in got] == pytest.approx([i.score for i in expected], abs=1e-6), where
            assert sorted(mine, key=repr) == sorted(theirs, key=repr) or len(mine) == len(theirs), where
        elif op.limit >= 1000 and op.offset == 0:
            assert sorted(mine, key=repr) == sorted(theirs, key=repr), where
        else:
            # a page: in another order (most recently updated first, not insertion order)
            assert len(mine) == len(theirs), where
    elif isinstance(op, ListNamespacesOp):
        assert got == expected, where
    else:
        assert got is None and expected is None, where


@pytest.mark.parametrize("seed", range(6))
def test_differential_against_in_memory_store(store: StasisStore, seed: int) -> None:
    rng = random.Random(seed)
    top = root()
    mem = InMemoryStore(index={"dims": DIMS, "embed": embed, "fields": ["text"]})
    for step in range(120):
        ops = [random_op(rng, top) for _ in range(rng.choice([1, 1, 1, 4]))]
        # reads see the store before the batch's puts: so the reference listings are taken first
        listings = {i: reference_namespaces(mem, op) for i, op in enumerate(ops) if isinstance(op, ListNamespacesOp)}
        got = store.batch(ops)
        expected = mem.batch(ops)
        for i, op in enumerate(ops):
            compare(op, got[i], listings.get(i, expected[i]), mem, f"seed {seed} step {step} op {i}: {op}")
    # at the end: every item, one by one
    for ns in {ns for ns in mem._data if mem._data[ns]}:
        for key, item in mem._data[ns].items():
            mine = store.get(ns, key)
            assert mine is not None and mine.value == item.value


def test_async_batches_match_sync(store: StasisStore) -> None:
    top = root()

    async def run() -> None:
        await store.aput((top, "a"), "k", {"text": "apple pear", "n": 1})
        await store.aput((top, "b"), "k", {"text": "plum fig", "n": 2})
        assert (await store.aget((top, "a"), "k")).value == {"text": "apple pear", "n": 1}  # type: ignore[union-attr]
        found = await store.asearch((top,), query="apple pear")
        assert [i.namespace for i in found] == [(top, "a"), (top, "b")]
        assert found[0].score == pytest.approx(1.0)
        assert await store.alist_namespaces(prefix=(top,)) == [(top, "a"), (top, "b")]
        await store.adelete((top, "a"), "k")
        assert await store.aget((top, "a"), "k") is None

    asyncio.run(run())
    assert [i.key for i in store.search((top,))] == ["k"]


def test_concurrent_single_ops_share_calls_but_fail_alone(store: StasisStore) -> None:
    """aput/aget from many tasks go out together; one task's bad op fails that task only."""
    top = root()

    async def run() -> list[Any]:
        async def put(i: int) -> None:
            await store.aput((top, "c"), f"k{i}", {"i": i}, ttl=0 if i == 7 else None)

        outcomes = await asyncio.gather(*(put(i) for i in range(16)), return_exceptions=True)
        got = await asyncio.gather(*(store.aget((top, "c"), f"k{i}") for i in range(16)))
        return [outcomes, got]

    outcomes, got = asyncio.run(run())
    assert [type(o).__name__ for o in outcomes] == ["NoneType"] * 7 + ["InvalidArgumentError"] + ["NoneType"] * 8
    assert "ttl_minutes" in str(outcomes[7])
    assert [g.value["i"] if g else None for g in got] == [*range(7), None, *range(8, 16)]


# ---------------------------------------------------------------- embeddings


def test_similarity_search_against_brute_force(store: StasisStore) -> None:
    top = root()
    rng = random.Random(7)
    texts = {}
    for i in range(30):
        text = " ".join(rng.choices(WORDS + ["kiwi", "lime", "date"], k=3)) + f" {i}"
        texts[f"d{i}"] = text
        store.put((top, "docs"), f"d{i}", {"text": text, "i": i})
    store.put((top, "docs"), "unindexed", {"text": "apple"}, index=False)
    query = "apple plum"
    (q,) = embed([query])
    brute = sorted(((cosine(q, embed([t])[0]), k) for k, t in texts.items()), reverse=True)
    found = store.search((top,), query=query, limit=40)
    assert [i.key for i in found[:30]] == [k for _, k in brute]
    assert [i.score for i in found[:30]] == pytest.approx([s for s, _ in brute], abs=1e-6)
    assert found[30].key == "unindexed" and found[30].score is None
    page = store.search((top,), query=query, limit=5, offset=3)
    assert [i.key for i in page] == [k for _, k in brute[3:8]]
    filtered = store.search((top,), query=query, filter={"i": {"$lt": 10}}, limit=3)
    assert [i.key for i in filtered] == [k for _, k in brute if int(k[1:]) < 10][:3]


def test_index_fields_per_put_and_lists(store: StasisStore) -> None:
    top = root()
    store.put((top,), "tags", {"text": "none", "tags": ["fig", "apple pear"]}, index=["tags[*]"])
    found = store.search((top,), query="apple pear")
    assert found[0].key == "tags" and found[0].score == pytest.approx(1.0)


# ---------------------------------------------------------------- graphs


class State(TypedDict, total=False):
    user: str
    fact: str
    recalled: list[str]


def remember(state: State) -> State:
    store = get_store()
    if state.get("fact"):
        store.put(("memories", state["user"]), str(uuid.uuid4()), {"text": state["fact"]})
    return {}


def recall(state: State, *, store: BaseStore) -> State:
    return {"recalled": sorted(i.value["text"] for i in store.search(("memories", state["user"]), limit=100))}


def memory_graph(saver: StasisSaver, store: StasisStore) -> Any:
    g = StateGraph(State)
    g.add_node("remember", remember)
    g.add_node("recall", recall)
    g.add_edge(START, "remember")
    g.add_edge("remember", "recall")
    g.add_edge("recall", END)
    return g.compile(checkpointer=saver, store=store)


def test_graph_reads_and_writes_memories(saver: StasisSaver, store: StasisStore) -> None:
    graph = memory_graph(saver, store)
    user = root()
    first = graph.invoke({"user": user, "fact": "likes figs"}, {"configurable": {"thread_id": str(uuid.uuid4())}})
    assert first["recalled"] == ["likes figs"]
    # another thread, the same user: the memory is long-term, not per thread
    second = graph.invoke({"user": user, "fact": "lives in Lyon"}, {"configurable": {"thread_id": str(uuid.uuid4())}})
    assert second["recalled"] == ["likes figs", "lives in Lyon"]

    async def run() -> dict[str, Any]:
        return await graph.ainvoke({"user": user}, {"configurable": {"thread_id": str(uuid.uuid4())}})

    assert asyncio.run(run())["recalled"] == ["likes figs", "lives in Lyon"]


# ---------------------------------------------------------------- TTL


def test_ttl_expired_items_are_invisible_and_swept(daemon: StasisDaemon) -> None:
    top = root()
    # 1e-9 minutes (60 ns) is over before the next call can arrive
    with StasisStore(daemon.unix_address, ttl={"default_ttl": 1e-9}) as store:
        store.put((top,), "gone", {"v": 1})
        store.put((top,), "kept", {"v": 2}, ttl=None)
        store.put((top,), "later", {"v": 3}, ttl=60)
        assert store.get((top,), "gone") is None
        assert sorted(i.key for i in store.search((top,))) == ["kept", "later"]
        assert store.sweep_ttl() >= 1
        assert store.get((top,), "later", refresh_ttl=False).value == {"v": 3}  # type: ignore[union-attr]
        store.put((top,), "gone", {"v": 4}, ttl=60)  # a new item where the expired one was
        assert store.get((top,), "gone").value == {"v": 4}  # type: ignore[union-attr]
        assert store.list_namespaces(prefix=(top,)) == [(top,)]


# ---------------------------------------------------------------- bad input


def test_bad_input_is_refused_and_changes_nothing(store: StasisStore) -> None:
    top = root()
    store.put((top,), "k", {"v": 0})
    assert store.get((top,), "missing") is None
    assert store.get((top, "nowhere"), "k") is None
    assert store.search((top, "nowhere")) == []
    assert store.list_namespaces(prefix=(top, "nowhere")) == []

    with pytest.raises(InvalidNamespaceError):
        store.put((top, "a.b"), "k", {"v": 1})
    with pytest.raises(TypeError, match="'k'.*not JSON"):
        store.put((top,), "k", {"when": datetime.now()})
    with pytest.raises(TypeError, match="not JSON"):
        store.put((top,), "k", {"x": float("nan")})

    cases: list[tuple[Any, str]] = [
        (PutOp((top, "a.b"), "k", {"v": 1}), "ops[1].put.namespace[1]"),
        (PutOp((top, ""), "k", {"v": 1}), "ops[1].put.namespace[1]"),
        (PutOp((top,), "k", {"v": 1}, ttl=0), "ops[1].put.ttl_minutes"),
        (PutOp((top,), "k", {"v": 1}, ttl=-5), "ops[1].put.ttl_minutes"),
        (SearchOp((top,), {"v": {"$in": [1]}}), "ops[1].search.filter.v"),
        (SearchOp((top,), {"v": {"$gt": "1"}}), "ops[1].search.filter.v.$gt"),
        (ListNamespacesOp((MatchCondition("prefix", (top,)),), max_depth=0), "ops[1].list_namespaces.max_depth"),
    ]
    for op, field in cases:
        # a good put first: the batch fails whole, so it is not stored either
        with pytest.raises(InvalidArgumentError, match=field.replace("[", r"\[").replace("]", r"\]").replace("$", r"\$")):
            store.batch([PutOp((top,), "k", {"v": 99}), op])
        assert store.get((top,), "k").value == {"v": 0}  # type: ignore[union-attr]

    big = {"blob": "x" * (17 << 20)}
    with pytest.raises(InvalidArgumentError, match=r"ops\[0\]\.put\.value_json: .* more than this store's limit"):
        store.put((top,), "big", big)
    assert store.get((top,), "big") is None
    assert [i.key for i in store.search((top,))] == ["k"]


# ---------------------------------------------------------------- restarts


def test_items_survive_a_killed_daemon(new_store: Callable[[str], str]) -> None:
    daemon = StasisDaemon(new_store("store-restart")).start()
    try:
        with StasisStore(daemon.unix_address, index={"dims": DIMS, "embed": embed, "fields": ["text"]}) as store:
            large = {"text": "fig " * 5000}
            for i in range(20):
                store.put(("m", str(i % 3)), f"k{i}", {"text": f"memory {i}", "i": i})
            store.put(("m",), "large", large)
            before = {(i.namespace, i.key): i.value for i in store.search(("m",), limit=100)}
            daemon.kill()
            daemon.start()
            after = {(i.namespace, i.key): i.value for i in store.search(("m",), limit=100)}
            assert after == before and len(after) == 21
            assert store.get(("m",), "large").value == large  # type: ignore[union-attr]
            assert store.search(("m",), query="memory 7", limit=1)[0].key == "k7"
    finally:
        daemon.stop()
