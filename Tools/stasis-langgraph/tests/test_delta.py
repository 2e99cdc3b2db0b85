"""Grown values are sent as deltas: the delta always rebuilds exactly the new bytes, it is found
for the shapes LangGraph produces (a list with a changed length header and appended items), and
a daemon that lacks the base gets the whole value instead."""

from __future__ import annotations

import random
from uuid import uuid4

import ormsgpack
from langgraph.checkpoint.conformance.test_utils import generate_checkpoint, generate_config, generate_metadata

from stasis_langgraph import StasisSaver
from stasis_langgraph.delta import MIN_DELTA_BYTES, make_delta


def apply(old: bytes, delta) -> bytes:
    return delta.head + old[delta.copy_offset:delta.copy_offset + delta.copy_length] + delta.tail


def test_delta_rebuilds_exactly() -> None:
    rng = random.Random(7)
    for _ in range(400):
        old = rng.randbytes(rng.randint(0, 40_000))
        kind = rng.choice(["append", "header", "middle", "random", "shrink"])
        if kind == "append":
            new = old + rng.randbytes(rng.randint(0, 5000))
        elif kind == "header":
            h = rng.randint(0, 20)
            new = rng.randbytes(h + rng.randint(0, 4)) + old[h:] + rng.randbytes(rng.randint(0, 5000))
        elif kind == "middle":
            at = rng.randint(0, len(old))
            new = old[:at] + rng.randbytes(10) + old[at:]
        elif kind == "shrink":
            new = old[: len(old) // 2]
        else:
            new = rng.randbytes(len(old))
        delta = make_delta(old, new)
        if delta is not None:
            assert apply(old, delta) == new, kind
            assert len(delta.head) + len(delta.tail) <= len(new) // 2
        elif kind in ("append", "header") and len(old) >= 2 * MIN_DELTA_BYTES and len(new) < 2 * len(old):
            raise AssertionError(f"no delta for a {kind} edit of {len(old)} bytes")


def test_growing_msgpack_list_is_a_small_delta() -> None:
    items: list = []
    previous = None
    for step in range(40):
        items.append({"role": "tool", "content": "x" * 1500 + str(step), "id": step})
        data = ormsgpack.packb(items)
        if previous is not None and len(previous) >= MIN_DELTA_BYTES:
            delta = make_delta(previous, data)
            assert delta is not None, f"step {step}"
            assert apply(previous, delta) == data
            assert len(delta.head) + len(delta.tail) < 1700
        previous = data


def test_missing_base_falls_back_to_the_whole_value(saver: StasisSaver) -> None:
    thread = str(uuid4())
    config = generate_config(thread)
    big = "y" * 20_000
    first = generate_checkpoint(channel_values={"messages": [big]}, channel_versions={"messages": 1})
    stored = saver.put(config, first, generate_metadata(step=0), {"messages": 1})
    # Another client deletes the thread: this saver still remembers the value as a delta base.
    other = StasisSaver(saver.address)
    other.delete_thread(thread)
    other.close()
    second = generate_checkpoint(channel_values={"messages": [big, big]}, channel_versions={"messages": 2})
    config2 = generate_config(thread)
    config2["configurable"]["checkpoint_id"] = stored["configurable"]["checkpoint_id"]
    saver.put(config2, second, generate_metadata(step=1), {"messages": 2})
    tup = saver.get_tuple(generate_config(thread))
    assert tup is not None and tup.checkpoint["channel_values"]["messages"] == [big, big]
