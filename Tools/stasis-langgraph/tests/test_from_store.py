"""StasisSaver.from_store: connect to a store's daemon, or start (and own) a private one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from langgraph.checkpoint.conformance.test_utils import generate_checkpoint, generate_config, generate_metadata

from stasis_langgraph import DaemonError, StasisDaemon, StasisSaver
from stasis_langgraph._proto import stasis_pb2 as pb
from stasis_langgraph.daemon import health


def test_from_store_starts_owns_and_stops_a_daemon(tmp_path: Path) -> None:
    path = str(tmp_path / "fresh")  # no store yet: from_store runs `stasis init` first
    saver = StasisSaver.from_store(path)
    daemon = saver.daemon
    try:
        assert daemon is not None and daemon.process.poll() is None
        answer = saver.health()
        assert answer.status == pb.HealthCheckResponse.SERVING
        assert os.path.samefile(answer.store_path, path)
        cp = generate_checkpoint(channel_values={"v": 1})
        cp["channel_versions"] = {"v": 1}
        stored = saver.put(generate_config("thread-1"), cp, generate_metadata(), {"v": 1})

        # a second saver on the same store uses the running daemon instead of starting one
        other = StasisSaver.from_store(path)
        assert other.daemon is None
        assert other.get_tuple(stored).checkpoint["channel_values"] == {"v": 1}
        other.close()  # does not stop a daemon it does not own
        assert saver.get_tuple(stored) is not None
    finally:
        saver.close()
    assert daemon.process.returncode == 0, daemon.output()
    assert health(daemon.unix_address, timeout=1.0) is None

    # the checkpoint outlives the daemon; `with` stops the next private daemon too
    with StasisSaver.from_store(path) as again:
        assert again.daemon is not None
        assert again.get_tuple(stored).checkpoint["channel_values"] == {"v": 1}
        second = again.daemon
    assert second.process.returncode == 0


def test_from_store_without_create(tmp_path: Path) -> None:
    with pytest.raises(DaemonError, match="no Stasis store"):
        StasisSaver.from_store(str(tmp_path / "missing"), create=False)
    assert not (tmp_path / "missing").exists()


def test_one_daemon_per_store(daemon: StasisDaemon) -> None:
    """A second `stasis serve` on a served store exits at once (even on another socket), and
    StasisDaemon.start reports that instead of mistaking the first daemon for the second."""
    for socket in (None, os.path.join(os.path.dirname(daemon.store), "other.sock")):
        second = StasisDaemon(daemon.store, socket=socket)
        with pytest.raises(DaemonError, match="exited with 1"):
            second.start(timeout=20)
    assert health(daemon.unix_address).status == pb.HealthCheckResponse.SERVING
