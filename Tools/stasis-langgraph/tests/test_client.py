"""StasisClient: sessions and their history over the daemon."""

from __future__ import annotations

import json

import grpc
import pytest

from stasis_langgraph import StasisError, StasisSaver


def test_sessions_and_history(saver: StasisSaver) -> None:
    client = saver.client
    session = client.create_session({"agent": "tester"})
    assert session.id and dict(session.labels) == {"agent": "tester"}
    assert client.get_session(session.id).id == session.id
    assert session.id in [s.id for s in client.list_sessions()]

    appended = client.append(
        session.id,
        [
            ("command.started", {"command": "make test"}),
            {"kind": "output", "stream": "stdout", "data": "all green\n"},
            ("command.exited", {"code": 0}),
        ],
    )
    assert appended.end_seq - appended.first_seq == 3
    events = list(client.events(session.id))
    assert [e.kind for e in events[-3:]] == ["command.started", "output", "command.exited"]
    assert json.loads(events[-3].data_json)["command"] == "make test"
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert [e.kind for e in client.events(session.id, kinds=["output"])] == ["output"]
    assert len(list(client.events(session.id, last=1))) == 1

    verified = client.verify(session.id)
    assert verified.ok, verified.problem
    assert verified.events == len(events)
    assert client.get_session(session.id).history_size == len(events)


def test_bad_session_calls(saver: StasisSaver) -> None:
    client = saver.client
    with pytest.raises(StasisError) as caught:
        client.get_session("deadbeef" * 4)  # well-formed, but no such session
    assert caught.value.code == grpc.StatusCode.NOT_FOUND, caught.value
    assert caught.value.details
    with pytest.raises(StasisError) as caught:
        client.get_session("no-such-session")  # not an id at all
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT, caught.value
    assert "no-such-session" in caught.value.details

    session = client.create_session()
    before = len(list(client.events(session.id)))
    with pytest.raises(StasisError) as caught:
        # the second event lacks "command": neither is written
        client.append(session.id, [("note", {"text": "fine"}), ("command.started", {"cwd": "/"})])
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT, caught.value
    assert "command" in caught.value.details
    assert len(list(client.events(session.id))) == before
