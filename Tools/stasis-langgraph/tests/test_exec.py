"""Exec through the daemon (real microVM): the argv reaches the guest exactly, env/cwd/stdin/
timeout work as on the CLI, and ExecStream streams output as it comes and stdin while the
command runs, bit-exact both ways."""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import os
import queue
import shutil
import threading
import urllib.request
from collections.abc import Iterator

import pytest

from stasis_langgraph import AsyncStasisClient, ExecOutput, ExecResult, StasisClient, StasisDaemon
from stasis_langgraph.errors import InvalidArgumentError


@pytest.fixture(scope="module")
def box(daemon: StasisDaemon) -> Iterator[tuple[StasisClient, str]]:
    client = StasisClient(daemon.unix_address)
    sandbox = client.run_sandbox(memory_bytes=256 << 20, disk_bytes=64 << 20)
    try:
        yield client, sandbox.id
    finally:
        client.stop(sandbox.id)
        client.close()


def test_argv_is_exact_and_options_apply(box: tuple[StasisClient, str]) -> None:
    client, sandbox = box
    # Words with spaces, quotes and $(...) arrive as they are: nothing is expanded in the guest.
    r = client.exec(sandbox, argv=["printf", "%s|", "a b", "$(uname)", "'q'"], timeout_seconds=60)
    assert (r.exit_code, r.stdout) == (0, b"a b|$(uname)|'q'|")
    assert r.stdout_bytes == len(r.stdout) and not r.timed_out
    r = client.exec(sandbox, argv=["sh", "-c", 'echo "$GREETING"; pwd'], env={"GREETING": "hello there"}, cwd="/tmp")
    assert r.stdout == b"hello there\n/tmp\n"
    # A shell line keeps the persistent shell's state, as `stasis exec --shell` does.
    assert client.exec(sandbox, "cd /proc && X=kept").exit_code == 0
    assert client.exec(sandbox, 'pwd; echo "$X"').stdout == b"/proc\nkept\n"
    data = os.urandom(300_000)
    r = client.exec(sandbox, argv=["sha256sum"], stdin=data)
    assert r.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()
    missing = client.exec(sandbox, argv=["no-such-program-here"])
    assert missing.exit_code == 127 and b"no-such-program-here" in missing.stderr
    slow = client.exec(sandbox, argv=["sleep", "30"], timeout_seconds=1)
    assert slow.timed_out and slow.exit_code == 124


def test_bad_arguments(box: tuple[StasisClient, str]) -> None:
    client, sandbox = box
    with pytest.raises(ValueError, match="exactly one"):
        client.exec(sandbox)
    with pytest.raises(ValueError, match="exactly one"):
        client.exec(sandbox, "true", argv=["true"])
    with pytest.raises(TypeError, match="list of strings"):
        client.exec(sandbox, argv="ls -l")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="argv"):
        client.exec(sandbox, argv=["", "x"])
    with pytest.raises(InvalidArgumentError, match="GREETING-1"):
        client.exec(sandbox, argv=["true"], env={"GREETING-1": "x"})
    with pytest.raises(InvalidArgumentError, match="sandbox"):
        list(client.exec_stream("", argv=["true"]))


def test_stream_output_as_it_comes_and_stdin_while_it_runs(box: tuple[StasisClient, str]) -> None:
    client, sandbox = box
    # The command waits for a line of stdin that is sent only after its first output arrived:
    # this passes only if output streams before the command ends (no timing involved).
    lines: queue.Queue[bytes | None] = queue.Queue()

    def stdin() -> Iterator[bytes]:
        while (line := lines.get()) is not None:
            yield line

    items = []
    for item in client.exec_stream(sandbox, argv=["sh", "-c", "echo ready; read line; echo got:$line; echo oops >&2"], stdin=stdin()):
        items.append(item)
        if item == ExecOutput("stdout", b"ready\n"):
            lines.put(b"hello\n")
            lines.put(None)
    result = items[-1]
    assert isinstance(result, ExecResult) and result.exit_code == 0
    out = b"".join(i.data for i in items if isinstance(i, ExecOutput) and i.stream == "stdout")
    err = b"".join(i.data for i in items if isinstance(i, ExecOutput) and i.stream == "stderr")
    assert (out, err) == (b"ready\ngot:hello\n", b"oops\n")
    assert (result.stdout_bytes, result.stderr_bytes) == (len(out), len(err))

    # Binary both ways, bit-exact: 3 MiB of random stdin hashed in the guest, 2 MB of random
    # output compared with the guest's own hash of it.
    data = os.urandom(3 << 20)
    items = list(client.exec_stream(sandbox, argv=["sha256sum"], stdin=[data[: 1 << 20], data[1 << 20 :]]))
    out = b"".join(i.data for i in items if isinstance(i, ExecOutput))
    assert out.split()[0].decode() == hashlib.sha256(data).hexdigest()
    items = list(client.exec_stream(sandbox, "head -c 2000000 /dev/urandom > /tmp/r && cat /tmp/r"))
    out = b"".join(i.data for i in items if isinstance(i, ExecOutput) and i.stream == "stdout")
    assert len(out) == 2_000_000 and isinstance(items[-1], ExecResult) and items[-1].stdout_bytes == 2_000_000
    guest = client.exec(sandbox, argv=["sha256sum", "/tmp/r"]).stdout.split()[0].decode()
    assert hashlib.sha256(out).hexdigest() == guest


def test_async_stream(daemon: StasisDaemon, box: tuple[StasisClient, str]) -> None:
    _, sandbox = box

    async def run() -> list[ExecOutput | ExecResult]:
        async def stdin():
            yield b"one\n"
            yield b"two\n"

        async with AsyncStasisClient(daemon.unix_address) as client:
            return [item async for item in client.exec_stream(sandbox, argv=["cat"], stdin=stdin())]

    items = asyncio.run(run())
    assert b"".join(i.data for i in items if isinstance(i, ExecOutput)) == b"one\ntwo\n"
    assert isinstance(items[-1], ExecResult) and items[-1].exit_code == 0


def test_resume_and_restore_eager_or_lazy(daemon: StasisDaemon) -> None:
    """`eager` reaches the daemon: a lazy restore's memory is a served file with a status
    (memory.json in the sandbox directory), an eager one's is written whole first."""
    with StasisClient(daemon.unix_address) as client:
        box = client.run_sandbox(memory_bytes=128 << 20, disk_bytes=64 << 20)
        started = [box.id]
        try:
            assert client.exec(box.id, "echo kept > /tmp/mark").ok
            paused = client.pause(box.id)
            eager = client.resume(box.session, eager=True)
            started.append(eager.id)
            assert client.exec(eager.id, argv=["cat", "/tmp/mark"]).stdout == b"kept\n"
            assert not os.path.exists(os.path.join(eager.directory, "memory.json"))
            lazy = client.restore(paused.id)
            started.append(lazy.id)
            assert client.exec(lazy.id, argv=["cat", "/tmp/mark"]).stdout == b"kept\n"
            assert os.path.exists(os.path.join(lazy.directory, "memory.json"))
        finally:
            for sandbox in started[1:]:
                try:
                    client.stop(sandbox)
                except Exception as error:  # noqa: BLE001 - report, keep stopping the others
                    print(f"could not stop sandbox {sandbox}: {error}")


def _guest_has_network() -> bool:
    cache = os.environ.get("STASIS_GUEST_CACHE", "/var/cache/stasis/guest")
    try:
        with open(os.path.join(cache, "guest.env")) as f:
            return "virtio_net" in f.read()
    except OSError:
        return False


@pytest.mark.skipif(not (_guest_has_network() and os.geteuid() == 0 and shutil.which("nft")),
                    reason="needs root, nft and a guest image with virtio_net (Tools/guest/build.sh)")
def test_network_policy_over_the_daemon(daemon: StasisDaemon) -> None:
    """run_sandbox(allow=…, publish=…): an allowed host server answers, another port is refused
    at once, a published guest port answers on the host, and the Sandbox says so."""
    allowed, other = _serve("allowed"), _serve("not allowed")
    try:
        with StasisClient(daemon.unix_address) as client:
            box = client.run_sandbox(memory_bytes=128 << 20, disk_bytes=64 << 20,
                                     allow=[f"127.0.0.1:{allowed.server_port}"], publish=[8080])
            try:
                assert box.network is not None and box.network.allow == (f"127.0.0.1:{allowed.server_port}",)
                host_port = box.network.publish[8080]
                assert host_port > 0
                fetched = client.exec(box.id, argv=["wget", "-q", "-O", "-", f"http://10.0.2.2:{allowed.server_port}/"], timeout_seconds=60)
                assert (fetched.exit_code, fetched.stdout) == (0, b"allowed")
                refused = client.exec(box.id, argv=["wget", "-q", "-O", "-", f"http://10.0.2.2:{other.server_port}/"], timeout_seconds=60)
                assert refused.exit_code != 0 and not refused.timed_out and refused.stdout == b""
                served = client.exec(box.id, "mkdir -p /tmp/www && echo from-guest > /tmp/www/index.html && httpd -p 8080 -h /tmp/www")
                assert served.ok, served.stderr
                with urllib.request.urlopen(f"http://127.0.0.1:{host_port}/", timeout=30) as answer:
                    assert answer.read() == b"from-guest\n"
                listed = next(s for s in client.list_sandboxes() if s.id == box.id)
                assert listed.network == box.network
            finally:
                client.stop(box.id)
            with pytest.raises(InvalidArgumentError, match="70000"):
                client.run_sandbox(allow=["127.0.0.1:70000"])
            with pytest.raises(TypeError, match="list of values"):
                client.run_sandbox(allow="127.0.0.1:80")  # type: ignore[arg-type]
    finally:
        allowed.shutdown()
        other.shutdown()


def _serve(text: str) -> http.server.HTTPServer:
    """An HTTP server on the host's loopback answering `text` to every GET, in a thread."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            body = text.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
