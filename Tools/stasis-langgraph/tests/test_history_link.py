"""A graph's steps in a session's signed history (`StasisSaver(session=...)`), with a real
StateGraph: an agent that calls a tool, reads its result, answers, and then asks a human
(interrupt). Invariants checked: the history holds, in order, each checkpoint id the graph
stored, the AI message with its tool call, the tool's result, the answer and the interrupt; the
events sit between commands another writer appended before and after (one timeline); the
history still verifies; appends are batched (fewer Append calls than events); a failed append
is raised, not dropped."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import interrupt

from stasis_langgraph import StasisClient, StasisDaemon, StasisError, StasisSaver
from stasis_langgraph.history import jsonable


class Chat(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    approved: str


def _agent(state: Chat) -> Chat:
    if not any(isinstance(m, ToolMessage) for m in state["messages"]):
        call = {"id": "call-1", "name": "ls", "args": {"path": "/tmp", "big": 2**60}}
        return {"messages": [AIMessage(content="let me look", tool_calls=[call])]}
    return {"messages": [AIMessage(content="there are 3 files")]}


def _tool(state: Chat) -> Chat:
    call = state["messages"][-1].tool_calls[0]
    return {"messages": [ToolMessage(content="a b c", tool_call_id=call["id"], name=call["name"])]}


def _approve(state: Chat) -> Chat:
    return {"approved": interrupt({"question": "ship it?"})}


def chat_graph(saver: StasisSaver):
    b = StateGraph(Chat)
    b.add_node("agent", _agent)
    b.add_node("tool", _tool)
    b.add_node("approve", _approve)
    b.add_edge(START, "agent")
    b.add_conditional_edges("agent", lambda s: "tool" if s["messages"][-1].tool_calls else "approve")
    b.add_edge("tool", "agent")
    b.add_edge("approve", END)
    return b.compile(checkpointer=saver)


def _check_timeline(client: StasisClient, session: str, thread: str, checkpoint_ids: list[str]) -> None:
    events = list(client.events(session))
    kinds = [e.kind for e in events]
    assert kinds[0] == "x-test.before" and kinds[-1] == "x-test.after"
    graph = [e for e in events if e.kind.startswith("x-langgraph.")]
    assert {e.data["thread_id"] for e in graph} == {thread}
    stored = [e.data["checkpoint_id"] for e in graph if e.kind == "x-langgraph.checkpoint"]
    assert stored == checkpoint_ids  # every checkpoint, oldest first
    said = [(e.kind, e.data.get("content")) for e in graph if e.kind != "x-langgraph.checkpoint"]
    assert said == [
        ("x-langgraph.message", "go"),
        ("x-langgraph.message", "let me look"),
        ("x-langgraph.tool-result", "a b c"),
        ("x-langgraph.message", "there are 3 files"),
        ("x-langgraph.interrupt", None),
    ]
    call = next(e for e in graph if e.data.get("content") == "let me look").data["tool_calls"][0]
    assert call == {"id": "call-1", "name": "ls", "args": {"path": "/tmp", "big": str(2**60)}}
    result = next(e for e in graph if e.kind == "x-langgraph.tool-result").data
    assert (result["tool_call_id"], result["name"]) == ("call-1", "ls")
    assert next(e for e in graph if e.kind == "x-langgraph.interrupt").data["value"] == {"question": "ship it?"}
    # A write's checkpoint is one the graph stored, so replay can place it.
    assert {e.data["checkpoint_id"] for e in graph} <= set(checkpoint_ids)
    verified = client.verify(session)
    assert verified.ok, verified.problem


def test_graph_steps_in_history_sync(daemon: StasisDaemon) -> None:
    client = StasisClient(daemon.unix_address)
    session = client.create_session({"test": "history-link"}).id
    client.append(session, [("x-test.before", {"command": "ls"})])
    saver = StasisSaver(daemon.unix_address, session=session)
    appends = _count_appends(saver)
    config: Any = {"configurable": {"thread_id": f"t-{uuid.uuid4()}"}}
    result = chat_graph(saver).invoke({"messages": [HumanMessage(content="go")]}, config, durability="sync")
    assert "__interrupt__" in result
    saver.close()
    client.append(session, [("x-test.after", {"command": "exit"})])
    ids = [s.config["configurable"]["checkpoint_id"] for s in reversed(list(chat_graph(StasisSaver(daemon.unix_address)).get_state_history(config)))]
    _check_timeline(client, session, config["configurable"]["thread_id"], ids)
    graph_events = sum(1 for e in client.events(session) if e.kind.startswith("x-langgraph."))
    assert 0 < appends[0] < graph_events  # batched
    client.close()


def test_graph_steps_in_history_async(daemon: StasisDaemon) -> None:
    client = StasisClient(daemon.unix_address)
    session = client.create_session({"test": "history-link-async"}).id
    client.append(session, [("x-test.before", {"command": "ls"})])
    config: Any = {"configurable": {"thread_id": f"t-{uuid.uuid4()}"}}

    async def run() -> None:
        saver = StasisSaver(daemon.unix_address, session=session)
        result = await chat_graph(saver).ainvoke({"messages": [HumanMessage(content="go")]}, config)
        assert "__interrupt__" in result
        await saver.aclose()

    asyncio.run(run())
    client.append(session, [("x-test.after", {"command": "exit"})])
    ids = [s.config["configurable"]["checkpoint_id"] for s in reversed(list(chat_graph(StasisSaver(daemon.unix_address)).get_state_history(config)))]
    _check_timeline(client, session, config["configurable"]["thread_id"], ids)
    client.close()


def test_failed_append_is_raised(daemon: StasisDaemon) -> None:
    saver = StasisSaver(daemon.unix_address, session="no-such-session")
    config: Any = {"configurable": {"thread_id": f"t-{uuid.uuid4()}"}}
    with pytest.raises(StasisError, match="no-such-session"):
        chat_graph(saver).invoke({"messages": [HumanMessage(content="go")]}, config, durability="sync")
    saver._conn.close()


def test_no_session_no_events(daemon: StasisDaemon) -> None:
    with pytest.raises(ValueError, match="session=True"):
        StasisSaver(daemon.unix_address, session=True)
    assert StasisSaver(daemon.unix_address).history is None


def test_jsonable() -> None:
    assert jsonable({"n": 2**53, "m": -(2**53) - 1, "f": float("nan"), 1: (1, 2), "o": object}) == {
        "n": 2**53, "m": str(-(2**53) - 1), "f": "nan", "1": [1, 2], "o": str(object)}


def _count_appends(saver: StasisSaver) -> list[int]:
    """Counts the saver's Append calls (the client's `append`)."""
    count = [0]
    original = saver.client.append

    def counting(session: str, events: Any) -> Any:
        count[0] += 1
        return original(session, events)

    saver.client.append = counting  # type: ignore[method-assign]
    return count
