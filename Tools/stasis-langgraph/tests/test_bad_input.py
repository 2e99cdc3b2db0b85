"""Bad input: wrong tokens, unknown threads, oversized and malformed messages, and raw garbage
on the Unix socket while another client keeps working."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import grpc
import pytest
from langgraph.checkpoint.conformance.test_utils import generate_checkpoint, generate_config, generate_metadata

from stasis_langgraph import StasisDaemon, StasisError, StasisSaver
from stasis_langgraph._proto import stasis_pb2 as pb
from stasis_langgraph._proto import stasis_pb2_grpc as rpc

TOKEN = "s3cret-" + uuid.uuid4().hex
LIMIT = 1 << 20  # the TCP daemon's --max-message-bytes


@pytest.fixture(scope="module")
def tcp_daemon(new_store: Callable[[str], str]) -> Iterator[StasisDaemon]:
    store = new_store("tcp")
    token_file = os.path.join(os.path.dirname(store), "token")
    with open(token_file, "w") as f:
        f.write(TOKEN + "\n")
    d = StasisDaemon(store, listen="127.0.0.1:0", token_file=token_file, max_message_bytes=LIMIT).start()
    try:
        yield d
    finally:
        code = d.stop()
    assert code == 0, d.output()


def _put(saver: StasisSaver, thread: str, values: dict | None = None) -> dict:
    cp = generate_checkpoint(channel_values=values or {})
    cp["channel_versions"] = {k: 1 for k in values or {}}
    return saver.put(generate_config(thread), cp, generate_metadata(), {k: 1 for k in values or {}})


# ---------------------------------------------------------------- tokens


def test_tcp_listener_reports_its_port(tcp_daemon: StasisDaemon, monkeypatch: pytest.MonkeyPatch) -> None:
    host, port = tcp_daemon.tcp_address.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    monkeypatch.delenv("STASIS_TOKEN", raising=False)
    # the health check is the one call that needs no token
    with StasisSaver(tcp_daemon.tcp_address) as saver:
        assert saver.health().status == pb.HealthCheckResponse.SERVING


@pytest.mark.parametrize("token", ["wrong-token", TOKEN + "x", ""])
def test_wrong_token_is_refused(tcp_daemon: StasisDaemon, token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STASIS_TOKEN", raising=False)
    with StasisSaver(tcp_daemon.tcp_address, token=token or None) as saver:
        for call in (
            lambda: saver.get_tuple(generate_config("t")),
            lambda: _put(saver, "t-wrong-token"),
            lambda: list(saver.list(None)),
        ):
            with pytest.raises(StasisError) as caught:
                call()
            assert caught.value.code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED), caught.value
            assert caught.value.details


def test_wrong_token_is_refused_async(tcp_daemon: StasisDaemon) -> None:
    async def run() -> StasisError:
        async with StasisSaver(tcp_daemon.tcp_address, token="nope") as saver:
            with pytest.raises(StasisError) as caught:
                await saver.aget_tuple(generate_config("t"))
            return caught.value

    assert asyncio.run(run()).code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


def test_right_token_from_the_environment(tcp_daemon: StasisDaemon, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STASIS_TOKEN", TOKEN)
    thread = f"t-{uuid.uuid4()}"
    with StasisSaver(tcp_daemon.tcp_address) as saver:
        stored = _put(saver, thread, {"v": "over tcp"})
        assert saver.get_tuple(stored).checkpoint["channel_values"] == {"v": "over tcp"}
    # the Unix socket of the same daemon needs no token, and sees the same store
    monkeypatch.delenv("STASIS_TOKEN")
    with StasisSaver(tcp_daemon.unix_address) as local:
        assert local.get_tuple(generate_config(thread)).checkpoint["channel_values"] == {"v": "over tcp"}


def test_unix_socket_is_private(daemon: StasisDaemon) -> None:
    mode = os.stat(daemon.socket_path).st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600, oct(stat.S_IMODE(mode))


# ---------------------------------------------------------------- unknown threads


def test_unknown_thread(saver: StasisSaver) -> None:
    thread = f"never-{uuid.uuid4()}"
    assert saver.get_tuple(generate_config(thread)) is None
    assert saver.get_tuple(generate_config(thread, checkpoint_id=str(uuid.uuid4()))) is None
    assert saver.get_tuple(generate_config(thread, checkpoint_ns="child:x")) is None
    assert list(saver.list(generate_config(thread))) == []
    saver.delete_thread(thread)  # deleting nothing is not an error
    saver.prune([thread])

    async def run() -> None:
        assert await saver.aget_tuple(generate_config(thread)) is None
        assert [t async for t in saver.alist(generate_config(thread))] == []

    asyncio.run(run())


# ---------------------------------------------------------------- oversized and malformed messages


def test_oversized_message(tcp_daemon: StasisDaemon) -> None:
    with StasisSaver(tcp_daemon.tcp_address, token=TOKEN) as saver:
        assert saver.health().max_message_bytes == LIMIT
        thread = f"t-{uuid.uuid4()}"
        with pytest.raises(StasisError) as caught:
            _put(saver, thread, {"big": os.urandom(2 * LIMIT)})
        assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED, caught.value
        assert caught.value.details
        assert saver.get_tuple(generate_config(thread)) is None  # nothing was stored

        stored = _put(saver, thread, {"small": b"x" * 1000})
        with pytest.raises(StasisError) as caught:
            saver.put_writes(stored, [("ch", os.urandom(2 * LIMIT))], "task-1")
        assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED, caught.value
        assert saver.get_tuple(stored).pending_writes == []
        # the connection and the daemon carry on
        saver.put_writes(stored, [("ch", "fine")], "task-1")
        assert saver.get_tuple(stored).pending_writes == [("task-1", "ch", "fine")]
        assert saver.health().status == pb.HealthCheckResponse.SERVING


def test_malformed_requests_get_invalid_argument(saver: StasisSaver) -> None:
    channel = grpc.insecure_channel(saver.client.connection.target)
    stub = rpc.CheckpointerStub(channel)
    typed = pb.Typed(type="msgpack", data=b"\x80")
    bad = [
        # no thread id
        pb.PutRequest(key=pb.CheckpointKey(thread_id="", checkpoint_id="c1"), checkpoint=typed, metadata=typed, metadata_json="{}"),
        # no checkpoint id
        pb.PutRequest(key=pb.CheckpointKey(thread_id="t"), checkpoint=typed, metadata=typed, metadata_json="{}"),
        # metadata that is not a JSON object
        pb.PutRequest(key=pb.CheckpointKey(thread_id="t", checkpoint_id="c1"), checkpoint=typed, metadata=typed, metadata_json="[1, 2"),
    ]
    for request in bad:
        with pytest.raises(grpc.RpcError) as caught:
            stub.Put(request, timeout=10)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (request, caught.value)
        assert caught.value.details()
    with pytest.raises(grpc.RpcError) as caught:
        list(stub.List(pb.ListRequest(thread_id="t", metadata_filter_json="{not json"), timeout=10))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    channel.close()
    assert saver.get_tuple(generate_config("t")) is None  # nothing was stored


# ---------------------------------------------------------------- garbage on the socket

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def _frame(length: int, kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return length.to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


GARBAGE = [
    os.urandom(4096),
    b"\x00" * 100,
    b"GET / HTTP/1.1\r\nHost: stasis\r\n\r\n",
    PREFACE[:10],  # truncated preface
    PREFACE + b"\x00\x00",  # truncated frame header
    PREFACE + _frame(0xFFFFFF, 4, 0, 0),  # SETTINGS claiming 16 MiB, no payload
    PREFACE + EMPTY_SETTINGS + _frame(16, 1, 0x5, 1, os.urandom(16)),  # HEADERS with garbage HPACK
    PREFACE + EMPTY_SETTINGS + _frame(100, 0, 0x1, 1, os.urandom(10)),  # truncated DATA, no HEADERS
    PREFACE + EMPTY_SETTINGS + _frame(4, 8, 0, 0, b"\x7f\xff\xff\xff"),  # huge WINDOW_UPDATE
    PREFACE + EMPTY_SETTINGS + _frame(8, 6, 0, 0, b"12345678") * 1000,  # PING flood
    PREFACE + os.urandom(8192),
]


def _send_raw(path: str, payload: bytes) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1)
        s.connect(path)
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):  # read until the daemon closes (or 1 s passes)
                pass
        except (BrokenPipeError, ConnectionResetError, TimeoutError, socket.timeout):
            pass


def test_garbage_on_the_unix_socket(daemon: StasisDaemon) -> None:
    stop = threading.Event()
    errors: list[BaseException] = []
    done = [0]

    def worker() -> None:
        with StasisSaver(daemon.unix_address) as saver:
            thread = f"t-{uuid.uuid4()}"
            parent = None
            while not stop.is_set():
                try:
                    config = generate_config(thread)
                    if parent:
                        config["configurable"]["checkpoint_id"] = parent["configurable"]["checkpoint_id"]
                    cp = generate_checkpoint(channel_values={"n": done[0]})
                    cp["channel_versions"] = {"n": done[0] + 1}
                    parent = saver.put(config, cp, generate_metadata(step=done[0]), {"n": done[0] + 1})
                    assert saver.get_tuple(parent).checkpoint["channel_values"] == {"n": done[0]}
                    done[0] += 1
                except BaseException as error:  # noqa: BLE001 - reported below
                    errors.append(error)
                    return

    # connections that say nothing, or only the preface, and stay open throughout
    idle = []
    for payload in (b"", PREFACE):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(daemon.socket_path)
        s.sendall(payload)
        idle.append(s)

    t = threading.Thread(target=worker)
    t.start()
    try:
        for _ in range(3):
            for payload in GARBAGE:
                _send_raw(daemon.socket_path, payload)
        before = done[0]
        deadline = time.monotonic() + 60
        while done[0] < before + 10 and t.is_alive():  # the worker is still making progress
            assert time.monotonic() < deadline, "the worker stopped making progress"
            time.sleep(0.01)
    finally:
        stop.set()
        t.join(timeout=60)
        for s in idle:
            s.close()
    assert not errors, errors
    assert done[0] >= 10
    with StasisSaver(daemon.unix_address) as saver:
        assert saver.health().status == pb.HealthCheckResponse.SERVING


def test_tls_listener(new_store: Callable[[str], str], tmp_path) -> None:
    """With --tls-cert/--tls-key the TCP listener speaks TLS: a client trusting the certificate
    works (with the token), a plaintext client does not get through."""
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    token_file = tmp_path / "token"
    token_file.write_text("tls-secret\n")
    store = new_store("tls")
    d = StasisDaemon(store, listen="127.0.0.1:0", token_file=str(token_file),
                     extra_args=("--tls-cert", str(cert), "--tls-key", str(key))).start()
    try:
        address = d.tcp_address
        saver = StasisSaver(address, token="tls-secret", tls_ca=str(cert), timeout=10)
        config = saver.put(generate_config("tls-thread"), generate_checkpoint(), generate_metadata(), {})
        assert saver.get_tuple(config) is not None
        saver.close()
        plain = StasisSaver(address, token="tls-secret", timeout=3)
        with pytest.raises(StasisError):
            plain.get_tuple(generate_config("tls-thread"))
        plain.close()
    finally:
        d.stop()
