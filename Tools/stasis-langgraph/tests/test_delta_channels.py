"""DeltaChannel (LangGraph >= 1.2, beta) against StasisSaver and LangGraph's InMemorySaver.

A DeltaChannel stores only a sentinel at most checkpoints; LangGraph rebuilds its value by
replaying the writes of the checkpoint's ancestors back to the nearest `_DeltaSnapshot`. So a
saver must never delete ancestors a remaining checkpoint is rebuilt from: BaseCheckpointSaver's
docs ask savers that cannot keep them to raise NotImplementedError (InMemorySaver does: it has
no prune, delete_for_runs or copy_thread at all). These tests run the same graphs on both savers
and check that StasisSaver answers the same, and that prune / delete_for_runs / copy_thread
either keep every message or raise NotImplementedError, never silently drop state.

Skipped (cleanly, at import) only on a LangGraph that has no DeltaChannel.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, TypedDict

import pytest

delta = pytest.importorskip("langgraph.channels.delta", reason="this LangGraph has no DeltaChannel (added in 1.2)")
DeltaChannel = delta.DeltaChannel

from langgraph.checkpoint.base import BaseCheckpointSaver  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402
from langgraph.graph import END, START, StateGraph  # noqa: E402

from stasis_langgraph import StasisSaver  # noqa: E402

STEPS = 30


def extend(state: list[str], writes: Sequence[Any]) -> list[str]:
    """The DeltaChannel reducer: appends every write (a message or a list of them)."""
    out = list(state)
    for write in writes:
        out.extend(write if isinstance(write, list) else [write])
    return out


def make_state(snapshot_frequency: int) -> Any:
    channel = DeltaChannel(extend, snapshot_frequency=snapshot_frequency)
    return TypedDict("State", {"messages": Annotated[list[str], channel], "turns": int}, total=False)


def chat_graph(saver: BaseCheckpointSaver[Any], snapshot_frequency: int = 100) -> Any:
    """One message per step until STEPS messages (per invoke: `until` in the input)."""
    State = make_state(snapshot_frequency)

    def speak(state: Any) -> dict[str, Any]:
        n = len(state["messages"])
        return {"messages": [f"message {n}"], "turns": state.get("turns", 0) + 1}

    def more(state: Any) -> str:
        return "speak" if len(state["messages"]) % STEPS else END

    b = StateGraph(State)
    b.add_node("speak", speak)
    b.add_edge(START, "speak")
    b.add_conditional_edges("speak", more, ["speak", END])
    return b.compile(checkpointer=saver)


def thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": f"delta-{uuid.uuid4()}"}, "recursion_limit": 200}


def history(graph: Any, config: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Every state of the thread, newest first: values, next, step."""
    return [(s.values, s.next, s.metadata["step"]) for s in graph.get_state_history(config)]


def run_both(saver: StasisSaver, snapshot_frequency: int, runs: int = 1) -> tuple[Any, Any, dict[str, Any]]:
    """The same STEPS-message runs (each with its own run_id) on StasisSaver and InMemorySaver."""
    ours, theirs = chat_graph(saver, snapshot_frequency), chat_graph(InMemorySaver(), snapshot_frequency)
    config = thread()
    for _ in range(runs):
        # LangGraph copies a configurable run_id into each checkpoint's metadata
        run = {**config, "configurable": {**config["configurable"], "run_id": str(uuid.uuid4())}}
        a = ours.invoke({"messages": []}, run, durability="sync")
        b = theirs.invoke({"messages": []}, run, durability="sync")
        assert a == b
    return ours, theirs, config


@pytest.mark.parametrize("snapshot_frequency", [100, 7])
def test_delta_channel_states_match_in_memory_saver(saver: StasisSaver, snapshot_frequency: int) -> None:
    ours, theirs, config = run_both(saver, snapshot_frequency)
    state = ours.get_state(config)
    assert state.values["messages"] == [f"message {i}" for i in range(STEPS)]
    assert state.values == theirs.get_state(config).values
    # every checkpoint of the run rebuilds the same value (snapshots every 7 updates, or none)
    assert history(ours, config) == history(theirs, config)
    # the delta channel really is stored as deltas: most checkpoints hold no value for it
    stored = [t.checkpoint["channel_values"] for t in saver.list(config)]
    assert sum("messages" not in values for values in stored) > STEPS // 2

    async def from_async() -> Any:
        return (await ours.aget_state(config)).values

    assert asyncio.run(from_async()) == state.values


def _prune_keeps_or_refuses(saver: StasisSaver, use_async: bool) -> None:
    ours, theirs, config = run_both(saver, snapshot_frequency=100)
    thread_id = config["configurable"]["thread_id"]
    before = ours.get_state(config).values
    assert len(before["messages"]) == STEPS

    with pytest.raises(NotImplementedError):  # InMemorySaver: cannot keep delta channels whole
        theirs.checkpointer.prune([thread_id], strategy="keep_latest")
    try:
        if use_async:
            asyncio.run(saver.aprune([thread_id], strategy="keep_latest"))
        else:
            saver.prune([thread_id], strategy="keep_latest")
    except NotImplementedError as refused:
        assert thread_id in str(refused) and "messages" in str(refused)
    assert ours.get_state(config).values == before, "prune(keep_latest) lost DeltaChannel state"
    assert len(list(saver.list(config))) == len(list(theirs.checkpointer.list(config)))


def test_prune_keep_latest_never_loses_delta_state(saver: StasisSaver) -> None:
    _prune_keeps_or_refuses(saver, use_async=False)


def test_aprune_keep_latest_never_loses_delta_state(saver: StasisSaver) -> None:
    _prune_keeps_or_refuses(saver, use_async=True)


def test_prune_after_a_snapshot_and_prune_delete(saver: StasisSaver) -> None:
    """When the newest checkpoint stores every delta channel whole, keep_latest is safe and
    prunes; strategy="delete" always is."""
    # snapshot every update: every checkpoint holds the whole list
    ours, theirs, config = run_both(saver, snapshot_frequency=1)
    thread_id = config["configurable"]["thread_id"]
    before = ours.get_state(config).values
    saver.prune([thread_id], strategy="keep_latest")
    assert len(list(saver.list(config))) == 1
    assert ours.get_state(config).values == before == theirs.get_state(config).values

    ours, theirs, config = run_both(saver, snapshot_frequency=100)
    saver.prune([config["configurable"]["thread_id"]], strategy="delete")
    assert list(saver.list(config)) == []


def test_delete_for_runs_never_loses_delta_state(saver: StasisSaver) -> None:
    # two runs on one thread: the second run's checkpoints rebuild from the first run's
    ours, theirs, config = run_both(saver, snapshot_frequency=100, runs=2)
    before = ours.get_state(config).values
    assert len(before["messages"]) == 2 * STEPS
    runs = [t.metadata["run_id"] for t in reversed(list(saver.list(config)))]  # oldest first
    runs = sorted(set(runs), key=runs.index)
    assert len(runs) == 2

    with pytest.raises(NotImplementedError):
        theirs.checkpointer.delete_for_runs([runs[0]])
    for attempt in (lambda: saver.delete_for_runs([runs[0]]), lambda: asyncio.run(saver.adelete_for_runs([runs[0]]))):
        try:
            attempt()
        except NotImplementedError as refused:
            assert config["configurable"]["thread_id"] in str(refused)
        assert ours.get_state(config).values == before, "delete_for_runs lost DeltaChannel state"

    # the newest run alone can go: nothing that stays is rebuilt from it
    saver.delete_for_runs([runs[1]])
    assert {t.metadata["run_id"] for t in saver.list(config)} == {runs[0]}
    assert ours.get_state(config).values["messages"] == before["messages"][:STEPS]


@pytest.mark.parametrize("use_async", [False, True])
def test_copy_thread_keeps_delta_state(saver: StasisSaver, use_async: bool) -> None:
    ours, theirs, config = run_both(saver, snapshot_frequency=100)
    source = config["configurable"]["thread_id"]
    target = f"{source}-copy"
    with pytest.raises(NotImplementedError):
        theirs.checkpointer.copy_thread(source, target)
    if use_async:
        asyncio.run(saver.acopy_thread(source, target))
    else:
        saver.copy_thread(source, target)
    copied = {"configurable": {"thread_id": target}}
    assert ours.get_state(copied).values == theirs.get_state(config).values
    assert len(ours.get_state(copied).values["messages"]) == STEPS
    assert [t.checkpoint for t in saver.list(copied)] == [t.checkpoint for t in saver.list(config)]
    # and the copy goes on growing from there
    assert len(ours.invoke({"messages": []}, copied, durability="sync")["messages"]) == 2 * STEPS
