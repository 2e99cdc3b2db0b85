"""StasisSaver and LangGraph's InMemorySaver, given the same random operations, answer the same.

Covers what both implement: put, put_writes, get_tuple, list (namespaces, checkpoint ids,
before, limit, metadata filters) and delete_thread, over several threads and namespaces.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.conformance.test_utils import generate_checkpoint
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.types import ERROR, INTERRUPT, RESUME, SCHEDULED

from stasis_langgraph import StasisSaver

SPECIAL = [ERROR, INTERRUPT, RESUME, SCHEDULED]


def _norm(t: CheckpointTuple | None) -> Any:
    if t is None:
        return None
    conf = t.config["configurable"]
    parent = t.parent_config["configurable"]["checkpoint_id"] if t.parent_config else None
    return (
        (conf["thread_id"], conf.get("checkpoint_ns", ""), conf["checkpoint_id"]),
        t.checkpoint,
        t.metadata,
        parent,
        t.pending_writes,
    )


def test_same_answers_as_in_memory_saver(saver: StasisSaver) -> None:
    rng = random.Random(20260529)
    prefix = f"diff-{uuid.uuid4().hex[:8]}-"
    threads = [prefix + str(i) for i in range(4)]
    namespaces = ["", "child:1", "child:2"]
    reference = InMemorySaver()
    heads: dict[tuple[str, str], dict | None] = {}
    stored: list[dict] = []  # configs of stored checkpoints
    versions: dict[tuple[str, str], dict[str, int]] = {}
    checked = 0

    def meta() -> dict[str, Any]:
        m: dict[str, Any] = {"source": rng.choice(["input", "loop", "update"]), "step": rng.randint(-1, 3)}
        if rng.random() < 0.5:
            m["tag"] = rng.choice(["a", "b", "c"])
        if rng.random() < 0.3:
            m["nested"] = {"k": rng.choice([1, 2]), "l": [1, "x"]}
        if rng.random() < 0.3:
            m["run_id"] = rng.choice(["run-1", "run-2"])
        return m

    def compare(config: dict | None, **kw: Any) -> None:
        nonlocal checked
        ours = [_norm(t) for t in saver.list(config, **kw)]
        limit = kw.pop("limit", None)
        # newest first across namespaces too (InMemorySaver groups by namespace)
        theirs = sorted((_norm(t) for t in reference.list(config, **kw)), key=lambda t: t[0][2], reverse=True)
        theirs = theirs[:limit] if limit else theirs
        if config is None:  # every thread: only ours are comparable (the daemon is shared)
            ours = sorted((t for t in ours if t[0][0].startswith(prefix)), key=lambda t: t[0])
            theirs = sorted(theirs, key=lambda t: t[0])
        assert ours == theirs, (config, kw)
        checked += 1

    for _ in range(400):
        op = rng.random()
        thread, ns = rng.choice(threads), rng.choice(namespaces)
        if op < 0.35:  # put a checkpoint after the head of (thread, ns), or fork from an old one
            parent = heads.get((thread, ns))
            same_place = [c for c in stored if c["configurable"]["thread_id"] == thread and c["configurable"]["checkpoint_ns"] == ns]
            if same_place and rng.random() < 0.2:
                parent = rng.choice(same_place)
            config = {"configurable": {"thread_id": thread, "checkpoint_ns": ns}}
            if parent:
                config["configurable"]["checkpoint_id"] = parent["configurable"]["checkpoint_id"]
            current = versions.setdefault((thread, ns), {})
            new_versions: dict[str, int] = {}
            values: dict[str, Any] = {}
            for channel in rng.sample(["a", "b", "c", "d"], rng.randint(0, 3)):
                current[channel] = current.get(channel, 0) + 1
                new_versions[channel] = current[channel]
                if rng.random() < 0.85:  # otherwise the channel is updated to "empty"
                    values[channel] = rng.choice([None, 0, 7, "text", [1, 2], {"x": b"bytes"}])
            if current and rng.random() < 0.1:  # a channel disappears
                current.pop(rng.choice(sorted(current)))
            cp = generate_checkpoint(channel_values=dict(values), channel_versions=dict(current))
            new_versions = {k: v for k, v in new_versions.items() if k in current}
            md = meta()
            a = saver.put(config, cp, md, new_versions)
            b = reference.put(config, cp, md, new_versions)
            assert a == b
            heads[(thread, ns)] = a
            stored.append(a)
        elif op < 0.55 and stored:  # writes on some stored checkpoint
            config = rng.choice(stored)
            task = rng.choice(["task-1", "task-2", "task-3"])
            if rng.random() < 0.3:
                writes = [(rng.choice(SPECIAL), rng.choice(["e1", "e2"]))]
            else:
                writes = [(rng.choice(["a", "b", "x"]), rng.randint(0, 9)) for _ in range(rng.randint(1, 3))]
            path = rng.choice(["", "~__pregel_pull, n1", "~__pregel_pull, n2"])
            saver.put_writes(config, writes, task, path)
            reference.put_writes(config, writes, task, path)
        elif op < 0.75:  # get_tuple: latest, or a given (possibly unknown) id
            config = {"configurable": {"thread_id": thread, "checkpoint_ns": ns}}
            if stored and rng.random() < 0.6:
                config = rng.choice(stored)
            elif rng.random() < 0.2:
                config["configurable"]["checkpoint_id"] = str(uuid.uuid4())
            assert _norm(saver.get_tuple(config)) == _norm(reference.get_tuple(config)), config
            checked += 1
        elif op < 0.97:  # list with random criteria
            conf: dict[str, Any] = {"thread_id": thread}
            if rng.random() < 0.5:
                conf["checkpoint_ns"] = ns
            if stored and rng.random() < 0.1:
                conf["checkpoint_id"] = rng.choice(stored)["configurable"]["checkpoint_id"]
            kw: dict[str, Any] = {}
            if stored and rng.random() < 0.3:
                kw["before"] = rng.choice(stored)
            if rng.random() < 0.3:
                kw["limit"] = rng.randint(1, 4)
            if rng.random() < 0.5:
                kw["filter"] = dict(rng.sample(list(meta().items()), rng.randint(1, 2)))
            if rng.random() < 0.05:  # every thread (no limit: the other tests' threads would count)
                kw.pop("limit", None)
                compare(None, **kw)
            else:
                compare({"configurable": conf}, **kw)
        else:  # delete a thread
            saver.delete_thread(thread)
            reference.delete_thread(thread)
            stored = [c for c in stored if c["configurable"]["thread_id"] != thread]
            for key in [k for k in heads if k[0] == thread]:
                del heads[key]
                versions.pop(key, None)

    for thread in threads:
        compare({"configurable": {"thread_id": thread}})
    assert checked > 150
