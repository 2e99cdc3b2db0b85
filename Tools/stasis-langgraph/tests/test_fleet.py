"""Two daemons on two hosts' directories of one fleet store (catalog in PostgreSQL, objects in
SeaweedFS): a thread written through one continues through the other, and the first host's
directory can be deleted without losing anything."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

import pytest
from conftest import fleet_backends
from test_graphs import chain_graph, new_thread

from stasis_langgraph import StasisDaemon, StasisSaver, init_store

STEPS = ["s1", "s2", "s3", "s4", "s5", "s6"]


@pytest.fixture
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], str]:
    """Host directories joined to one fresh fleet store: the first call creates it."""
    backends = fleet_backends()
    created: list[str] = []

    def host(name: str) -> str:
        store = str(tmp_path_factory.mktemp(name) / "s")
        if created:
            key = os.path.join(str(tmp_path_factory.getbasetemp()), f"key-{os.getpid()}-{len(created)}")
            shutil.copyfile(os.path.join(created[0], "keys", "store.ed25519"), key)
            os.chmod(key, 0o600)
            master = key + ".master"
            shutil.copyfile(os.path.join(created[0], "keys", "master.key"), master)
            os.chmod(master, 0o600)
            init_store(store, key=key, master_key=master, **backends)
        else:
            init_store(store, **backends)
        created.append(store)
        return store

    return host


def test_a_thread_moves_between_daemons_on_two_hosts(fleet: Callable[[str], str]) -> None:
    host_a, host_b = fleet("host-a"), fleet("host-b")
    daemon_a = StasisDaemon(host_a).start()
    saver_a = StasisSaver(daemon_a.unix_address)
    config = new_thread()
    try:
        graph = chain_graph(saver_a, STEPS, interrupt_after="*")
        graph.invoke({"log": []}, config, durability="sync")
        graph.invoke(None, config, durability="sync")
        graph.invoke(None, config, durability="sync")
        assert graph.get_state(config).values == {"log": STEPS[:3]}
    finally:
        saver_a.close()
        assert daemon_a.stop() == 0, daemon_a.output()
    shutil.rmtree(host_a)   # nothing may come from host A's directory now

    daemon_b = StasisDaemon(host_b).start()
    saver_b = StasisSaver(daemon_b.unix_address)
    try:
        graph = chain_graph(saver_b, STEPS, interrupt_after="*")
        assert graph.get_state(config).next == ("s4",)
        for _ in range(3):
            graph.invoke(None, config, durability="sync")
        final = graph.get_state(config)
        assert final.values == {"log": STEPS} and final.next == ()
        history = list(graph.get_state_history(config))
        assert [s.metadata["step"] for s in history] == list(range(len(STEPS), -2, -1))
    finally:
        saver_b.close()
        assert daemon_b.stop() == 0, daemon_b.output()


def test_two_daemons_serve_the_same_threads_at_once(fleet: Callable[[str], str]) -> None:
    daemon_a = StasisDaemon(fleet("host-a")).start()
    daemon_b = StasisDaemon(fleet("host-b")).start()
    saver_a, saver_b = StasisSaver(daemon_a.unix_address), StasisSaver(daemon_b.unix_address)
    try:
        threads = [new_thread() for _ in range(4)]
        # Steps alternate between the hosts, as a load balancer might send them.
        for step in range(4):
            for n, config in enumerate(threads):
                saver = saver_a if (step + n) % 2 == 0 else saver_b
                graph = chain_graph(saver, STEPS, interrupt_after="*")
                graph.invoke({"log": []} if step == 0 else None, config, durability="sync")
        for config in threads:
            for saver in (saver_a, saver_b):
                state = chain_graph(saver, STEPS, interrupt_after="*").get_state(config)
                assert state.values == {"log": STEPS[:4]}
    finally:
        saver_a.close()
        saver_b.close()
        assert daemon_a.stop() == 0, daemon_a.output()
        assert daemon_b.stop() == 0, daemon_b.output()
