"""The daemon is SIGKILLed between two steps of a run and restarted: everything it had
acknowledged is still there, and the run carries on with the same saver (same channels)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from langgraph.graph import END, START, StateGraph
from test_graphs import Log, chain_graph, new_thread

from stasis_langgraph import StasisDaemon, StasisSaver

STEPS = ["s1", "s2", "s3", "s4", "s5", "s6"]


def _snapshot(saver: StasisSaver, config) -> dict[str, tuple]:
    """Every stored checkpoint of the thread: id -> (parent, metadata, values, pending writes)."""
    return {
        t.config["configurable"]["checkpoint_id"]: (
            t.parent_config["configurable"]["checkpoint_id"] if t.parent_config else None,
            t.metadata,
            t.checkpoint["channel_values"],
            t.pending_writes,
        )
        for t in saver.list(config)
    }


def test_sigkill_between_steps(new_store: Callable[[str], str]) -> None:
    daemon = StasisDaemon(new_store("restart")).start()
    saver = StasisSaver(daemon.unix_address)
    try:
        # interrupt after every node: each invoke runs one step and returns once its
        # checkpoint is stored
        graph = chain_graph(saver, STEPS, interrupt_after="*")
        config = new_thread()
        graph.invoke({"log": []}, config, durability="sync")
        graph.invoke(None, config, durability="sync")
        graph.invoke(None, config, durability="sync")
        assert graph.get_state(config).values == {"log": ["s1", "s2", "s3"]}
        acknowledged = _snapshot(saver, config)
        assert len(acknowledged) == 5

        daemon.kill()
        daemon.start()

        assert _snapshot(saver, config) == acknowledged
        assert graph.get_state(config).next == ("s4",)
        for _ in range(3):
            graph.invoke(None, config, durability="sync")
        final = graph.get_state(config)
        assert final.values == {"log": STEPS}
        assert final.next == ()

        # one unbroken parent chain from the end back to the input, through the restart
        history = list(graph.get_state_history(config))
        assert [s.metadata["step"] for s in history] == list(range(len(STEPS), -2, -1))
        for newer, older in zip(history, history[1:]):
            assert newer.parent_config["configurable"]["checkpoint_id"] == older.config["configurable"]["checkpoint_id"]
        assert set(acknowledged) <= {s.config["configurable"]["checkpoint_id"] for s in history}

        # the async path reconnects too (a new loop, a new grpc.aio channel)
        async def latest():
            return await saver.aget_tuple(config)

        assert asyncio.run(latest()).checkpoint["channel_values"]["log"] == STEPS
    finally:
        saver.close()
        code = daemon.stop()
    assert code == 0, daemon.output()


def test_sigkill_inside_a_running_graph(new_store: Callable[[str], str]) -> None:
    """The daemon dies and comes back while a node runs; the same run (same Pregel loop, same
    saver) stores that node's writes and the following checkpoints on the restarted daemon."""
    daemon = StasisDaemon(new_store("restart-live")).start()
    saver = StasisSaver(daemon.unix_address)
    acknowledged: dict[str, tuple] = {}

    def crash(state, config):
        conf = config["configurable"]
        thread = {"configurable": {"thread_id": conf["thread_id"]}}
        current = {"configurable": {**thread["configurable"], "checkpoint_ns": "", "checkpoint_id": conf["checkpoint_map"][""]}}
        # This node runs after the checkpoint before it was stored (durability="sync"); wait
        # until the previous node's writes are stored as well, so no call is in flight.
        parent = saver.get_tuple(current).parent_config
        deadline = time.monotonic() + 10
        while not saver.get_tuple(parent).pending_writes:
            assert time.monotonic() < deadline, "the previous node's writes were never stored"
            time.sleep(0.01)
        acknowledged.update(_snapshot(saver, thread))
        daemon.kill()
        daemon.start()
        return {"log": ["crash"]}

    try:
        b = StateGraph(Log)
        b.add_node("s1", lambda s: {"log": ["s1"]})
        b.add_node("s2", lambda s: {"log": ["s2"]})
        b.add_node("crash", crash)
        b.add_node("s3", lambda s: {"log": ["s3"]})
        b.add_edge(START, "s1")
        b.add_edge("s1", "s2")
        b.add_edge("s2", "crash")
        b.add_edge("crash", "s3")
        b.add_edge("s3", END)
        graph = b.compile(checkpointer=saver)
        config = new_thread()

        assert graph.invoke({"log": []}, config, durability="sync") == {"log": ["s1", "s2", "crash", "s3"]}
        assert len(acknowledged) == 4  # input, before s1, before s2, before crash
        after = _snapshot(saver, config)
        for checkpoint_id, (parent, metadata, values, writes) in acknowledged.items():
            assert after[checkpoint_id][:3] == (parent, metadata, values)
            # the checkpoint the crash node ran on has gained that node's writes since
            assert [w for w in after[checkpoint_id][3] if w in writes] == writes
        assert [s.metadata["step"] for s in graph.get_state_history(config)] == [4, 3, 2, 1, 0, -1]
    finally:
        saver.close()
        code = daemon.stop()
    assert code == 0, daemon.output()
