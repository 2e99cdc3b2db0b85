#!/usr/bin/env python3
"""LangGraph checkpointer benchmark: StasisSaver vs AsyncSqliteSaver vs InMemorySaver, and
StasisSaver on a fleet store (two daemons on two hosts) vs AsyncPostgresSaver.

Run through Tools/bench/langgraph.sh (it installs the pinned packages, builds and starts the
daemons, makes the fleet store). Savers: stasis (one daemon, one-host store), stasis-fleet (a
fleet store: catalog in PostgreSQL, objects in SeaweedFS; one daemon per host, the hosts being
network namespaces), postgres (AsyncPostgresSaver on an AsyncConnectionPool to the same
PostgreSQL, a fresh schema per measurement), postgres-2 (two AsyncPostgresSaver instances, each
with its own pool, as two application hosts would have; threads split between them like
stasis-fleet's), sqlite, memory. Every saver runs the same workloads in the same process, side
by side:

1. raw API: aput, aget_tuple, alist (limit 10), aput_writes; --ops calls each
   (a) sequentially from one task: p50/p99 latency and ops/s,
   (b) from --concurrency tasks at once (asyncio.gather, one thread_id per task): ops/s.
   Checkpoints come from langgraph.checkpoint.conformance.test_utils.generate_checkpoint with
   three channels (a unique ~1 KB text, a small dict, an int), all changed on every put, their
   versions from saver.get_next_version. aget_tuple and alist read threads of 50 checkpoints that
   each carry 2 pending writes (aget_tuple: even calls the latest checkpoint, odd calls a random
   one by id); aput_writes writes 2 values (~1 KB text, an int) under a new task id, rotating
   over the 50 checkpoints of its thread.
2. agent loop: a real StateGraph (messages: Annotated[list, add_messages]) with two nodes,
   "agent" (a fake model: a ~1 KB AIMessage with one tool call) and "tools" (a ~2 KB
   ToolMessage, step counter + 1), agent -> tools -> agent ... like a ReAct loop. One thread,
   --steps steps (a step = agent + tools = 2 graph checkpoints), run as one agent loop that is
   resumed three times: ainvoke runs until the counter reaches steps/4, steps/2 and steps
   (storage is measured between the invocations, outside the timed part). It runs once per
   --durability mode: "async" (LangGraph's default: a step's checkpoint is written while the
   next step runs, and ainvoke waits for the last one) and "sync" (every step waits for its
   checkpoint, so the checkpointer's latency is all on the critical path).
3. many threads: --threads runs of the same graph at once (asyncio.gather), --thread-steps
   steps each: wall time and steps/s.
4. memory store (--workloads store; stasis, postgres and memory only): StasisStore vs
   AsyncPostgresStore vs InMemoryStore, aput/aget/asearch from --concurrency tasks (see
   langgraph_store_bench.py).

With two daemons (stasis-fleet) or two saver instances (postgres-2), thread k of the many-threads
run goes to daemon k mod 2 (half the threads to each host, each thread staying on its host); the
agent loop's three segments (ainvoke calls) alternate hosts, so the thread continues on the other
host; raw-API lane k uses daemon k mod 2 (the read threads are seeded through the first).

Each timed measurement is repeated --repeats times; the table shows medians. Raw records go to
--out as JSON lines; `--report FILE` prints the table of an earlier run again.
Storage: stasis-fleet = pg_total_relation_size of every table of its catalog schema + the bytes
under its bucket prefix (listed with the S3 API); postgres = pg_total_relation_size of every
table of its schema (checkpoints, checkpoint_blobs, checkpoint_writes, checkpoint_migrations:
heap, TOAST and indexes); Stasis = Health.store_bytes, the store directory on disk (du) and the catalog's
-wal, before and after a `PRAGMA wal_checkpoint(TRUNCATE)` issued on the catalog from this
process (the daemon has no call for it); AsyncSqliteSaver = database + -wal after
`PRAGMA wal_checkpoint(TRUNCATE)` on its own connection; InMemorySaver = pickled size of its dicts.
CPU: for Stasis the client's CPU time (this process, all threads) and the daemon's
(/proc/PID/stat of --stasis-pid) are recorded per measurement, to see which side dominates.
For the savers on the services also the CPU time of the whole PostgreSQL cluster and of
SeaweedFS (from /proc; anything else using them at the time counts too), and per TCP connection
to PostgreSQL and to S3 the data segments and bytes each way (`ss -ti` in the namespace of the
daemons, or of this process for AsyncPostgresSaver): with request/response protocols the data
segments received from PostgreSQL approximate its round trips (a reply longer than one MSS,
1448 B on the hosts' veth, 64 KiB on loopback, counts more than once). For AsyncPostgresSaver
the SQL statements it executes (cursor execute/executemany calls) are counted as well.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import platform
import random
import sqlite3
import statistics
import sys
import time
import uuid
import zlib
from collections import defaultdict
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph.message import add_messages

# ------------------------------------------------------------------ targets (PASS/FAIL)

#: Stasis ops/s must be at least this many times AsyncSqliteSaver's, on every raw op (concurrent).
TARGET_RAW_RATIO = 3.0
#: ... and steps/s on the many-threads run.
TARGET_MULTI_RATIO = 3.0
#: The agent loop's wall time may be at most this many times InMemorySaver's.
TARGET_LOOP_VS_MEMORY = 1.3
#: Stasis storage after the full agent loop (Health.store_bytes and du after a WAL checkpoint).
TARGET_STORAGE_BYTES = 5_000_000
#: Many hosts: steps/s of the many-threads run, stasis-fleet (two daemons on two hosts) at least
#: this many times AsyncPostgresSaver's.
TARGET_FLEET_MULTI_VS_POSTGRES = 2.0
#: AsyncPostgresSaver's storage after the agent loop at least this many times Stasis's (the
#: one-host store and the fleet store each).
TARGET_STORAGE_VS_POSTGRES = 30.0
#: Linear growth: bytes/step over the second half (steps/2 -> steps) at most this many times
#: bytes/step over the second quarter (steps/4 -> steps/2). Quadratic growth gives 2.0.
TARGET_GROWTH_RATIO = 1.25

OPS = ("aput", "aget_tuple", "alist", "aput_writes")
SAVERS = ("stasis", "stasis-fleet", "postgres", "postgres-2", "sqlite", "memory")
#: Savers whose data is in the services (PostgreSQL, SeaweedFS).
SERVICE_SAVERS = ("stasis-fleet", "postgres", "postgres-2")
READ_THREAD_LEN = 50

WORDS = (
    "the agent tool call result search query file line error value function return list "
    "thread state message step graph node edge checkpoint store write read update user "
    "assistant python code test build run output input data table row column index key map "
    "request response server client socket time memory disk cache token model answer plan "
    "because which would could should after before while during between about into over "
    "first second third next last found missing changed added removed fixed failed passed"
).split()


def text(rng: random.Random, nbytes: int) -> str:
    """Roughly `nbytes` of English-like text (as compressible as prose, never repeated)."""
    parts: list[str] = []
    size = 0
    while size < nbytes:
        w = rng.choice(WORDS) if rng.random() < 0.9 else str(rng.randrange(10**6))
        parts.append(w)
        size += len(w) + 1
    return " ".join(parts)[:nbytes]


async def gather_or_cancel(coros: Any) -> list:
    """asyncio.gather that cancels the others (and waits for them) when one fails."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def describe(error: BaseException) -> str:
    text_ = f"{type(error).__name__}: {error}"
    return text_ if len(text_) < 600 else text_[:600] + "..."


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    if not s:
        return float("nan")
    return s[min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))]


def median(values: list[float]) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


# ------------------------------------------------------------------ CPU accounting

class Cpu:
    """What a measurement cost, between start(target) and stop(): the client's CPU (this
    process), the target's daemons' (from /proc), and for savers on the services the CPU of
    PostgreSQL and SeaweedFS and the traffic of the target's connections to them."""

    def __init__(self) -> None:
        self.tick = os.sysconf("SC_CLK_TCK")

    def _daemons(self, pids: list[int]) -> float | None:
        total = 0.0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / self.tick
            except (OSError, IndexError, ValueError):
                return None
        return total

    def _services(self) -> dict[str, Any]:
        import langgraph_services as svc

        out: dict[str, Any] = {"pg_cpu": svc.postgres_cpu(), "s3_cpu": svc.seaweed_cpu(), "net": {}}
        for label, netns_pid, address, owner in self.target.endpoints():
            out["net"][label] = svc.connections(netns_pid, address, owner)
        out["sql"] = PG_STATEMENTS[0]
        out["pos"] = svc.pg_position()
        return out

    def start(self, target: "Target") -> None:
        self.target = target
        self.services = target.name in SERVICE_SAVERS
        self.s0 = self._services() if self.services else None
        self.c0 = time.process_time()
        self.d0 = self._daemons(target.daemon_pids) if target.daemon_pids else None

    def stop(self) -> dict[str, Any]:
        out: dict[str, Any] = {"client_cpu_s": time.process_time() - self.c0}
        if self.target.daemon_pids:
            d1 = self._daemons(self.target.daemon_pids)
            out["daemon_cpu_s"] = (d1 - self.d0) if (d1 is not None and self.d0 is not None) else None
        if self.services:
            import langgraph_services as svc

            s1 = self._services()
            for k in ("pg_cpu", "s3_cpu"):
                out[f"{k}_s"] = (s1[k] - self.s0[k]) if (s1[k] is not None and self.s0[k] is not None) else None
            for label in s1["net"]:
                d = svc.connections_delta(self.s0["net"].get(label, {}), s1["net"][label])
                for f, v in d.items():
                    out[f"{label}_{f}"] = out.get(f"{label}_{f}", 0) + v
            if self.target.name.startswith("postgres"):
                out["sql_statements"] = s1["sql"] - self.s0["sql"]
            if s1["pos"] and self.s0["pos"]:
                out["pg_wal_bytes"] = s1["pos"]["wal"] - self.s0["pos"]["wal"]
                out["pg_write_xacts"] = s1["pos"]["xid"] - self.s0["pos"]["xid"]
        return out


#: SQL statements AsyncPostgresSaver executed (psycopg's AsyncCursor.execute and executemany
#: calls, counted by a wrapper PostgresTarget installs).
PG_STATEMENTS = [0]


# ------------------------------------------------------------------ savers

def dir_usage(path: str) -> tuple[int, int]:
    """(bytes on disk, apparent bytes) of every regular file under path."""
    disk = apparent = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if not (st.st_mode & 0o170000 == 0o100000):
                continue
            disk += st.st_blocks * 512
            apparent += st.st_size
    return disk, apparent


def fsize(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


class Target:
    name = ""
    #: the daemons serving this saver (their CPU is measured)
    daemon_pids: list[int] = []

    async def open(self) -> None: ...

    def savers(self) -> list[Any]:
        """One saver per host (two for stasis-fleet and postgres-2)."""
        return [self.saver]

    def saver_for(self, k: int) -> Any:
        all_ = self.savers()
        return all_[k % len(all_)]

    def endpoints(self) -> list[tuple[str, int | None, tuple[str, int], int | None]]:
        """(label, pid whose network namespace, address, owning pid) of the connections to the
        services whose traffic is measured."""
        return []

    async def storage(self) -> dict[str, Any]:
        return {}

    async def close(self) -> None: ...


class StasisTarget(Target):
    name = "stasis"

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.daemon_pids = [args.stasis_pid] if args.stasis_pid else []

    async def open(self) -> None:
        from stasis_langgraph import StasisSaver

        self.saver = StasisSaver(self.args.stasis_address)
        await self.saver.ahealth()  # opens the channel

    async def storage(self) -> dict[str, Any]:
        h = await self.saver.ahealth()
        out: dict[str, Any] = {
            "store_bytes": h.store_bytes,
            "graph_checkpoints": h.graph_checkpoints,
            "threads": h.threads,
            "chunks": h.chunks,
        }
        store = self.args.stasis_store
        if store:
            catalog = os.path.join(store, "catalog.sqlite")
            out["du_bytes"], out["apparent_bytes"] = dir_usage(store)
            out["catalog_bytes"] = fsize(catalog)
            out["wal_bytes"] = fsize(catalog + "-wal")
            # The daemon keeps its catalog open; a TRUNCATE checkpoint from a second connection
            # is ordinary SQLite multi-process WAL use (busy=1 if the daemon had a reader open).
            try:
                con = sqlite3.connect(catalog, timeout=10)
                busy, log, done = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                con.close()
                out["wal_checkpoint"] = {"busy": busy, "log_frames": log, "checkpointed": done}
            except sqlite3.Error as error:
                out["wal_checkpoint"] = {"error": str(error)}
            out["du_after_ckpt_bytes"], _ = dir_usage(store)
            out["breakdown"] = graph_breakdown(catalog)
            out["catalog_after_ckpt_bytes"] = fsize(catalog)
            out["wal_after_ckpt_bytes"] = fsize(catalog + "-wal")
        return out

    async def close(self) -> None:
        await self.saver.aclose()


#: Where Stasis's graph bytes are (read-only queries on the daemon's tables; schema of
#: Sources/StasisGraphStore, so a schema change only loses this diagnostic).
BREAKDOWN_SQL = {
    "checkpoint_rows": "SELECT IFNULL(SUM(length(checkpoint) + length(metadata) + length(metadata_json) + length(versions)), 0) FROM graph_checkpoints",
    "chunk_lists": "SELECT IFNULL(SUM(length(chunks)), 0) FROM graph_values",
    "chunk_data": "SELECT IFNULL(SUM(length(data)), 0) FROM graph_chunks",
    "chunk_raw": "SELECT IFNULL(SUM(raw_length), 0) FROM graph_chunks",
    "chunks": "SELECT COUNT(*) FROM graph_chunks",
    "values": "SELECT COUNT(*) FROM graph_values",
    "largest_chunk_list": "SELECT IFNULL(MAX(length(chunks)), 0) FROM graph_values",
}


def graph_breakdown(catalog: str) -> dict[str, Any]:
    try:
        con = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True, timeout=10)
        try:
            return {k: con.execute(q).fetchone()[0] for k, q in BREAKDOWN_SQL.items()}
        finally:
            con.close()
    except sqlite3.Error as error:
        return {"error": str(error)}


class FleetTarget(Target):
    """StasisSaver on a fleet store: one daemon per host (network namespace), all on one
    catalog schema in PostgreSQL and one prefix of the bucket."""

    name = "stasis-fleet"

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.addresses = args.fleet_address.split(",")
        self.stores = args.fleet_store.split(",") if args.fleet_store else []
        self.daemon_pids = [int(x) for x in args.fleet_pid.split(",")] if args.fleet_pid else []

    async def open(self) -> None:
        from stasis_langgraph import StasisSaver

        self._savers = [StasisSaver(a) for a in self.addresses]
        for saver in self._savers:
            await saver.ahealth()
        self.saver = self._savers[0]

    def savers(self) -> list[Any]:
        return self._savers

    def endpoints(self) -> list[tuple[str, int | None, tuple[str, int], int | None]]:
        import langgraph_services as svc

        out = []
        for pid in self.daemon_pids:
            out.append(("pg", pid, svc.pg_address(), pid))
            out.append(("s3", pid, svc.s3_address(), pid))
        return out

    async def storage(self) -> dict[str, Any]:
        import langgraph_services as svc

        h = await self.saver.ahealth()
        out: dict[str, Any] = {
            "store_bytes": h.store_bytes,
            "graph_checkpoints": h.graph_checkpoints,
            "threads": h.threads,
            "chunks": h.chunks,
        }
        schema = self.args.fleet_schema
        if schema:
            sizes = await asyncio.to_thread(svc.schema_sizes, schema)
            out["catalog_bytes"] = sizes["total_bytes"]
            out["catalog_tables"] = sizes["tables"]
            out["breakdown"] = await asyncio.to_thread(pg_graph_breakdown, schema)
        if self.args.fleet_objects:
            usage = await asyncio.to_thread(svc.prefix_usage, self.args.fleet_objects)
            out["objects_bytes"], out["objects"] = usage["bytes"], usage["objects"]
        if "catalog_bytes" in out and "objects_bytes" in out:
            out["total_bytes"] = out["catalog_bytes"] + out["objects_bytes"]
        out["host_dirs_du_bytes"] = sum(dir_usage(d)[0] for d in self.stores)
        return out

    async def close(self) -> None:
        for saver in self._savers:
            await saver.aclose()


def pg_graph_breakdown(schema: str) -> dict[str, Any]:
    """BREAKDOWN_SQL on the fleet catalog (the same tables, in PostgreSQL)."""
    import langgraph_services as svc

    try:
        with svc.connect() as con:
            con.execute(f"SET search_path TO {svc.check_schema(schema)}")
            return {k: int(con.execute(q.replace("IFNULL", "COALESCE")).fetchone()[0]) for k, q in BREAKDOWN_SQL.items()}
    except Exception as error:  # a diagnostic only
        return {"error": describe(error)}


def count_pg_statements() -> None:
    """Wraps psycopg's AsyncCursor.execute/executemany to count the statements AsyncPostgresSaver runs."""
    from psycopg import AsyncCursor

    if getattr(AsyncCursor, "_bench_counted", False):
        return
    execute, executemany = AsyncCursor.execute, AsyncCursor.executemany

    async def counted_execute(self: Any, *a: Any, **k: Any) -> Any:
        PG_STATEMENTS[0] += 1
        return await execute(self, *a, **k)

    async def counted_executemany(self: Any, query: Any, params_seq: Any, *a: Any, **k: Any) -> Any:
        params_seq = list(params_seq)
        PG_STATEMENTS[0] += len(params_seq)
        return await executemany(self, query, params_seq, *a, **k)

    AsyncCursor.execute, AsyncCursor.executemany = counted_execute, counted_executemany
    AsyncCursor._bench_counted = True


class PostgresTarget(Target):
    """LangGraph's AsyncPostgresSaver on an AsyncConnectionPool (autocommit, no prepared
    statements, dict rows: langgraph-checkpoint-postgres's documented setup), in a fresh schema
    of the services' PostgreSQL (search_path set per connection), dropped on close. With
    instances=2, two savers with a pool each, as two application hosts would have."""

    def __init__(self, args: argparse.Namespace, instances: int = 1) -> None:
        self.args = args
        self.instances = instances
        self.name = "postgres" if instances == 1 else f"postgres-{instances}"
        self.schema = f"lgpg_{uuid.uuid4().hex[:12]}"
        self.pools: list[Any] = []

    async def open(self) -> None:
        import langgraph_services as svc
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg.conninfo import make_conninfo
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        count_pg_statements()
        await asyncio.to_thread(svc.create_schema, self.schema)
        try:
            conninfo = make_conninfo(svc.pg_url(), options=f"-csearch_path={self.schema}")
            self._savers = []
            for _ in range(self.instances):
                pool = AsyncConnectionPool(
                    conninfo, min_size=1, max_size=self.args.pg_pool, open=False,
                    kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
                )
                self.pools.append(pool)
                await pool.open(wait=True)
                self._savers.append(AsyncPostgresSaver(pool))
            await self._savers[0].setup()
            self.saver = self._savers[0]
        except BaseException:
            await self.close()
            raise

    def savers(self) -> list[Any]:
        return self._savers

    def endpoints(self) -> list[tuple[str, int | None, tuple[str, int], int | None]]:
        import langgraph_services as svc

        return [("pg", None, svc.pg_address(), os.getpid())]

    async def storage(self) -> dict[str, Any]:
        import langgraph_services as svc

        sizes = await asyncio.to_thread(svc.schema_sizes, self.schema)
        return {"total_bytes": sizes["total_bytes"], "tables": sizes["tables"]}

    async def close(self) -> None:
        import langgraph_services as svc

        for pool in self.pools:
            await pool.close()
        await asyncio.to_thread(svc.drop_schema, self.schema)


class SqliteTarget(Target):
    name = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path

    async def open(self) -> None:
        import aiosqlite
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.path + suffix):
                os.remove(self.path + suffix)
        self.conn = await aiosqlite.connect(self.path)
        self.saver = AsyncSqliteSaver(self.conn)
        await self.saver.setup()
        async with self.conn.execute("PRAGMA synchronous") as cur:
            self.synchronous = (await cur.fetchone())[0]

    async def storage(self) -> dict[str, Any]:
        out: dict[str, Any] = {"wal_bytes": fsize(self.path + "-wal"), "db_bytes": fsize(self.path)}
        async with self.saver.lock:
            async with self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cur:
                busy, log, done = await cur.fetchone()
        out["wal_checkpoint"] = {"busy": busy, "log_frames": log, "checkpointed": done}
        out["db_after_ckpt_bytes"] = fsize(self.path)
        out["wal_after_ckpt_bytes"] = fsize(self.path + "-wal")
        out["du_after_ckpt_bytes"] = out["db_after_ckpt_bytes"] + out["wal_after_ckpt_bytes"]
        return out

    async def close(self) -> None:
        await self.conn.close()


def plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


class MemoryTarget(Target):
    name = "memory"

    async def open(self) -> None:
        from langgraph.checkpoint.memory import InMemorySaver

        self.saver = InMemorySaver()

    async def storage(self) -> dict[str, Any]:
        s = self.saver
        blob = pickle.dumps((plain(s.storage), plain(s.writes), plain(s.blobs)), protocol=pickle.HIGHEST_PROTOCOL)
        return {"pickle_bytes": len(blob)}


def make_target(name: str, args: argparse.Namespace, label: str) -> Target:
    if name == "stasis":
        return StasisTarget(args)
    if name == "stasis-fleet":
        return FleetTarget(args)
    if name == "postgres":
        return PostgresTarget(args)
    if name == "postgres-2":
        return PostgresTarget(args, instances=2)
    if name == "sqlite":
        return SqliteTarget(os.path.join(args.sqlite_dir, f"{label}.sqlite"))
    if name == "memory":
        return MemoryTarget()
    raise SystemExit(f"unknown saver {name!r}: use {','.join(SAVERS)}")


# ------------------------------------------------------------------ workload 1: raw API

class Chain:
    """Successive checkpoints of one thread, made the way LangGraph makes them."""

    def __init__(self, saver: Any, thread_id: str, seed: int) -> None:
        self.saver = saver
        self.thread_id = thread_id
        self.rng = random.Random(seed)
        self.versions: dict[str, Any] = {}
        self.parent: str | None = None
        self.step = -1
        self.ids: list[str] = []

    def next(self) -> tuple[dict, dict, dict, dict]:
        from langgraph.checkpoint.base.id import uuid6
        from langgraph.checkpoint.conformance.test_utils import generate_checkpoint

        self.step += 1
        n = self.step
        values = {
            "text": text(self.rng, 1024),
            "meta": {"step": n, "tool": "search", "tags": ["a", "b"], "score": self.rng.random()},
            "counter": n,
        }
        new_versions = {}
        for channel in values:
            new_versions[channel] = self.saver.get_next_version(self.versions.get(channel), None)
        self.versions.update(new_versions)
        checkpoint = generate_checkpoint(
            checkpoint_id=str(uuid6(clock_seq=-1)),
            channel_values=values,
            channel_versions=dict(self.versions),
            versions_seen={"agent": {"counter": self.versions["counter"]}},
        )
        conf: dict[str, Any] = {"thread_id": self.thread_id, "checkpoint_ns": ""}
        if self.parent:
            conf["checkpoint_id"] = self.parent
        metadata = {"source": "loop", "step": n, "parents": {}}
        self.parent = checkpoint["id"]
        self.ids.append(checkpoint["id"])
        return {"configurable": conf}, checkpoint, metadata, new_versions


def writes_for(rng: random.Random, i: int) -> list[tuple[str, Any]]:
    return [("text", text(rng, 1024)), ("counter", i)]


def wconfig(thread_id: str, checkpoint_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": "", "checkpoint_id": checkpoint_id}}


async def seed_threads(saver: Any, prefix: str, count: int, seed: int) -> list[tuple[str, list[str]]]:
    """`count` threads of READ_THREAD_LEN checkpoints, each with 2 pending writes."""
    threads = []
    rng = random.Random(seed)
    for k in range(count):
        tid = f"{prefix}-{k}"
        chain = Chain(saver, tid, seed * 1000 + k)
        for _ in range(READ_THREAD_LEN):
            cfg = await saver.aput(*chain.next())
            await saver.aput_writes(cfg, writes_for(rng, 0), str(uuid.uuid4()))
        threads.append((tid, chain.ids))
    return threads


def make_ops(op: str, saver: Any, n: int, lane: int, tag: str, ctx: dict) -> list[Any]:
    """The calls (zero-argument coroutine factories) of one lane, built before timing."""
    rng = random.Random(zlib.crc32(f"{op}/{lane}/{tag}".encode()))
    calls: list[Any] = []
    if op == "aput":
        chain = Chain(saver, f"put-{tag}-{lane}", rng.randrange(2**31))
        for _ in range(n):
            a = chain.next()
            calls.append(lambda a=a: saver.aput(*a))
    elif op == "aget_tuple":
        tid, ids = ctx["read"][lane % len(ctx["read"])]
        for i in range(n):
            conf: dict[str, Any] = {"thread_id": tid, "checkpoint_ns": ""}
            if i % 2:
                conf["checkpoint_id"] = rng.choice(ids)
            calls.append(lambda c={"configurable": conf}: saver.aget_tuple(c))
    elif op == "alist":
        tid, _ids = ctx["read"][lane % len(ctx["read"])]
        cfg = {"configurable": {"thread_id": tid, "checkpoint_ns": ""}}

        async def list10() -> list:
            return [t async for t in saver.alist(cfg, limit=10)]

        calls = [list10] * n
    elif op == "aput_writes":
        tid, ids = ctx["write"][lane % len(ctx["write"])]
        for i in range(n):
            cfg = wconfig(tid, ids[i % len(ids)])
            w = writes_for(rng, i)
            calls.append(lambda cfg=cfg, w=w: saver.aput_writes(cfg, w, str(uuid.uuid4())))
    return calls


async def run_lane(calls: list[Any], lat: list[float]) -> None:
    for call in calls:
        t0 = time.perf_counter()
        await call()
        lat.append(time.perf_counter() - t0)


async def bench_raw(target: Target, args: argparse.Namespace, cpu: Cpu, emit: Any) -> None:
    saver = target.saver
    lanes = args.concurrency
    ctx = {
        "read": await seed_threads(saver, "read", lanes, 1),
        "write": await seed_threads(saver, "write", lanes, 2),
    }
    # warm-up: every op a few times
    for op in OPS:
        for k in range(len(target.savers())):
            await run_lane(make_ops(op, target.saver_for(k), 10, k, "warm", ctx), [])
    per_lane = max(1, args.ops // lanes)
    for rep in range(args.repeats):
        for op in OPS:
            for mode in ("seq", "conc"):
                if mode == "seq":
                    lane_calls = [make_ops(op, target.saver_for(0), args.ops, 0, f"s{rep}", ctx)]
                else:
                    lane_calls = [make_ops(op, target.saver_for(k), per_lane, k, f"c{rep}", ctx) for k in range(lanes)]
                lats: list[list[float]] = [[] for _ in lane_calls]
                cpu.start(target)
                t0 = time.perf_counter()
                try:
                    await gather_or_cancel(run_lane(c, l) for c, l in zip(lane_calls, lats))
                except Exception as error:
                    cpu.stop()
                    emit({"kind": "error", "workload": "raw", "saver": target.name, "op": op, "mode": mode,
                          "repeat": rep, "done": sum(map(len, lats)), "error": describe(error)})
                    continue
                wall = time.perf_counter() - t0
                usage = cpu.stop()
                allv = [v for l in lats for v in l]
                emit({
                    "kind": "raw", "saver": target.name, "op": op, "mode": mode, "repeat": rep,
                    "tasks": len(lane_calls), "n": len(allv), "wall_s": wall, "ops_s": len(allv) / wall,
                    "p50_ms": pct(allv, 0.5) * 1e3, "p90_ms": pct(allv, 0.9) * 1e3,
                    "p99_ms": pct(allv, 0.99) * 1e3, "max_ms": max(allv) * 1e3, **usage,
                })


# ------------------------------------------------------------------ workloads 2 and 3: StateGraph

class AgentState(TypedDict):
    messages: Annotated[list, add_messages]
    steps: int
    target: int
    seed: int


def build_graph(checkpointer: Any, marks: dict[str, list[float]]) -> Any:
    from langchain_core.messages import AIMessage, ToolMessage
    from langgraph.graph import END, START, StateGraph

    async def agent(state: AgentState, config: RunnableConfig) -> dict:
        marks[config["configurable"]["thread_id"]].append(time.perf_counter())
        n, seed = state["steps"], state["seed"]
        rng = random.Random(seed * 1_000_003 + n * 2)
        call = {
            "name": "search",
            "args": {"query": text(rng, 80), "page": n},
            "id": f"call_{seed}_{n}",
            "type": "tool_call",
        }
        return {"messages": [AIMessage(content=text(rng, 1024), tool_calls=[call])]}

    async def tools(state: AgentState) -> dict:
        n, seed = state["steps"], state["seed"]
        rng = random.Random(seed * 1_000_003 + n * 2 + 1)
        last = state["messages"][-1]
        reply = ToolMessage(content=text(rng, 2048), tool_call_id=last.tool_calls[0]["id"], name="search")
        return {"messages": [reply], "steps": n + 1}

    def route(state: AgentState) -> str:
        return END if state["steps"] >= state["target"] else "agent"

    builder = StateGraph(AgentState)
    builder.add_node("agent", agent)
    builder.add_node("tools", tools)
    builder.add_edge(START, "agent")
    builder.add_edge("agent", "tools")
    builder.add_conditional_edges("tools", route, ["agent", END])
    return builder.compile(checkpointer=checkpointer)


async def run_thread(graph: Any, tid: str, seed: int, target: int, first: bool, durability: str, done_steps: int) -> None:
    from langchain_core.messages import HumanMessage

    inputs: dict[str, Any] = {"target": target}
    if first:
        inputs.update(messages=[HumanMessage(content="Find and fix the failing test in the repository.")], steps=0, seed=seed)
    config = {"configurable": {"thread_id": tid}, "recursion_limit": 2 * (target - done_steps) + 20}
    out = await graph.ainvoke(inputs, config, durability=durability)
    if out["steps"] != target or len(out["messages"]) != 1 + 2 * target:
        raise RuntimeError(f"{tid}: graph ended at step {out['steps']} with {len(out['messages'])} messages, wanted {target}")


async def bench_loop(target: Target, args: argparse.Namespace, durability: str, rep: int, cpu: Cpu, emit: Any) -> None:
    marks: dict[str, list[float]] = defaultdict(list)
    graphs = [build_graph(saver, marks) for saver in target.savers()]
    tid = f"loop-{durability}-{rep}"
    steps = args.steps
    points = sorted({max(1, steps // 4), max(1, steps // 2), steps})
    before = await target.storage()
    emit({"kind": "loop_storage", "saver": target.name, "durability": durability, "repeat": rep, "step": 0, **before})
    wall = 0.0
    step_times: list[float] = []
    done = 0
    cpu_total: dict[str, float] = defaultdict(float)
    for segment, point in enumerate(points):
        cpu.start(target)
        t0 = time.perf_counter()
        await run_thread(graphs[segment % len(graphs)], tid, 7 + rep, point, done == 0, durability, done)
        t1 = time.perf_counter()
        for k, v in cpu.stop().items():
            if v is not None:
                cpu_total[k] += v
            elif k == "daemon_cpu_s":
                cpu_total[k] = float("nan")
        wall += t1 - t0
        seg = marks[tid][done:] + [t1]
        step_times += [b - a for a, b in zip(seg, seg[1:])]
        done = point
        st = await target.storage()
        emit({"kind": "loop_storage", "saver": target.name, "durability": durability, "repeat": rep, "step": point, **st})
    emit({
        "kind": "loop", "saver": target.name, "repeat": rep, "steps": steps, "wall_s": wall,
        "step_median_ms": median(step_times) * 1e3, "step_p99_ms": pct(step_times, 0.99) * 1e3,
        "durability": durability, "hosts": len(graphs),
        **{k: (None if v != v else v) for k, v in cpu_total.items()},
    })


async def bench_multi(target: Target, args: argparse.Namespace, durability: str, rep: int, cpu: Cpu, emit: Any) -> None:
    marks: dict[str, list[float]] = defaultdict(list)
    graphs = [build_graph(saver, marks) for saver in target.savers()]
    n, steps = args.threads, args.thread_steps
    cpu.start(target)
    t0 = time.perf_counter()
    await gather_or_cancel(
        run_thread(graphs[k % len(graphs)], f"multi-{durability}-{rep}-{k}", 1000 + k, steps, True, durability, 0)
        for k in range(n)
    )
    wall = time.perf_counter() - t0
    usage = cpu.stop()
    emit({
        "kind": "multi", "saver": target.name, "repeat": rep, "threads": n, "steps": steps, "hosts": len(graphs),
        "wall_s": wall, "steps_s": n * steps / wall, "durability": durability, **usage,
    })


# ------------------------------------------------------------------ summary and table

#: What a loop or many-threads measurement cost besides wall time (medians kept per saver).
COST_FIELDS = ("client_cpu_s", "daemon_cpu_s", "pg_cpu_s", "s3_cpu_s", "pg_data_segs_out", "pg_data_segs_in",
               "pg_bytes_sent", "pg_bytes_received", "s3_data_segs_out", "s3_data_segs_in", "s3_bytes_sent",
               "s3_bytes_received", "sql_statements", "pg_wal_bytes", "pg_write_xacts")


def final_storage(saver: str, rec: dict[str, Any]) -> int | None:
    """The storage figure a saver is judged by: Stasis the larger of Health.store_bytes and du
    after a WAL checkpoint; fleet store and AsyncPostgresSaver catalog/schema relations (+ the
    bucket prefix for the fleet store); AsyncSqliteSaver db + wal after a checkpoint;
    InMemorySaver the pickled dicts."""
    if saver == "stasis":
        vals = [rec.get(f) for f in ("store_bytes", "du_after_ckpt_bytes") if rec.get(f) is not None]
        return max(vals) if vals else None
    if saver in SERVICE_SAVERS:
        return rec.get("total_bytes")
    if saver == "sqlite":
        return rec.get("du_after_ckpt_bytes")
    return rec.get("pickle_bytes")


def summarize(records: list[dict]) -> dict[str, Any]:
    by: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        if r.get("kind") == "raw":
            by[("raw", r["saver"], r["op"], r["mode"])].append(r)
        elif r.get("kind") in ("loop", "multi"):
            by[(r["kind"], r["saver"], r["durability"])].append(r)

    def med(key: tuple, field: str) -> float | None:
        vals = [r[field] for r in by.get(key, []) if r.get(field) is not None]
        return statistics.median(vals) if vals else None

    raw: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for key in by:
        if key[0] == "raw":
            _, saver, op, mode = key
            row = raw[op].setdefault(saver, {})
            for f in ("ops_s", "p50_ms", "p99_ms", "client_cpu_s", "daemon_cpu_s", "n"):
                row[f"{mode}_{f}"] = med(key, f)
    loop: dict[str, dict[str, dict]] = defaultdict(dict)
    multi: dict[str, dict[str, dict]] = defaultdict(dict)
    for k in by:
        if k[0] == "loop":
            loop[k[2]][k[1]] = {f: med(k, f) for f in ("wall_s", "step_median_ms", "step_p99_ms", "steps", "hosts") + COST_FIELDS}
        elif k[0] == "multi":
            multi[k[2]][k[1]] = {f: med(k, f) for f in ("wall_s", "steps_s", "threads", "steps", "hosts") + COST_FIELDS}
    # storage: the first repeat of the first durability mode (for Stasis the loop is then the
    # first thing on its fresh store)
    first_mode = next((r["durability"] for r in records if r.get("kind") == "loop_storage"), None)
    storage: dict[str, dict[int, dict]] = defaultdict(dict)
    for r in records:
        if r.get("kind") == "loop_storage" and r.get("repeat") == 0 and r.get("durability", first_mode) == first_mode:
            storage[r["saver"]][r["step"]] = r
    errors = [r for r in records if r.get("kind") == "error"]
    failed = {(e.get("workload"), e.get("saver"), e.get("op") or e.get("durability")) for e in errors}
    checks = []

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a and b else None

    savers_seen = {r.get("saver") for r in records if r.get("kind") in ("raw", "loop", "multi", "error")}
    for op in OPS:
        s, q = raw.get(op, {}).get("stasis", {}), raw.get(op, {}).get("sqlite")
        if q and "stasis" in savers_seen:
            r = ratio(s.get("conc_ops_s"), q.get("conc_ops_s"))
            checks.append({"check": f"{op} ops/s vs AsyncSqlite (concurrent)", "value": r,
                           "target": f">= {TARGET_RAW_RATIO}x", "error": ("raw", "stasis", op) in failed,
                           "pass": r is not None and r >= TARGET_RAW_RATIO and ("raw", "stasis", op) not in failed,
                           "seq_ratio": ratio(s.get("seq_ops_s"), q.get("seq_ops_s"))})
    for mode, m in multi.items():
        if "sqlite" in m and "stasis" in savers_seen:
            r = ratio(m.get("stasis", {}).get("steps_s"), m["sqlite"]["steps_s"])
            checks.append({"check": f"many-threads steps/s vs AsyncSqlite (durability={mode})", "value": r,
                           "target": f">= {TARGET_MULTI_RATIO}x", "error": ("multi", "stasis", mode) in failed,
                           "pass": r is not None and r >= TARGET_MULTI_RATIO and ("multi", "stasis", mode) not in failed})
    for mode, m in loop.items():
        if "memory" in m and "stasis" in savers_seen:
            r = ratio(m.get("stasis", {}).get("wall_s"), m["memory"]["wall_s"])
            checks.append({"check": f"agent loop wall vs InMemory (durability={mode})", "value": r,
                           "target": f"<= {TARGET_LOOP_VS_MEMORY}x", "error": ("loop", "stasis", mode) in failed,
                           "pass": r is not None and r <= TARGET_LOOP_VS_MEMORY and ("loop", "stasis", mode) not in failed})
        if "stasis" in m and "sqlite" in m:
            r = ratio(m["sqlite"]["wall_s"], m["stasis"]["wall_s"])
            checks.append({"check": f"agent loop speed vs AsyncSqlite (durability={mode}; information)", "value": r,
                           "target": "-", "pass": None})
    growth: dict[str, dict[str, Any]] = {}
    for saver, pts in storage.items():
        steps = sorted(p for p in pts if p > 0)
        if len(steps) < 3:
            continue
        a, b, c = steps[-3:]
        g: dict[str, Any] = {"points": [a, b, c]}
        for field in ("store_bytes", "du_after_ckpt_bytes", "pickle_bytes", "total_bytes"):
            if all(pts[q].get(field) is not None for q in (a, b, c)):
                x, y, z = pts[a][field], pts[b][field], pts[c][field]
                first, second = (y - x) / (b - a), (z - y) / (c - b)
                g[field] = {"at": [x, y, z], "per_step_first": first, "per_step_second": second,
                            "ratio": second / first if first > 0 else None}
        growth[saver] = g
    if "stasis" in growth:
        g = growth["stasis"]
        final = max(g[f]["at"][2] for f in ("store_bytes", "du_after_ckpt_bytes") if f in g)
        checks.append({"check": f"Stasis storage after {g['points'][2]} steps (max of store_bytes, du)",
                       "value": final, "target": f"< {TARGET_STORAGE_BYTES / 1e6:.0f} MB",
                       "pass": final < TARGET_STORAGE_BYTES})
        ratios = [g[f]["ratio"] for f in ("store_bytes", "du_after_ckpt_bytes") if f in g]
        worst = max((x for x in ratios if x is not None), default=None)
        checks.append({"check": "Stasis growth linear (bytes/step 2nd half / 2nd quarter, worst of both)",
                       "value": worst, "target": f"<= {TARGET_GROWTH_RATIO}",
                       "pass": worst is not None and worst <= TARGET_GROWTH_RATIO})
    # Many hosts, one store: stasis-fleet vs AsyncPostgresSaver.
    for mode, m in multi.items():
        if "postgres" in m and "stasis-fleet" in savers_seen:
            r = ratio(m.get("stasis-fleet", {}).get("steps_s"), m["postgres"]["steps_s"])
            bad = ("multi", "stasis-fleet", mode) in failed
            checks.append({"check": f"many-threads steps/s stasis-fleet (2 daemons, 2 hosts) / AsyncPostgresSaver (durability={mode})", "unit": "x",
                           "value": r, "target": f">= {TARGET_FLEET_MULTI_VS_POSTGRES}x", "error": bad,
                           "pass": r is not None and r >= TARGET_FLEET_MULTI_VS_POSTGRES and not bad})
        for other, label in (("stasis", "stasis (1 daemon)"), ("stasis-fleet", None)):
            for pg in ("postgres", "postgres-2"):
                if other in m and pg in m and not (other == "stasis-fleet" and pg == "postgres"):
                    r = ratio(m[other].get("steps_s"), m[pg].get("steps_s"))
                    checks.append({"check": f"many-threads steps/s {label or other} / {pg} (durability={mode}; information)", "unit": "x",
                                   "value": r, "target": "-", "pass": None})
    finals: dict[str, dict[str, Any]] = {}
    for saver, pts in storage.items():
        last = max(pts)
        if last > 0:
            finals[saver] = {"step": last, "bytes": final_storage(saver, pts[last])}
    if "postgres" in finals:
        pg = finals["postgres"]["bytes"]
        for saver in ("stasis", "stasis-fleet"):
            if saver in finals and finals[saver]["step"] == finals["postgres"]["step"]:
                r = ratio(pg, finals[saver]["bytes"])
                checks.append({"check": f"storage after {finals[saver]['step']} steps, AsyncPostgresSaver / {saver}", "unit": "x",
                               "value": r, "target": f">= {TARGET_STORAGE_VS_POSTGRES}x",
                               "pass": r is not None and r >= TARGET_STORAGE_VS_POSTGRES})
    return {"raw": raw, "loop": loop, "multi": multi, "storage": {k: {str(s): v for s, v in d.items()} for k, d in storage.items()},
            "growth": growth, "finals": finals, "checks": checks, "errors": errors}


def fmt(v: Any, spec: str = ".1f") -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    return format(v, spec)


def mb(v: Any) -> str:
    return "-" if v is None else f"{v / 1e6:.2f} MB"


def per_step(v: Any, steps: Any, scale: float = 1.0, spec: str = ".1f") -> str:
    return fmt(v * scale / steps, spec) if (v is not None and steps) else "-"


def cost_table(p: Any, title: str, rows: dict[str, dict[str, dict]], steps_of: Any) -> None:
    """Where the time goes, per step: CPU of each side, and the traffic to the services."""
    lines = []
    for mode in rows:
        for saver in SAVERS:
            r = rows[mode].get(saver)
            if not r:
                continue
            steps = steps_of(r)
            wall = r.get("wall_s")
            cpu = [r.get(f) for f in ("client_cpu_s", "daemon_cpu_s", "pg_cpu_s", "s3_cpu_s")]
            total = sum(c for c in cpu if c is not None)
            lines.append(
                f"{mode:<10} {saver:<12} {per_step(wall, steps, 1e3, '.2f'):>8} {per_step(cpu[0], steps, 1e3, '.2f'):>8} "
                f"{per_step(cpu[1], steps, 1e3, '.2f'):>8} {per_step(cpu[2], steps, 1e3, '.2f'):>8} {per_step(cpu[3], steps, 1e3, '.2f'):>8} "
                f"{fmt(total / wall if wall else None, '.2f'):>6} "
                f"{per_step(r.get('pg_data_segs_in'), steps, 1, '.1f'):>8} {per_step(r.get('pg_bytes_sent'), steps, 1e-3, '.1f'):>8} "
                f"{per_step(r.get('pg_bytes_received'), steps, 1e-3, '.1f'):>8} {per_step(r.get('sql_statements'), steps, 1, '.1f'):>7} "
                f"{per_step(r.get('pg_write_xacts'), steps, 1, '.2f'):>7} {per_step(r.get('pg_wal_bytes'), steps, 1e-3, '.1f'):>8} "
                f"{per_step(r.get('s3_data_segs_out'), steps, 1, '.2f'):>7} {per_step(r.get('s3_bytes_sent'), steps, 1e-3, '.1f'):>8}")
    if not lines:
        return
    p("")
    p(title)
    p(f"{'durability':<10} {'saver':<12} {'wall ms':>8} {'client':>8} {'daemons':>8} {'postgres':>8} {'s3':>8} "
      f"{'cores':>6} {'pg segs':>8} {'pg KB':>8} {'pg KB':>8} {'SQL':>7} {'pg':>7} {'pg WAL':>8} {'s3 segs':>7} {'s3 KB':>8}")
    p(f"{'':<10} {'':<12} {'':>8} {'cpu ms':>8} {'cpu ms':>8} {'cpu ms':>8} {'cpu ms':>8} "
      f"{'busy':>6} {'from pg':>8} {'to pg':>8} {'from pg':>8} {'stmts':>7} {'xids':>7} {'KB':>8} {'to s3':>7} {'to s3':>8}")
    for line in lines:
        p(line)


def render(summary: dict[str, Any], meta: dict[str, Any] | None) -> str:
    out: list[str] = []
    p = out.append
    if meta:
        a = meta.get("args", {})
        p(f"LangGraph checkpointers, {meta.get('time', '')}: ops={a.get('ops')} concurrency={a.get('concurrency')} "
          f"steps={a.get('steps')} threads={a.get('threads')}x{a.get('thread_steps')} repeats={a.get('repeats')} "
          f"durability={a.get('durability')}; langgraph {meta.get('langgraph')}, sqlite saver "
          f"{meta.get('langgraph_checkpoint_sqlite')} (synchronous={meta.get('sqlite_synchronous')}), {meta.get('cpus')} CPUs"
          + (f"; load average {meta['loadavg_start'][0]:.1f} at the start" if meta.get("loadavg_start") else "")
          + (f", {meta['loadavg_end'][0]:.1f} at the end" if meta.get("loadavg_end") else ""))
        if meta.get("postgres"):
            pg = meta["postgres"]
            p(f"PostgreSQL {pg.get('server_version')} (fsync={pg.get('fsync')}, synchronous_commit={pg.get('synchronous_commit')}); "
              f"langgraph-checkpoint-postgres {meta.get('langgraph_checkpoint_postgres')}, psycopg {meta.get('psycopg')}, "
              f"pool max_size {a.get('pg_pool')}; fleet hosts {a.get('fleet_hosts')}")
    raw = summary["raw"]
    if raw:
        p("")
        p("Raw API (medians over repeats). seq = one task; conc = concurrent tasks on different threads.")
        p(f"{'op':<12} {'saver':<12} {'seq p50 ms':>10} {'seq p99 ms':>10} {'seq ops/s':>10} {'conc ops/s':>10} "
          f"{'conc p50':>9} {'conc p99':>9} {'cpu/op client':>13} {'cpu/op daemon':>13}")
        for op in OPS:
            for saver in SAVERS:
                r = raw.get(op, {}).get(saver)
                if not r:
                    continue
                n = r.get("conc_n") or 0
                cc = r.get("conc_client_cpu_s")
                dc = r.get("conc_daemon_cpu_s")
                p(f"{op:<12} {saver:<12} {fmt(r.get('seq_p50_ms'), '.3f'):>10} {fmt(r.get('seq_p99_ms'), '.3f'):>10} "
                  f"{fmt(r.get('seq_ops_s'), '.0f'):>10} {fmt(r.get('conc_ops_s'), '.0f'):>10} "
                  f"{fmt(r.get('conc_p50_ms'), '.2f'):>9} {fmt(r.get('conc_p99_ms'), '.2f'):>9} "
                  f"{(fmt(cc / n * 1e6, '.0f') + ' us') if cc and n else '-':>13} "
                  f"{(fmt(dc / n * 1e6, '.0f') + ' us') if dc is not None and n else '-':>13}")
    loop = summary["loop"]
    if loop:
        p("")
        p("Agent loop, one thread (a step = agent node + tools node = 2 checkpoints; with 2 hosts its 3 segments alternate hosts):")
        p(f"{'durability':<10} {'saver':<12} {'steps':>6} {'wall s':>8} {'step p50 ms':>11} {'step p99 ms':>11} {'client cpu s':>12} {'daemon cpu s':>12} {'pg cpu s':>8}")
        for mode in loop:
          for saver in SAVERS:
            r = loop[mode].get(saver)
            if r:
                p(f"{mode:<10} {saver:<12} {fmt(r['steps'], '.0f'):>6} {fmt(r['wall_s'], '.3f'):>8} {fmt(r['step_median_ms'], '.2f'):>11} "
                  f"{fmt(r['step_p99_ms'], '.2f'):>11} {fmt(r.get('client_cpu_s'), '.2f'):>12} {fmt(r.get('daemon_cpu_s'), '.2f'):>12} "
                  f"{fmt(r.get('pg_cpu_s'), '.2f'):>8}")
    storage = summary["storage"]
    if storage:
        p("")
        p("Storage during the agent loop (first repeat):")
        for saver in SAVERS:
            pts = storage.get(saver)
            if not pts:
                continue
            for step in sorted(pts, key=int):
                s = pts[step]
                if saver == "stasis":
                    ck = s.get("wal_checkpoint", {})
                    p(f"  stasis step {step:>4}: store_bytes {mb(s.get('store_bytes'))}; du {mb(s.get('du_bytes'))} "
                      f"(catalog {mb(s.get('catalog_bytes'))} + wal {mb(s.get('wal_bytes'))}); after WAL checkpoint "
                      f"du {mb(s.get('du_after_ckpt_bytes'))} (catalog {mb(s.get('catalog_after_ckpt_bytes'))}, "
                      f"wal {mb(s.get('wal_after_ckpt_bytes'))}{', busy' if ck.get('busy') else ''})")
                elif saver == "stasis-fleet":
                    tables = s.get("catalog_tables") or {}
                    big = sorted(tables.items(), key=lambda kv: -kv[1]["total"])[:3]
                    p(f"  stasis-fleet step {step:>4}: {mb(s.get('total_bytes'))} = catalog schema {mb(s.get('catalog_bytes'))} "
                      f"({len(tables)} tables; largest " + ", ".join(f"{k} {mb(v['total'])}" for k, v in big) + ") "
                      f"+ bucket prefix {mb(s.get('objects_bytes'))} ({s.get('objects')} objects); store_bytes {mb(s.get('store_bytes'))}; "
                      f"host directories {mb(s.get('host_dirs_du_bytes'))}")
                elif saver in ("postgres", "postgres-2"):
                    tables = s.get("tables") or {}
                    p(f"  {saver} step {step:>4}: {mb(s.get('total_bytes'))} = " + " + ".join(
                        f"{k} {mb(v['total'])} ({v.get('rows')} rows)"
                        for k, v in sorted(tables.items(), key=lambda kv: -kv[1]["total"])))
                elif saver == "sqlite":
                    p(f"  sqlite step {step:>4}: db {mb(s.get('db_bytes'))} + wal {mb(s.get('wal_bytes'))}; after "
                      f"wal_checkpoint(TRUNCATE) db {mb(s.get('db_after_ckpt_bytes'))} + wal {mb(s.get('wal_after_ckpt_bytes'))}")
                else:
                    p(f"  memory step {step:>4}: pickled dicts {mb(s.get('pickle_bytes'))}")
                b = s.get("breakdown") or {}
                if saver.startswith("stasis") and b.get("chunks"):
                    p(f"              of which: chunk data {mb(b['chunk_data'])} ({b['chunks']} chunks, {mb(b['chunk_raw'])} raw), "
                      f"chunk lists {mb(b['chunk_lists'])} ({b['values']} values, largest list {b['largest_chunk_list']} B), "
                      f"checkpoint rows {mb(b['checkpoint_rows'])}")
        for saver, g in summary["growth"].items():
            a, b, c = g["points"]
            for field in ("store_bytes", "du_after_ckpt_bytes", "pickle_bytes", "total_bytes"):
                if field in g:
                    x = g[field]
                    p(f"  growth {saver:<12} {field:<20} bytes/step {a}->{b}: {fmt(x['per_step_first'], '.0f'):>8}   "
                      f"{b}->{c}: {fmt(x['per_step_second'], '.0f'):>8}   ratio {fmt(x['ratio'], '.2f')}")
        finals = summary.get("finals") or {}
        if finals:
            pg = (finals.get("postgres") or {}).get("bytes")
            p("")
            p("Storage after the agent loop (stasis: max of store_bytes and du after a WAL checkpoint; stasis-fleet: catalog "
              "schema relations + bucket prefix; postgres: schema relations; sqlite: db + wal; memory: pickled):")
            p(f"  {'saver':<12} {'steps':>5} {'bytes':>12} {'MB':>9} {'postgres / this':>16}")
            for saver in SAVERS:
                f = finals.get(saver)
                if f:
                    p(f"  {saver:<12} {f['step']:>5} {fmt(f['bytes'], '.0f'):>12} {fmt(f['bytes'] / 1e6 if f['bytes'] is not None else None, '.2f'):>9} "
                      f"{(fmt(pg / f['bytes'], '.1f') + 'x') if pg and f['bytes'] else '-':>16}")
    multi = summary["multi"]
    if multi:
        p("")
        p("Many threads at once (asyncio.gather of graph runs; with 2 hosts half the threads go to each):")
        p(f"{'durability':<10} {'saver':<12} {'threads x steps':>15} {'wall s':>8} {'steps/s':>9} {'client cpu s':>12} {'daemon cpu s':>12} {'pg cpu s':>8} {'s3 cpu s':>8}")
        for mode in multi:
          for saver in SAVERS:
            r = multi[mode].get(saver)
            if r:
                p(f"{mode:<10} {saver:<12} {fmt(r['threads'], '.0f') + ' x ' + fmt(r['steps'], '.0f'):>15} {fmt(r['wall_s'], '.3f'):>8} "
                  f"{fmt(r['steps_s'], '.0f'):>9} {fmt(r.get('client_cpu_s'), '.2f'):>12} {fmt(r.get('daemon_cpu_s'), '.2f'):>12} "
                  f"{fmt(r.get('pg_cpu_s'), '.2f'):>8} {fmt(r.get('s3_cpu_s'), '.2f'):>8}")
        cost_table(p, "Where the time goes, many threads, per step (medians; wall ms = wall / steps; cores busy = all CPU listed / wall;\n"
                      "pg segs from pg = TCP data segments PostgreSQL sent these connections, ~ round trips; SQL stmts counted in psycopg\n"
                      "(AsyncPostgresSaver only); pg xids = transaction ids assigned (transactions and savepoints that wrote) and pg WAL =\n"
                      "WAL written, both cluster-wide, so anything else using PostgreSQL meanwhile counts too):",
                   multi, lambda r: (r.get("threads") or 0) * (r.get("steps") or 0))
    if loop:
        cost_table(p, "Where the time goes, agent loop, per step (same columns):", loop, lambda r: r.get("steps"))
    if summary.get("errors"):
        p("")
        p("Errors (a failed measurement is left out of the medians; its target fails):")
        for e in summary["errors"]:
            where = ", ".join(f"{k}={e[k]}" for k in ("workload", "saver", "op", "mode", "durability", "repeat") if e.get(k) is not None)
            p(f"  {where}: {e['error']}")
    if summary["checks"]:
        p("")
        p("Targets:")
        for c in summary["checks"]:
            v = c["value"]
            if c.get("unit") == "x":
                shown = fmt(v, ".2f") + ("x" if v is not None else "")
            else:
                shown = mb(v) if "storage" in c["check"] else (fmt(v, ".2f") + ("x" if "ratio" not in c["check"] and "linear" not in c["check"] else ""))
            extra = f" (sequential {fmt(c['seq_ratio'], '.2f')}x)" if c.get("seq_ratio") is not None else ""
            if c.get("error"):
                extra += " [Stasis errors, see above]"
            verdict = "info" if c["pass"] is None else ("PASS" if c["pass"] else "FAIL")
            if c["pass"] is not None and c.get("unit") == "x":
                verdict = "MET " if c["pass"] else "NOT MET"
            p(f"  {verdict}  {c['check']}: {shown}{extra}  target {c['target']}")
    return "\n".join(out)


# ------------------------------------------------------------------ main

def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("langgraph", "langgraph-checkpoint", "langgraph-checkpoint-sqlite", "aiosqlite", "grpcio", "stasis-langgraph",
                "langgraph-checkpoint-postgres", "psycopg", "psycopg-pool"):
        try:
            out[pkg.replace("-", "_")] = version(pkg)
        except PackageNotFoundError:
            out[pkg.replace("-", "_")] = None
    return out


async def amain(args: argparse.Namespace) -> int:
    savers = [s.strip() for s in args.savers.split(",") if s.strip()]
    for s in savers:
        if s not in SAVERS:
            raise SystemExit(f"unknown saver {s!r}: use {','.join(SAVERS)}")
    if "stasis" in savers and not args.stasis_address:
        raise SystemExit("--stasis-address is required for the stasis saver")
    if "stasis-fleet" in savers and not args.fleet_address:
        raise SystemExit("--fleet-address is required for the stasis-fleet saver (langgraph.sh makes the fleet store)")
    if args.services_dir:
        os.environ["STASIS_SERVICES_DIR"] = args.services_dir
    os.makedirs(args.sqlite_dir, exist_ok=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    records: list[dict] = []
    out = open(args.out, "a")
    run_id = time.strftime("%Y%m%dT%H%M%S")

    def emit(rec: dict) -> None:
        rec = {"run": run_id, **rec}
        records.append(rec)
        out.write(json.dumps(rec, default=str) + "\n")
        out.flush()
        if args.verbose:
            print("  " + json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in rec.items()
                                     if not isinstance(v, dict)}), file=sys.stderr)

    cpu = Cpu()
    workloads = [w.strip() for w in args.workloads.split(",")]
    meta = {
        "kind": "meta", "time": time.strftime("%Y-%m-%d %H:%M:%S"), "args": vars(args), "savers": savers,
        "cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
        "loadavg_start": os.getloadavg(), **versions(),
    }
    if "sqlite" in savers:
        t = SqliteTarget(os.path.join(args.sqlite_dir, "probe.sqlite"))
        await t.open()
        meta["sqlite_synchronous"] = t.synchronous
        await t.close()
    if any(s in SERVICE_SAVERS for s in savers):
        import langgraph_services as svc

        def pg_settings() -> dict[str, Any]:
            with svc.connect() as con:
                return dict(con.execute("SELECT name, setting FROM pg_settings WHERE name IN "
                                        "('server_version', 'fsync', 'synchronous_commit', 'shared_buffers')").fetchall())
        meta["postgres"] = await asyncio.to_thread(pg_settings)
    emit(meta)

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    async def measure(name: str, label: str, body: Any, where: dict[str, Any]) -> None:
        """Opens a fresh target, runs body(target), closes it; a failure is recorded, not fatal."""
        target = make_target(name, args, label)
        try:
            await target.open()
        except Exception as error:
            emit({"kind": "error", **where, "saver": name, "error": "open: " + describe(error)})
            log(f"  FAILED to open: {describe(error)}")
            return
        try:
            await body(target)
        except Exception as error:
            emit({"kind": "error", **where, "saver": name, "error": describe(error)})
            log(f"  FAILED: {describe(error)}")
        finally:
            try:
                await target.close()
            except Exception as error:
                log(f"  closing {name} failed: {describe(error)}")

    # The agent loop goes first: on Stasis it is then alone on the fresh store.
    modes = [m.strip() for m in args.durability.split(",") if m.strip()]
    if "loop" in workloads:
        for mode in modes:
          for rep in range(args.repeats):
            for name in savers:
                log(f"agent loop: {name}, {args.steps} steps, durability={mode}, repeat {rep + 1}/{args.repeats}")
                await measure(name, f"loop-{mode}-{rep}",
                              lambda t, mode=mode, rep=rep: bench_loop(t, args, mode, rep, cpu, emit),
                              {"workload": "loop", "durability": mode, "repeat": rep})
    if "raw" in workloads:
        for name in savers:
            log(f"raw API: {name}, {args.ops} ops x {len(OPS)} ops x {args.repeats} repeats")
            await measure(name, "raw", lambda t: bench_raw(t, args, cpu, emit), {"workload": "raw"})
    if "multi" in workloads:
        for mode in modes:
          for rep in range(args.repeats):
            for name in savers:
                log(f"many threads: {name}, {args.threads} x {args.thread_steps} steps, durability={mode}, repeat {rep + 1}/{args.repeats}")
                await measure(name, f"multi-{mode}-{rep}",
                              lambda t, mode=mode, rep=rep: bench_multi(t, args, mode, rep, cpu, emit),
                              {"workload": "multi", "durability": mode, "repeat": rep})
    store_table = None
    if "store" in workloads:
        import langgraph_store_bench as store_bench

        stores = [s for s in savers if s in store_bench.STORES]
        medians = await store_bench.bench(args, stores, emit, log)
        emit({"kind": "store_summary", "medians": medians})
        store_table = store_bench.render(medians, args.concurrency)
    summary = summarize(records)
    meta["loadavg_end"] = os.getloadavg()
    emit({"kind": "summary", **summary, "loadavg_end": meta["loadavg_end"]})
    out.close()
    print(render(summary, meta))
    if store_table:
        print("\n" + store_table)
    print(f"\nraw results: {args.out}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--savers", default="stasis,sqlite,memory")
    ap.add_argument("--workloads", default="loop,raw,multi", help="any of loop,raw,multi,store (store: see langgraph_store_bench.py)")
    ap.add_argument("--ops", type=int, default=2000, help="calls per raw op and mode")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--steps", type=int, default=200, help="agent loop steps (storage at 1/4, 1/2, all)")
    ap.add_argument("--threads", type=int, default=20)
    ap.add_argument("--thread-steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--durability", default="async,sync", help="LangGraph durability modes to run the graphs in (async,sync,exit)")
    ap.add_argument("--quick", action="store_true", help="a ~1 minute smoke run (small sizes, 1 repeat)")
    ap.add_argument("--stasis-address", help="unix:///.../stasis.sock")
    ap.add_argument("--stasis-store", help="the daemon's store directory (for du and WAL sizes)")
    ap.add_argument("--stasis-pid", type=int, help="the daemon's pid (for its CPU time)")
    ap.add_argument("--fleet-address", help="the fleet store's daemons, one per host: unix:///…/stasis.sock,unix:///…")
    ap.add_argument("--fleet-store", help="their host directories, comma-separated (for du)")
    ap.add_argument("--fleet-pid", help="their pids, comma-separated (for their CPU time and connections)")
    ap.add_argument("--fleet-hosts", help="the hosts' names (network namespaces), for the report")
    ap.add_argument("--fleet-schema", help="the fleet catalog's PostgreSQL schema (for its relation sizes)")
    ap.add_argument("--fleet-objects", help="the fleet store's s3://BUCKET/PREFIX (for the bytes under it)")
    ap.add_argument("--pg-pool", type=int, default=20, help="AsyncPostgresSaver's AsyncConnectionPool max_size")
    ap.add_argument("--services-dir", help="Tools/services/start.sh's state directory (pid files; default $STASIS_SERVICES_DIR)")
    ap.add_argument("--sqlite-dir", default="/tmp/langgraph-bench-sqlite", help="where AsyncSqliteSaver's files go")
    ap.add_argument("--out", default=f"bench-data/langgraph-{time.strftime('%Y%m%d-%H%M%S')}.jsonl")
    ap.add_argument("--report", metavar="JSONL", help="print the table of an earlier run and exit")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    for mode in args.durability.split(","):
        if mode.strip() not in ("async", "sync", "exit"):
            ap.error(f"--durability: {mode!r} is not async, sync or exit")
    if args.report:
        with open(args.report) as f:
            recs = [json.loads(line) for line in f if line.strip()]
        runs = [r["run"] for r in recs if r.get("kind") == "meta"]
        recs = [r for r in recs if r.get("run") == runs[-1]] if runs else recs
        meta = next((r for r in recs if r.get("kind") == "meta"), None)
        print(render(summarize(recs), meta))
        return 0
    if args.quick:
        args.ops = min(args.ops, 160)
        args.steps = min(args.steps, 40)
        args.thread_steps = min(args.thread_steps, 5)
        args.repeats = 1
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
