"""Finding the `stasis` binary and running a private `stasis serve` process."""

from __future__ import annotations

import collections
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO

from ._proto import stasis_pb2 as pb
from ._proto import stasis_pb2_grpc as rpc
from .errors import DaemonError, StasisError
from .transport import Connection

#: The file `stasis init` creates; its presence means a store exists at the directory.
_STORE_MARKERS = ("catalog.sqlite", "store.json")  # a store on one host; a host's view of a fleet store


def find_stasis_binary(binary: str | os.PathLike[str] | None = None) -> str:
    """The `stasis` executable: `binary`, else $STASIS_BIN, else `stasis` on PATH, else the
    nearest `.build/release/stasis` or `.build/debug/stasis` above this package (a checkout)."""
    for candidate in (binary, os.environ.get("STASIS_BIN")):
        if candidate:
            path = os.path.abspath(os.fspath(candidate))
            if not os.access(path, os.X_OK):
                raise DaemonError(f"the stasis binary {path} does not exist or is not executable")
            return path
    if found := shutil.which("stasis"):
        return found
    for directory in Path(__file__).resolve().parents:
        for build in ("release", "debug"):
            built = directory / ".build" / build / "stasis"
            if os.access(built, os.X_OK):
                return str(built)
    raise DaemonError(
        "no stasis binary found: set STASIS_BIN, put `stasis` on PATH, "
        "or build it in the checkout with `swift build --product stasis`"
    )


def store_exists(path: str | os.PathLike[str]) -> bool:
    return any(os.path.isfile(os.path.join(os.fspath(path), marker)) for marker in _STORE_MARKERS)


def init_store(
    path: str | os.PathLike[str],
    binary: str | None = None,
    *,
    catalog: str | None = None,
    objects: str | None = None,
    key: str | os.PathLike[str] | None = None,
    master_key: str | os.PathLike[str] | None = None,
) -> None:
    """`stasis init --store PATH`; raises DaemonError with stasis's message when it fails.

    With `catalog` (postgres://…) and `objects` (s3://BUCKET/PREFIX) the store is a fleet store
    shared by several hosts; `key` (a copy of its keys/store.ed25519) joins an existing one, and
    `master_key` (a copy of its keys/master.key; default: master.key beside `key`) opens an
    encrypted one.
    Credentials come from the environment (PGPASSWORD, AWS_ACCESS_KEY_ID, …), never arguments.
    """
    exe = find_stasis_binary(binary)
    args = [exe, "init", "--store", os.fspath(path)]
    if catalog is not None or objects is not None:
        args += ["--catalog", catalog or "", "--objects", objects or ""]
    if key is not None:
        args += ["--key", os.fspath(key)]
    if master_key is not None:
        args += ["--master-key", os.fspath(master_key)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise DaemonError(
            f"`stasis init --store {path}` failed (exit {done.returncode}): "
            f"{(done.stderr or done.stdout).strip()}"
        )


def health(address: str, *, token: str | None = None, timeout: float = 2.0) -> pb.HealthCheckResponse | None:
    """The daemon's Health.Check answer, or None if nothing answers at `address` in time."""
    conn = Connection(address, token=token, timeout=timeout, connect_grace=0.0)
    try:
        return conn.unary(rpc.HealthStub, "Check", pb.HealthCheckRequest())
    except StasisError:
        return None
    finally:
        conn.close()


class StasisDaemon:
    """A `stasis serve --store STORE` child process.

    `start()` launches it in its own session and waits until it has printed a `listening ...`
    line for each listener and then answers Health.Check with SERVING. `stop()` sends SIGTERM and
    waits (the daemon drains and exits 0); `kill()` sends SIGKILL. It can be started again after
    either, with the same arguments.
    """

    def __init__(
        self,
        store: str | os.PathLike[str],
        *,
        binary: str | None = None,
        socket: str | None = None,
        listen: str | None = None,
        token: str | None = None,
        token_file: str | None = None,
        max_message_bytes: int | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.store = os.path.abspath(os.fspath(store))
        self.binary = find_stasis_binary(binary)
        self.socket_path = os.path.abspath(socket) if socket else os.path.join(self.store, "stasis.sock")
        self.listen = listen
        self.token = token
        self.token_file = token_file
        self.max_message_bytes = max_message_bytes
        self.extra_args = tuple(extra_args)
        self.process: subprocess.Popen[str] | None = None
        self.addresses: list[str] = []
        self._output: collections.deque[str] = collections.deque(maxlen=400)
        self._cond = threading.Condition()
        self._readers: list[threading.Thread] = []

    # ------------------------------------------------------------ addresses

    @property
    def unix_address(self) -> str:
        return "unix://" + self.socket_path

    @property
    def tcp_address(self) -> str | None:
        """The TCP listener as "host:port" (the real port when port 0 was asked for)."""
        with self._cond:
            for address in self.addresses:
                if not address.startswith("unix:"):
                    return address
        return None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def output(self) -> str:
        """The last lines the daemon wrote (stdout and stderr)."""
        with self._cond:
            return "\n".join(self._output)

    def command(self) -> list[str]:
        args = [self.binary, "serve", "--store", self.store, "--socket", self.socket_path]
        if self.listen:
            args += ["--listen", self.listen]
        if self.token_file:
            args += ["--token-file", self.token_file]
        if self.max_message_bytes is not None:
            args += ["--max-message", str(self.max_message_bytes)]
        return args + list(self.extra_args)

    # ------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 30.0) -> StasisDaemon:
        if self.process is not None and self.process.poll() is None:
            raise DaemonError(f"stasis serve for {self.store} is already running (pid {self.process.pid})")
        env = dict(os.environ)
        if self.token:
            env["STASIS_TOKEN"] = self.token
        with self._cond:
            self.addresses = []
        self.process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, True), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, False), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def _read(self, stream: IO[str], is_stdout: bool) -> None:
        for line in stream:
            line = line.rstrip("\n")
            with self._cond:
                self._output.append(line)
                if is_stdout and line.startswith("listening "):
                    address = line.split(" ", 1)[1].strip()
                    self.addresses.append(address.removeprefix("tcp://"))
                self._cond.notify_all()
        stream.close()

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        expected = 1 + (1 if self.listen else 0)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                for reader in self._readers:
                    reader.join(timeout=2)
                raise DaemonError(
                    f"`{' '.join(self.command())}` exited with {self.process.returncode} before it was ready:\n"
                    + self.output()
                )
            with self._cond:
                listed = len(self.addresses) >= expected
            # Only this process's own "listening" lines count: another daemon may already
            # answer on the same socket (this one then exits 1, "already serving").
            if listed:
                answer = health(self.unix_address, token=self.token, timeout=1.0)
                if answer is not None and answer.status == pb.HealthCheckResponse.SERVING:
                    return
            if time.monotonic() > deadline:
                raise DaemonError(
                    f"`{' '.join(self.command())}` was not serving after {timeout:.0f} s:\n" + self.output()
                )
            with self._cond:
                self._cond.wait(timeout=0.1)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait; SIGKILL if it has not exited after `timeout` s. Returns the exit code."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            try:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._join_readers()
        return process.returncode

    def kill(self) -> int | None:
        """SIGKILL and wait (a crash, as far as the store is concerned)."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.kill()
            process.wait()
        self._join_readers()
        return process.returncode

    def _join_readers(self) -> None:
        for reader in self._readers:
            reader.join(timeout=5)

    def __enter__(self) -> StasisDaemon:
        if self.process is None or self.process.poll() is not None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
