"""langgraph-checkpoint-conformance against StasisSaver on a real daemon."""

from __future__ import annotations

import asyncio

from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES
from langgraph.checkpoint.conformance.report import ProgressCallbacks

from stasis_langgraph import StasisDaemon, StasisSaver


def test_conformance_full(daemon: StasisDaemon) -> None:
    @checkpointer_test(name="StasisSaver")
    async def stasis_saver():
        saver = StasisSaver(daemon.unix_address)
        try:
            yield saver
        finally:
            await saver.aclose()

    report = asyncio.run(validate(stasis_saver, progress=ProgressCallbacks.verbose()))
    report.print_report()

    detected = {name for name, result in report.results.items() if result.detected}
    expected = {c.value for c in ALL_CAPABILITIES}
    assert len(expected) == 8
    assert detected == expected, f"capabilities not detected: {expected - detected}"
    failures = [f for result in report.results.values() for f in result.failures]
    assert not failures, "conformance failures:\n" + "\n".join(failures)
    for name, result in report.results.items():
        assert result.passed is True and result.tests_failed == 0 and result.tests_passed > 0, (name, result)
    assert report.conformance_level() == "FULL"
