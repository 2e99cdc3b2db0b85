"""Real LangGraph StateGraphs (langgraph 1.0) checkpointed by StasisSaver."""

from __future__ import annotations

import asyncio
import base64
import operator
import os
import threading
import uuid
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command, interrupt

from stasis_langgraph import StasisDaemon, StasisSaver


def new_thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": f"t-{uuid.uuid4()}"}}


# ---------------------------------------------------------------- graphs


class Greeting(TypedDict, total=False):
    name: str
    greeting: str


def _ask(state: Greeting) -> Greeting:
    return {"name": interrupt("what is your name?")}


def _greet(state: Greeting) -> Greeting:
    return {"greeting": f"hello {state['name']}"}


def greeting_graph(saver: StasisSaver):
    b = StateGraph(Greeting)
    b.add_node("ask", _ask)
    b.add_node("greet", _greet)
    b.add_edge(START, "ask")
    b.add_edge("ask", "greet")
    b.add_edge("greet", END)
    return b.compile(checkpointer=saver)


class Log(TypedDict):
    log: Annotated[list[str], operator.add]


def chain_graph(saver: StasisSaver, names: list[str], **compile_kw: Any):
    """START -> names[0] -> ... -> END; each node appends its name to `log`."""
    b = StateGraph(Log)
    for name in names:
        b.add_node(name, lambda state, name=name: {"log": [name]})
    b.add_edge(START, names[0])
    for a, c in zip(names, names[1:]):
        b.add_edge(a, c)
    b.add_edge(names[-1], END)
    return b.compile(checkpointer=saver, **compile_kw)


# ---------------------------------------------------------------- interrupt and resume


def test_interrupt_and_resume_sync(saver: StasisSaver, daemon: StasisDaemon) -> None:
    graph = greeting_graph(saver)
    config = new_thread()

    first = graph.invoke({}, config)
    assert first["__interrupt__"][0].value == "what is your name?"
    state = graph.get_state(config)
    assert state.next == ("ask",)
    assert state.tasks[0].interrupts[0].value == "what is your name?"

    # A second process (another saver, another connection) sees the same pending interrupt
    # and resumes it.
    with StasisSaver(daemon.unix_address) as other:
        graph2 = greeting_graph(other)
        assert graph2.get_state(config).next == ("ask",)
        done = graph2.invoke(Command(resume="Ada"), config)
    assert done == {"name": "Ada", "greeting": "hello Ada"}
    final = graph.get_state(config)
    assert final.next == ()
    assert final.values == {"name": "Ada", "greeting": "hello Ada"}


def test_interrupt_and_resume_async(saver: StasisSaver) -> None:
    graph = greeting_graph(saver)
    config = new_thread()

    async def run() -> None:
        first = await graph.ainvoke({}, config)
        assert first["__interrupt__"][0].value == "what is your name?"
        state = await graph.aget_state(config)
        assert state.next == ("ask",)
        done = await graph.ainvoke(Command(resume="Grace"), config)
        assert done == {"name": "Grace", "greeting": "hello Grace"}

    asyncio.run(run())
    # the sync path reads what the async path wrote
    assert graph.get_state(config).values["greeting"] == "hello Grace"


# ---------------------------------------------------------------- history, time travel, forks


def test_history_time_travel_and_fork(saver: StasisSaver) -> None:
    graph = chain_graph(saver, ["a", "b", "c"])
    config = new_thread()
    assert graph.invoke({"log": []}, config) == {"log": ["a", "b", "c"]}

    history = list(graph.get_state_history(config))
    # input (-1), then before a, b, c, and the end: newest first
    assert [s.metadata["step"] for s in history] == [3, 2, 1, 0, -1]
    assert [s.next for s in history] == [(), ("c",), ("b",), ("a",), ("__start__",)]
    for newer, older in zip(history, history[1:]):
        assert newer.parent_config["configurable"]["checkpoint_id"] == older.config["configurable"]["checkpoint_id"]
    assert len(list(graph.get_state_history(config, limit=2))) == 2
    assert [s.metadata["step"] for s in graph.get_state_history(config, before=history[1].config)] == [1, 0, -1]

    before_b = history[2]
    assert before_b.values == {"log": ["a"]}

    # time travel: replaying from the checkpoint before b runs b and c again
    assert graph.invoke(None, before_b.config) == {"log": ["a", "b", "c"]}

    # fork: edit the old state, then continue from the edit
    forked = graph.update_state(before_b.config, {"log": ["edited"]})
    assert forked["configurable"]["checkpoint_id"] != before_b.config["configurable"]["checkpoint_id"]
    fork_state = graph.get_state(forked)
    assert fork_state.values == {"log": ["a", "edited"]}
    assert fork_state.next == ("b",)
    assert fork_state.metadata["source"] == "update"
    assert fork_state.parent_config["configurable"]["checkpoint_id"] == before_b.config["configurable"]["checkpoint_id"]
    assert graph.invoke(None, forked) == {"log": ["a", "edited", "b", "c"]}

    # the latest state is the fork's end; the original run is still in the history
    assert graph.get_state(config).values == {"log": ["a", "edited", "b", "c"]}
    all_ids = {s.config["configurable"]["checkpoint_id"] for s in graph.get_state_history(config)}
    assert {s.config["configurable"]["checkpoint_id"] for s in history} <= all_ids
    updates = list(graph.get_state_history(config, filter={"source": "update"}))
    assert [s.config["configurable"]["checkpoint_id"] for s in updates] == [forked["configurable"]["checkpoint_id"]]


# ---------------------------------------------------------------- subgraphs


class Outer(TypedDict, total=False):
    topic: str
    draft: str
    approved: bool


def _write(state: Outer) -> Outer:
    return {"draft": f"draft about {state['topic']}"}


def _review(state: Outer) -> Outer:
    return {"approved": interrupt({"draft": state["draft"]}) == "yes"}


def test_subgraph_namespaces(saver: StasisSaver) -> None:
    sub = StateGraph(Outer)
    sub.add_node("write", _write)
    sub.add_node("review", _review)
    sub.add_edge(START, "write")
    sub.add_edge("write", "review")
    sub.add_edge("review", END)

    outer = StateGraph(Outer)
    outer.add_node("author", sub.compile())
    outer.add_node("publish", lambda s: {"draft": s["draft"].upper()} if s.get("approved") else {})
    outer.add_edge(START, "author")
    outer.add_edge("author", "publish")
    outer.add_edge("publish", END)
    graph = outer.compile(checkpointer=saver)
    config = new_thread()

    first = graph.invoke({"topic": "stasis"}, config)
    assert first["__interrupt__"][0].value == {"draft": "draft about stasis"}

    state = graph.get_state(config, subgraphs=True)
    assert state.next == ("author",)
    child = state.tasks[0].state
    child_ns = child.config["configurable"]["checkpoint_ns"]
    assert child_ns.startswith("author:"), child_ns
    assert child.values["draft"] == "draft about stasis"
    assert child.next == ("review",)

    # the subgraph's checkpoints live in their own namespace of the same thread
    thread = config["configurable"]["thread_id"]
    every = list(saver.list({"configurable": {"thread_id": thread}}))
    namespaces = {t.config["configurable"]["checkpoint_ns"] for t in every}
    assert namespaces == {"", child_ns}
    root_only = list(saver.list({"configurable": {"thread_id": thread, "checkpoint_ns": ""}}))
    assert {t.config["configurable"]["checkpoint_ns"] for t in root_only} == {""}
    in_child = list(saver.list({"configurable": {"thread_id": thread, "checkpoint_ns": child_ns}}))
    assert len(in_child) >= 2 and len(root_only) + len(in_child) == len(every)
    latest_child = saver.get_tuple({"configurable": {"thread_id": thread, "checkpoint_ns": child_ns}})
    assert latest_child is not None
    assert latest_child.checkpoint["channel_values"]["draft"] == "draft about stasis"

    done = graph.invoke(Command(resume="yes"), config)
    assert done == {"topic": "stasis", "draft": "DRAFT ABOUT STASIS", "approved": True}


# ---------------------------------------------------------------- concurrency, sync and async


def test_twenty_threads_concurrently(saver: StasisSaver) -> None:
    graph = chain_graph(saver, ["one", "two", "three"])
    configs = [new_thread() for _ in range(20)]

    async def run() -> list[dict[str, Any]]:
        return await asyncio.gather(
            *(graph.ainvoke({"log": [f"start-{i}"]}, c) for i, c in enumerate(configs))
        )

    results = asyncio.run(run())
    for i, (config, result) in enumerate(zip(configs, results)):
        assert result == {"log": [f"start-{i}", "one", "two", "three"]}
        assert graph.get_state(config).values == result
        assert len(list(saver.list(config))) == 5


def test_event_loops_in_several_threads_at_once(saver: StasisSaver) -> None:
    """One saver used by four OS threads, each running its own event loop (each gets its own
    grpc.aio channel), while a fifth OS thread uses the sync path."""
    graph = chain_graph(saver, ["p", "q"])
    configs = {(i, k): new_thread() for i in range(5) for k in range(3)}
    errors: list[BaseException] = []

    def in_loop(i: int) -> None:
        async def run() -> None:
            await asyncio.gather(*(graph.ainvoke({"log": [f"{i}-{k}"]}, configs[i, k]) for k in range(3)))

        try:
            asyncio.run(run())
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    def in_sync() -> None:
        try:
            for k in range(3):
                graph.invoke({"log": [f"4-{k}"]}, configs[4, k])
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    workers = [threading.Thread(target=in_loop, args=(i,)) for i in range(4)] + [threading.Thread(target=in_sync)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not errors, errors
    for (i, k), config in configs.items():
        assert graph.get_state(config).values == {"log": [f"{i}-{k}", "p", "q"]}


def test_sync_and_async_paths_share_a_thread(saver: StasisSaver) -> None:
    graph = chain_graph(saver, ["x"])
    config = new_thread()
    assert graph.invoke({"log": ["sync"]}, config) == {"log": ["sync", "x"]}
    async_result = asyncio.run(graph.ainvoke({"log": ["async"]}, config))
    assert async_result == {"log": ["sync", "x", "async", "x"]}
    # a second event loop on the same saver (a new grpc.aio channel)
    async def history() -> list[int]:
        return [s.metadata["step"] async for s in graph.aget_state_history(config)]

    steps = asyncio.run(history())
    assert steps == [s.metadata["step"] for s in graph.get_state_history(config)]
    assert len(steps) == 6


# ---------------------------------------------------------------- a growing message list


class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    target: int


def _speak(state: Chat) -> dict[str, Any]:
    # ~8 KiB of incompressible text per message
    return {"messages": [AIMessage(content=base64.b64encode(os.urandom(6144)).decode())]}


def _more(state: Chat) -> str:
    return "speak" if len(state["messages"]) < state["target"] else END


def test_growing_message_list_costs_linear_bytes(saver: StasisSaver) -> None:
    b = StateGraph(Chat)
    b.add_node("speak", _speak)
    b.add_edge(START, "speak")
    b.add_conditional_edges("speak", _more)
    graph = b.compile(checkpointer=saver)
    config = {**new_thread(), "recursion_limit": 200}

    before = saver.health().store_bytes
    graph.invoke({"messages": [], "target": 25}, config)
    middle = saver.health().store_bytes
    out = graph.invoke({"target": 50}, config)
    after = saver.health().store_bytes
    assert len(out["messages"]) == 50

    message_bytes = sum(len(m.content) for m in out["messages"])
    first, second = middle - before, after - middle
    whole_list_every_step = sum(len(m.content) * (50 - i) for i, m in enumerate(out["messages"]))
    print(f"store grew {first} B for messages 1-25, {second} B for 26-50; "
          f"messages hold {message_bytes} B; storing every list whole would be {whole_list_every_step} B")
    assert first > 0 and second > 0
    # Stored once per step, the second 25 messages would cost about three times the first 25.
    assert second < 1.6 * first, (first, second)
    assert after - before < 0.35 * whole_list_every_step
