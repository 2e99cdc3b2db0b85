"""Graph checkpoints that name sandbox checkpoints (real microVMs): going back in the graph's
history brings the sandbox back to the same moment, in a fresh sandbox."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from typing import Any, TypedDict

import pytest
from langgraph.checkpoint.conformance.test_utils import generate_checkpoint, generate_config, generate_metadata
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from stasis_langgraph import SANDBOX_CHECKPOINT_KEY, SANDBOX_SESSION_KEY, SandboxLink, StasisClient, StasisDaemon, StasisSaver
from stasis_langgraph._proto import stasis_pb2 as pb

STATE_FILE = "/mnt/disk/state"  # the sandbox's ext4 disk


class Work(TypedDict, total=False):
    done: list[str]
    answer: str


def _thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": f"t-{uuid.uuid4()}"}}


@pytest.fixture(scope="module")
def sandboxes(daemon: StasisDaemon) -> Iterator[tuple[StasisClient, list[pb.Sandbox]]]:
    """A client and a list of the sandboxes a test started; all are stopped at the end."""
    client = StasisClient(daemon.unix_address)
    started: list[pb.Sandbox] = []
    try:
        yield client, started
    finally:
        for box in started:
            try:
                client.stop(box.id)
            except Exception as error:  # noqa: BLE001 - report, keep stopping the others
                print(f"could not stop sandbox {box.id}: {error}")
        client.close()


def _sh(client: StasisClient, sandbox: str, command: str) -> str:
    result = client.exec(sandbox, command, timeout_seconds=60)
    assert result.exit_code == 0, (command, result.stderr)
    return result.stdout.decode()


def test_sandbox_link_validation() -> None:
    with pytest.raises(ValueError):
        SandboxLink(session="s", policy="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SandboxLink(session="s", policy="every_n", every=0)
    with pytest.raises(ValueError):
        SandboxLink(session="")
    link = SandboxLink(session="s", policy="every_n", every=2)
    root = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
    child = {"configurable": {"thread_id": "t", "checkpoint_ns": "node:1"}}
    assert [link.due_on_put(root, {"step": n}) for n in (-1, 0, 1, 2, 3, 4)] == [False, True, False, True, False, True]
    assert not link.due_on_put(child, {"step": 0})
    on_interrupt = SandboxLink(session="s", policy="on_interrupt")
    assert not on_interrupt.due_on_put(root, {"step": 0})
    assert on_interrupt.due_on_writes(root, [("__interrupt__", [])])
    assert not on_interrupt.due_on_writes(root, [("done", ["x"])])
    assert not on_interrupt.due_on_writes(child, [("__interrupt__", [])])


def test_every_put_and_restore(daemon: StasisDaemon, sandboxes) -> None:
    client, started = sandboxes
    box = client.run_sandbox()
    started.append(box)
    saver = StasisSaver(daemon.unix_address, sandbox=SandboxLink(session=box.session, policy="every_put"))

    def step(name: str):
        def run(state: Work) -> Work:
            _sh(client, box.session, f"echo {name} > {STATE_FILE}")
            return {"done": [*state.get("done", []), name]}

        return run

    b = StateGraph(Work)
    b.add_node("one", step("one"))
    b.add_node("two", step("two"))
    b.add_edge(START, "one")
    b.add_edge("one", "two")
    b.add_edge("two", END)
    graph = b.compile(checkpointer=saver)
    config = _thread()
    # durability="sync": each checkpoint (and its sandbox checkpoint) is stored before the next
    # step runs
    assert graph.invoke({"done": []}, config, durability="sync") == {"done": ["one", "two"]}

    history = list(graph.get_state_history(config))
    assert len(history) == 4
    ids = [s.metadata[SANDBOX_CHECKPOINT_KEY] for s in history]
    assert len(set(ids)) == 4 and all(ids)
    assert {s.metadata[SANDBOX_SESSION_KEY] for s in history} == {box.session}

    # the graph checkpoint between "one" and "two": the sandbox had run "one" only
    between = next(s for s in history if s.next == ("two",))
    assert saver.sandbox_checkpoint(between.config) == between.metadata[SANDBOX_CHECKPOINT_KEY]
    fresh = saver.restore_sandbox(between.config)
    started.append(fresh)
    assert fresh.id != box.id and fresh.restored_from == between.metadata[SANDBOX_CHECKPOINT_KEY]
    assert _sh(client, fresh.id, f"cat {STATE_FILE}") == "one\n"
    assert _sh(client, box.session, f"cat {STATE_FILE}") == "two\n"  # the original is untouched

    # a put-time policy with LangGraph's default durability ("async") is warned about, once
    cp = generate_checkpoint()
    with pytest.warns(UserWarning, match="durability='sync'"):
        saver.put(generate_config(), cp, generate_metadata(step=0), {})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        saver.put(generate_config(), generate_checkpoint(), generate_metadata(step=0), {})
    saver.close()


def test_on_interrupt_records_on_the_interrupted_checkpoint(daemon: StasisDaemon, sandboxes) -> None:
    client, started = sandboxes
    box = client.run_sandbox()
    started.append(box)
    saver = StasisSaver(daemon.unix_address, sandbox=SandboxLink(session=box.session, policy="on_interrupt"))

    def work(state: Work) -> Work:
        _sh(client, box.session, f"echo asked > {STATE_FILE}")
        return {"answer": interrupt("go on?")}

    b = StateGraph(Work)
    b.add_node("work", work)
    b.add_edge(START, "work")
    b.add_edge("work", END)
    graph = b.compile(checkpointer=saver)
    config = _thread()

    assert graph.invoke({}, config)["__interrupt__"][0].value == "go on?"
    waiting = graph.get_state(config)
    assert waiting.next == ("work",)
    assert SANDBOX_CHECKPOINT_KEY not in waiting.metadata  # put-time metadata is not used
    taken = saver.sandbox_checkpoint(waiting.config)
    assert taken

    _sh(client, box.session, f"echo later > {STATE_FILE}")
    fresh = saver.restore_sandbox(waiting.config)
    started.append(fresh)
    assert fresh.restored_from == taken
    assert _sh(client, fresh.id, f"cat {STATE_FILE}") == "asked\n"

    # the record is invisible to LangGraph: the run resumes normally
    assert graph.invoke(Command(resume="yes"), config) == {"answer": "yes"}
    # a later checkpoint without a record of its own finds the interrupt's through its parents
    assert saver.sandbox_checkpoint(config) == taken
    saver.close()
