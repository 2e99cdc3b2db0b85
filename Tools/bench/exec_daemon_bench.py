#!/usr/bin/env python3
"""Exec through the daemon, side by side with `stasis exec` on the same sandbox, same run.

What an agent platform sees: the round trip of `true` and the throughput of N MiB of random
stdout (a file in the guest's tmpfs, `cat`), through (a) the Python client's `exec` and `exec_stream` (gRPC over the daemon's Unix
socket), and (b) the CLI, `stasis exec SANDBOX -- ...` (one process per command, as a shell
script would call it). Both record the command in the session's history. Prints medians and
the ratio daemon/CLI.

    python3 Tools/bench/exec_daemon_bench.py --stasis .build-release/release/stasis [--runs 30] [--mib 100]

Needs the stasis-langgraph package importable (pip install -e Tools/stasis-langgraph) and a
guest image (Tools/guest/build.sh).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "stasis-langgraph"))
from stasis_langgraph import ExecOutput, StasisClient  # noqa: E402


def start_daemon(stasis: str, store: str) -> tuple[subprocess.Popen[bytes], str]:
    subprocess.run([stasis, "init", "--store", store], check=True, capture_output=True)
    log = open(os.path.join(store, "..", "serve.log"), "wb")
    daemon = subprocess.Popen([stasis, "serve", "--store", store], stdout=log, stderr=subprocess.STDOUT)
    socket = os.path.join(store, "stasis.sock")
    for _ in range(300):
        if os.path.exists(socket):
            return daemon, "unix://" + socket
        time.sleep(0.1)
    raise SystemExit("stasis serve did not start: see " + log.name)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stasis", default=".build-release/release/stasis")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--mib", type=int, default=100)
    parser.add_argument("--streams", type=int, default=3, help="throughput runs per path")
    parser.add_argument("--memory", type=int, default=512, help="guest MiB")
    args = parser.parse_args()
    stasis = os.path.abspath(args.stasis)
    work = tempfile.mkdtemp(prefix="stasis-exec-bench-")
    store = os.path.join(work, "store")
    daemon, address = start_daemon(stasis, store)
    env = dict(os.environ, STASIS_STORE=store)
    try:
        with StasisClient(address) as client:
            box = client.run_sandbox(memory_bytes=args.memory << 20, disk_bytes=64 << 20)
            print(f"sandbox {box.id} ({box.accelerator}), {args.memory} MiB guest", file=sys.stderr)
            rows = []
            # Round trip of `true`.
            daemon_rt, cli_rt = [], []
            for _ in range(args.runs):
                t = time.perf_counter()
                assert client.exec(box.id, argv=["true"]).ok
                daemon_rt.append(time.perf_counter() - t)
                t = time.perf_counter()
                subprocess.run([stasis, "exec", box.id, "--", "true"], env=env, check=True, capture_output=True)
                cli_rt.append(time.perf_counter() - t)
            rows.append(("exec `true`, p50 ms", median_ms(daemon_rt), median_ms(cli_rt)))
            # Throughput of random stdout: a file made once in the guest's tmpfs (the guest's
            # /dev/urandom under TCG makes only a few MiB/s), then `cat` of it.
            size = args.mib << 20
            made = client.exec(box.id, argv=["sh", "-c", f"head -c {size} /dev/urandom > /tmp/random"], timeout_seconds=600)
            assert made.ok, made.stderr
            command = ["cat", "/tmp/random"]
            daemon_s, cli_s = [], []
            for _ in range(args.streams):
                t = time.perf_counter()
                got = 0
                for item in client.exec_stream(box.id, argv=command):
                    if isinstance(item, ExecOutput):
                        got += len(item.data)
                daemon_s.append(time.perf_counter() - t)
                assert got == size, got
                t = time.perf_counter()
                out = subprocess.run([stasis, "exec", box.id, "--", *command], env=env, check=True, stdout=subprocess.PIPE).stdout
                cli_s.append(time.perf_counter() - t)
                assert len(out) == size
            rows.append((f"{args.mib} MiB random stdout, MiB/s", args.mib / statistics.median(daemon_s), args.mib / statistics.median(cli_s)))
            client.stop(box.id)
        print(f"{'measure':<34} {'daemon (Python client)':>22} {'stasis exec (CLI)':>18} {'daemon / CLI':>12}")
        for name, d, c in rows:
            print(f"{name:<34} {d:>22.2f} {c:>18.2f} {d / c:>11.2f}x")
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
