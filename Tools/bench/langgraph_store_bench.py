"""The memory-store workload of the LangGraph benchmark (`--workloads store`): StasisStore (gRPC
to the benchmark's `stasis serve`) vs LangGraph's AsyncPostgresStore (langgraph-checkpoint-postgres,
on an AsyncConnectionPool to the services' PostgreSQL, a fresh schema dropped afterwards) vs
InMemoryStore, same calls side by side.

Ops, each from --concurrency tasks at once (asyncio.gather), each task in a namespace of its own
("bench", "lane-K"), --ops calls in all per op:
- aput: a new key per call, a ~1 KB value {"text", "n", "kind"};
- aget: keys the puts stored, in random order;
- asearch: filter {"kind": one of four} under the task's namespace, limit 10 (about a quarter
  of the task's items match).
Each op is measured --repeats times on a freshly opened store; the table shows the median ops/s
and Stasis's ratio to the others. The target (issue 13): Stasis >= 3x AsyncPostgresStore on
every op.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
import uuid
from typing import Any

STORES = ("stasis", "postgres", "memory")
OPS = ("aput", "aget", "asearch")
KINDS = ("note", "fact", "task", "pref")
#: Stasis store ops/s at least this many times AsyncPostgresStore's, on every op.
TARGET_VS_POSTGRES = 3.0


def value(rng: random.Random, i: int) -> dict[str, Any]:
    words = ("agent", "memory", "user", "likes", "figs", "lives", "in", "lyon", "prefers", "tea")
    return {"text": " ".join(rng.choice(words) for _ in range(160))[:1000], "n": i, "kind": KINDS[i % len(KINDS)]}


class StoreTarget:
    name = ""
    store: Any

    async def open(self) -> None: ...

    async def close(self) -> None: ...


class StasisStoreTarget(StoreTarget):
    name = "stasis"

    def __init__(self, address: str) -> None:
        self.address = address

    async def open(self) -> None:
        from stasis_langgraph import StasisStore

        self.store = StasisStore(self.address)
        self.root = f"b{uuid.uuid4().hex[:10]}"

    async def close(self) -> None:
        await self.store.aclose()


class PostgresStoreTarget(StoreTarget):
    """AsyncPostgresStore with the setup its documentation gives (autocommit, no prepared
    statements, dict rows), in a fresh schema."""

    name = "postgres"

    def __init__(self, pool_size: int) -> None:
        self.pool_size = pool_size
        self.schema = f"lgstore_{uuid.uuid4().hex[:12]}"
        self.pool: Any = None

    async def open(self) -> None:
        import langgraph_services as svc
        from langgraph.store.postgres.aio import AsyncPostgresStore
        from psycopg.conninfo import make_conninfo
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        await asyncio.to_thread(svc.create_schema, self.schema)
        conninfo = make_conninfo(svc.pg_url(), options=f"-csearch_path={self.schema}")
        self.pool = AsyncConnectionPool(conninfo, min_size=1, max_size=self.pool_size, open=False,
                                        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row})
        await self.pool.open(wait=True)
        self.store = AsyncPostgresStore(self.pool)
        await self.store.setup()
        self.root = "b"

    async def close(self) -> None:
        import langgraph_services as svc

        if self.pool is not None:
            await self.pool.close()
        await asyncio.to_thread(svc.drop_schema, self.schema)


class MemoryStoreTarget(StoreTarget):
    name = "memory"

    async def open(self) -> None:
        from langgraph.store.memory import InMemoryStore

        self.store = InMemoryStore()
        self.root = "b"


def make_target(name: str, args: Any) -> StoreTarget:
    if name == "stasis":
        if not args.stasis_address:
            raise SystemExit("the store workload on stasis needs --stasis-address")
        return StasisStoreTarget(args.stasis_address)
    if name == "postgres":
        return PostgresStoreTarget(args.pg_pool)
    return MemoryStoreTarget()


async def run_op(target: StoreTarget, op: str, lanes: int, per_lane: int, rep: int) -> float:
    """Seeds what `op` reads, then times `op` from `lanes` tasks at once; returns ops/s."""
    store = target.store
    namespaces = [(target.root, f"r{rep}", f"lane-{k}") for k in range(lanes)]
    rngs = [random.Random(k * 1000 + rep) for k in range(lanes)]
    if op != "aput":
        async def seed(k: int) -> None:
            for i in range(per_lane):
                await store.aput(namespaces[k], f"k{i}", value(rngs[k], i))
        await asyncio.gather(*(seed(k) for k in range(lanes)))

    async def lane(k: int) -> None:
        ns, rng = namespaces[k], rngs[k]
        if op == "aput":
            for i in range(per_lane):
                await store.aput(ns, f"p{i}", value(rng, i))
        elif op == "aget":
            for i in rng.sample(range(per_lane), per_lane):
                assert await store.aget(ns, f"k{i}") is not None
        else:
            for i in range(per_lane):
                await store.asearch(ns, filter={"kind": KINDS[i % len(KINDS)]}, limit=10)

    t0 = time.perf_counter()
    await asyncio.gather(*(lane(k) for k in range(lanes)))
    return lanes * per_lane / (time.perf_counter() - t0)


async def bench(args: Any, stores: list[str], emit: Any, log: Any) -> dict[str, dict[str, float]]:
    """Runs every op on every store; returns the median ops/s by op and store."""
    lanes = args.concurrency
    per_lane = max(1, args.ops // lanes)
    results: dict[str, dict[str, list[float]]] = {op: {s: [] for s in stores} for op in OPS}
    for rep in range(args.repeats):
        for name in stores:
            for op in OPS:
                target = make_target(name, args)
                log(f"store: {name} {op}, {lanes} tasks x {per_lane} calls, repeat {rep + 1}/{args.repeats}")
                try:
                    await target.open()
                    ops_s = await run_op(target, op, lanes, per_lane, rep)
                except Exception as error:
                    emit({"kind": "error", "workload": "store", "saver": name, "op": op, "repeat": rep,
                          "error": f"{type(error).__name__}: {error}"})
                    log(f"  FAILED: {type(error).__name__}: {error}")
                    continue
                finally:
                    try:
                        await target.close()
                    except Exception as error:
                        log(f"  closing {name} failed: {error}")
                results[op][name].append(ops_s)
                emit({"kind": "store", "saver": name, "op": op, "repeat": rep, "tasks": lanes, "n": lanes * per_lane, "ops_s": ops_s})
    return {op: {s: statistics.median(v) for s, v in by.items() if v} for op, by in results.items()}


def render(medians: dict[str, dict[str, float]], concurrency: int) -> str:
    stores = [s for s in STORES if any(s in by for by in medians.values())]
    lines = [f"Memory store: median ops/s with {concurrency} concurrent tasks"]
    head = f"{'op':<9}" + "".join(f"{s:>12}" for s in stores)
    ratios = [s for s in stores if s != "stasis"] if "stasis" in stores else []
    head += "".join(f"{'stasis/' + s:>17}" for s in ratios)
    if "postgres" in ratios:
        head += f"   target >= {TARGET_VS_POSTGRES:g}x postgres"
    lines.append(head)
    for op in OPS:
        by = medians.get(op, {})
        row = f"{op:<9}" + "".join(f"{by[s]:>12.0f}" if s in by else f"{'-':>12}" for s in stores)
        for s in ratios:
            row += f"{by['stasis'] / by[s]:>16.2f}x" if "stasis" in by and s in by else f"{'-':>17}"
        if "postgres" in ratios and "stasis" in by and "postgres" in by:
            row += "   PASS" if by["stasis"] / by["postgres"] >= TARGET_VS_POSTGRES else "   FAIL"
        lines.append(row)
    return "\n".join(lines)
