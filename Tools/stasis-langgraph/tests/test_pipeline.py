"""Async calls share one Pipeline stream per event loop: answers are matched to their calls by id
whatever order they come back in, a failed call fails alone with the daemon's status, and the
stream is reopened after the daemon drops it."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import grpc
import pytest
from langgraph.checkpoint.conformance.test_utils import generate_checkpoint, generate_config, generate_metadata

from stasis_langgraph import StasisDaemon, StasisError, StasisSaver


def test_many_calls_in_flight_each_get_their_own_answer(daemon: StasisDaemon) -> None:
    async def main() -> None:
        saver = StasisSaver(daemon.unix_address)
        threads = [str(uuid4()) for _ in range(40)]
        # 40 threads x 5 puts at once, each value different, then 200 reads at once.
        async def write(thread: str) -> list[dict]:
            configs, parent = [], generate_config(thread)
            for step in range(5):
                cp = generate_checkpoint(channel_values={"v": f"{thread}-{step}" * 200}, channel_versions={"v": step + 1})
                parent = await saver.aput(parent, cp, generate_metadata(step=step), {"v": step + 1})
                configs.append(parent)
            return configs

        configs = await asyncio.gather(*(write(t) for t in threads))
        tuples = await asyncio.gather(*(saver.aget_tuple(c) for cs in configs for c in cs))
        expected = [f"{t}-{s}" * 200 for t in threads for s in range(5)]
        assert [t.checkpoint["channel_values"]["v"] for t in tuples] == expected
        await saver.aclose()

    asyncio.run(main())


def test_a_failed_call_fails_alone(daemon: StasisDaemon) -> None:
    async def main() -> None:
        saver = StasisSaver(daemon.unix_address)
        good = saver.aput(generate_config(str(uuid4())), generate_checkpoint(), generate_metadata(), {})
        bad = saver.aput({"configurable": {"thread_id": "", "checkpoint_ns": ""}}, generate_checkpoint(), generate_metadata(), {})
        results = await asyncio.gather(good, bad, return_exceptions=True)
        assert isinstance(results[0], dict)
        assert isinstance(results[1], StasisError)
        assert results[1].code == grpc.StatusCode.INVALID_ARGUMENT
        assert "thread_id" in results[1].details
        # the stream goes on
        assert await saver.aget_tuple(results[0]) is not None
        await saver.aclose()

    asyncio.run(main())


def test_pipelining_can_be_turned_off(daemon: StasisDaemon) -> None:
    async def main() -> None:
        saver = StasisSaver(daemon.unix_address)
        saver.client.connection.pipelining = False
        config = await saver.aput(generate_config(str(uuid4())), generate_checkpoint(), generate_metadata(), {})
        assert await saver.aget_tuple(config) is not None
        await saver.aclose()

    asyncio.run(main())


def test_sigterm_with_an_open_pipeline_drains_cleanly(new_store) -> None:
    """An open pipeline stream does not hold the daemon up: SIGTERM ends it after the calls in
    flight are answered, and the daemon exits 0 without hitting its drain deadline."""
    d = StasisDaemon(new_store("drain")).start()

    async def main() -> None:
        saver = StasisSaver(d.unix_address)
        configs = await asyncio.gather(*(
            saver.aput(generate_config(str(uuid4())), generate_checkpoint(), generate_metadata(), {}) for _ in range(30)
        ))
        assert all(await asyncio.gather(*(saver.aget_tuple(c) for c in configs)))
        # the stream is still open here
        assert d.stop() == 0
        await saver.aclose()

    asyncio.run(main())
    assert "still running" not in d.output(), d.output()
