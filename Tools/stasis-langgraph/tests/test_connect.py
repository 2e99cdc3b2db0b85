"""Fail fast, say why: no daemon at the address is an UnavailableError within about a second
that names the address, the cause and how to start a daemon; a daemon that comes back within
`connect_grace` is waited for; every error names the address.

Time bounds here are generous upper limits (the old behaviour was the full 60 s timeout); the
grace tests do not depend on timing: the daemon is restarted from inside the client's wait.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from test_graphs import chain_graph, new_thread

from stasis_langgraph import (
    AsyncStasisClient,
    InvalidArgumentError,
    NotFoundError,
    StasisClient,
    StasisDaemon,
    StasisError,
    StasisSaver,
    UnavailableError,
)
from stasis_langgraph.transport import Connection

FAST = 5.0  # seconds: far above the ~0.5 s these take, far below the old 60 s


def _thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": f"c-{uuid.uuid4()}", "checkpoint_ns": ""}}


def _check_unavailable(error: UnavailableError, address: str, cause: str) -> None:
    text = str(error)
    assert error.code == grpc.StatusCode.UNAVAILABLE
    assert error.address == address
    assert address in text, text
    assert cause in text, text
    assert "stasis serve --store" in text, text


@pytest.fixture
def dead_daemon(new_store: Callable[[str], str]) -> Iterator[StasisDaemon]:
    """A daemon that served and was SIGKILLed: its socket file is left behind."""
    d = StasisDaemon(new_store("dead")).start()
    d.kill()
    assert os.path.exists(d.socket_path)
    yield d
    d.stop()


def test_missing_socket_fails_fast_naming_the_address(tmp_path: Any) -> None:
    address = f"unix://{tmp_path}/no-store/stasis.sock"
    with StasisSaver(address, timeout=60) as saver:
        started = time.monotonic()
        with pytest.raises(UnavailableError) as caught:
            saver.get_tuple(_thread())
        assert time.monotonic() - started < FAST
    _check_unavailable(caught.value, address, "does not exist")

    # every client call, sync and async, and a list (a stream)
    with StasisClient(address) as client:
        for call in (client.health, client.list_sessions, lambda: list(client.events("s"))):
            started = time.monotonic()
            with pytest.raises(UnavailableError) as caught:
                call()
            assert time.monotonic() - started < FAST
            _check_unavailable(caught.value, address, "does not exist")

    async def from_async() -> None:
        async with AsyncStasisClient(address) as aclient:
            with pytest.raises(UnavailableError) as caught:
                await aclient.get_session("s")
            _check_unavailable(caught.value, address, "does not exist")
        saver = StasisSaver(address)
        with pytest.raises(UnavailableError) as caught:
            await saver.aget_tuple(_thread())  # the pipelined path
        _check_unavailable(caught.value, address, "does not exist")
        with pytest.raises(UnavailableError):
            [t async for t in saver.alist(_thread())]
        await saver.aclose()

    started = time.monotonic()
    asyncio.run(from_async())
    assert time.monotonic() - started < 3 * FAST


def test_dead_daemons_stale_socket_fails_fast(dead_daemon: StasisDaemon) -> None:
    address = dead_daemon.unix_address
    saver = StasisSaver(address, timeout=3)
    try:
        started = time.monotonic()
        with pytest.raises(UnavailableError) as caught:
            list(saver.list(_thread()))
        assert time.monotonic() - started < FAST
        _check_unavailable(caught.value, address, "nothing accepts connections")

        # the case of the issue: a graph run with durability="async" (puts in the background)
        graph = chain_graph(saver, ["a", "b", "c"])
        started = time.monotonic()
        with pytest.raises(UnavailableError) as caught:
            graph.invoke({"log": []}, new_thread(), durability="async")
        assert time.monotonic() - started < FAST
        _check_unavailable(caught.value, address, "nothing accepts connections")

        async def arun() -> None:
            with pytest.raises(UnavailableError) as caught:
                await graph.ainvoke({"log": []}, new_thread(), durability="async")
            _check_unavailable(caught.value, address, "nothing accepts connections")

        started = time.monotonic()
        asyncio.run(arun())
        assert time.monotonic() - started < FAST
    finally:
        saver.close()


def test_tcp_port_without_daemon_fails_fast() -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on (bound, never listening)
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
        with StasisSaver(address, token="t") as saver:
            started = time.monotonic()
            with pytest.raises(UnavailableError) as caught:
                saver.get_tuple(_thread())
            assert time.monotonic() - started < FAST
    assert address in str(caught.value) and "--listen" in str(caught.value)


def test_restart_within_grace_is_waited_for(dead_daemon: StasisDaemon, monkeypatch: pytest.MonkeyPatch) -> None:
    """The call meets a dead daemon, waits (connect_grace=60), the daemon is started during
    that wait, and the call goes through; the same again for async calls."""
    waits: list[str] = []
    sync_wait, async_wait = Connection._wait_ready, Connection._await_ready

    def restart_then_wait(self: Connection, deadline: float) -> bool:
        waits.append("sync")
        assert dead_daemon.process is not None and dead_daemon.process.poll() is not None
        dead_daemon.start()
        return sync_wait(self, deadline)

    async def arestart_then_wait(self: Connection, deadline: float) -> bool:
        waits.append("async")
        assert dead_daemon.process is not None and dead_daemon.process.poll() is not None
        dead_daemon.start()
        return await async_wait(self, deadline)

    monkeypatch.setattr(Connection, "_wait_ready", restart_then_wait)
    monkeypatch.setattr(Connection, "_await_ready", arestart_then_wait)
    saver = StasisSaver(dead_daemon.unix_address, connect_grace=60)
    try:
        graph = chain_graph(saver, ["a", "b"])
        config = new_thread()
        assert graph.invoke({"log": []}, config, durability="sync") == {"log": ["a", "b"]}
        assert waits == ["sync"]

        dead_daemon.kill()
        assert graph.get_state(config).values == {"log": ["a", "b"]}
        assert waits == ["sync", "sync"]

        dead_daemon.kill()

        async def arun() -> Any:
            return (await graph.aget_state(config)).values

        assert asyncio.run(arun()) == {"log": ["a", "b"]}
        assert waits == ["sync", "sync", "async"]
    finally:
        saver.close()


def test_errors_are_typed_and_name_the_address(saver: StasisSaver) -> None:
    client = saver.client
    with pytest.raises(NotFoundError) as caught:
        client.get_session("deadbeef" * 4)
    assert isinstance(caught.value, StasisError) and isinstance(caught.value, LookupError)
    assert caught.value.code == grpc.StatusCode.NOT_FOUND
    assert caught.value.address == saver.address and saver.address in str(caught.value)
    with pytest.raises(InvalidArgumentError) as bad:
        client.get_session("no-such-session")
    assert isinstance(bad.value, ValueError)
    assert saver.address in str(bad.value) and "Sessions.Get" in str(bad.value)


def test_connect_grace_is_checked() -> None:
    with pytest.raises(ValueError, match="connect_grace"):
        StasisSaver("unix:///nowhere.sock", connect_grace=-1)
