"""Fixtures: a real `stasis serve` (binary from $STASIS_BIN) on a temporary store."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from stasis_langgraph import StasisDaemon, StasisSaver, init_store


def pytest_configure(config: pytest.Config) -> None:
    binary = os.environ.get("STASIS_BIN")
    if not binary:
        raise pytest.UsageError(
            "STASIS_BIN is not set: these tests run against a real daemon. "
            "Build it (swift build --product stasis) and run "
            "`STASIS_BIN=/path/to/stasis pytest`, or Tools/stasis-langgraph/run_tests.sh /path/to/stasis"
        )
    if not os.access(binary, os.X_OK):
        raise pytest.UsageError(f"STASIS_BIN={binary} is not an executable file")


@pytest.fixture(scope="session")
def new_store(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], str]:
    """Makes a fresh store (`stasis init`) in a short temporary path: Unix socket paths are
    limited to 107 bytes."""

    def make(name: str = "store") -> str:
        store = str(tmp_path_factory.mktemp(name) / "s")
        if os.environ.get("STASIS_TEST_STORES") == "fleet":
            # Every store a fleet store: its catalog in a schema, its objects under a prefix,
            # of their own (Tools/test.sh's fleet pass).
            init_store(store, **fleet_backends())
        else:
            init_store(store)
        return store

    return make


@pytest.fixture(scope="session")
def daemon(new_store: Callable[[str], str]) -> Iterator[StasisDaemon]:
    """One daemon for the whole run; it must drain and exit 0 on SIGTERM at the end."""
    d = StasisDaemon(new_store("main")).start()
    try:
        yield d
    finally:
        code = d.stop()
    assert code == 0, f"stasis serve exited with {code} on SIGTERM:\n{d.output()}"


@pytest.fixture
def saver(daemon: StasisDaemon) -> Iterator[StasisSaver]:
    s = StasisSaver(daemon.unix_address)
    try:
        yield s
    finally:
        s.close()


def fleet_backends() -> dict[str, str]:
    """A fresh schema and prefix in the test PostgreSQL and SeaweedFS (STASIS_TEST_FLEET_CATALOG,
    STASIS_TEST_FLEET_OBJECTS; Tools/test.sh sets them and the credentials)."""
    catalog, objects = os.environ.get("STASIS_TEST_FLEET_CATALOG"), os.environ.get("STASIS_TEST_FLEET_OBJECTS")
    if not catalog or not objects:
        raise pytest.UsageError(
            "fleet stores need STASIS_TEST_FLEET_CATALOG (postgres://USER@HOST:PORT/DB) and "
            "STASIS_TEST_FLEET_OBJECTS (s3://BUCKET) with PGPASSWORD and AWS_* set: run Tools/test.sh"
        )
    name = "py_" + uuid.uuid4().hex[:16]
    return {"catalog": f"{catalog}?schema={name}", "objects": f"{objects}/{name}"}
