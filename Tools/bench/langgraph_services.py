#!/usr/bin/env python3
"""The services side of the LangGraph benchmark (Tools/bench/langgraph.sh): PostgreSQL and
SeaweedFS as Tools/services/start.sh runs them, and the hosts (network namespaces) the fleet
daemons run in.

- storage: the size of a schema's relations in PostgreSQL, the bytes under a bucket prefix;
- cost: CPU time of the PostgreSQL cluster (postmaster, its live children and the children it
  reaped) and of SeaweedFS, from /proc; per TCP connection to PostgreSQL or S3, the data
  segments and bytes each way (`ss -ti`, in the namespace of the process that owns it);
- cleanup: `langgraph_services.py drop --schema NAME [--objects s3://BUCKET/PREFIX]`.

Connection facts come from the environment langgraph.sh exports from the services' env file:
STASIS_TEST_PG_URL (with its password), STASIS_TEST_S3_ENDPOINT, _REGION, _BUCKET,
_ACCESS_KEY_ID, _SECRET_ACCESS_KEY; STASIS_SERVICES_DIR for the services' pid files.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def pg_url() -> str:
    url = os.environ.get("STASIS_TEST_PG_URL")
    if not url:
        raise SystemExit("STASIS_TEST_PG_URL is not set: langgraph.sh exports it from the services' env file")
    return url


def pg_address() -> tuple[str, int]:
    u = urlsplit(pg_url())
    return u.hostname or "127.0.0.1", u.port or 5432


def s3_address() -> tuple[str, int]:
    u = urlsplit(os.environ.get("STASIS_TEST_S3_ENDPOINT", "http://127.0.0.1:8333"))
    return u.hostname or "127.0.0.1", u.port or 80


def check_schema(name: str) -> str:
    if not SCHEMA_RE.match(name):
        raise ValueError(f"not a plain schema name: {name!r}")
    return name


# ------------------------------------------------------------------ PostgreSQL

def connect(**kwargs: Any) -> Any:
    import psycopg

    return psycopg.connect(pg_url(), autocommit=True, **kwargs)


def create_schema(name: str) -> None:
    with connect() as con:
        con.execute(f"CREATE SCHEMA {check_schema(name)}")


def drop_schema(name: str) -> None:
    with connect() as con:
        con.execute(f"DROP SCHEMA IF EXISTS {check_schema(name)} CASCADE")


def schema_sizes(name: str) -> dict[str, Any]:
    """pg_total_relation_size (heap + TOAST + indexes + FSM/VM) of every table of the schema,
    with its heap size and row count."""
    schema = check_schema(name)
    with connect() as con:
        rows = con.execute(
            """SELECT c.relname, pg_total_relation_size(c.oid), pg_relation_size(c.oid)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'm')""",
            (schema,),
        ).fetchall()
        tables = {}
        for relname, total, heap in rows:
            count = con.execute(f'SELECT count(*) FROM {schema}."{relname}"').fetchone()[0]
            tables[relname] = {"total": total, "heap": heap, "rows": count}
    return {"total_bytes": sum(t["total"] for t in tables.values()), "tables": tables}


_position_con: Any = None


def pg_position() -> dict[str, int] | None:
    """Where the cluster's WAL ends (bytes) and the next transaction id: their differences over
    a measurement are the WAL written and the write transactions begun (in the whole cluster;
    reading them takes no transaction id)."""
    global _position_con
    for _ in range(2):
        try:
            if _position_con is None or _position_con.closed:
                _position_con = connect()
            lsn, xmax = _position_con.execute(
                "SELECT pg_current_wal_insert_lsn()::text, pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
            ).fetchone()
            hi, lo = lsn.split("/")
            return {"wal": (int(hi, 16) << 32) | int(lo, 16), "xid": int(xmax)}
        except Exception:
            _position_con = None
    return None


# ------------------------------------------------------------------ S3

def s3_client() -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=os.environ["STASIS_TEST_S3_ENDPOINT"],
        region_name=os.environ.get("STASIS_TEST_S3_REGION", "us-east-1"),
        aws_access_key_id=os.environ["STASIS_TEST_S3_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["STASIS_TEST_S3_SECRET_ACCESS_KEY"],
    )


def split_objects(url: str) -> tuple[str, str]:
    u = urlsplit(url)
    if u.scheme != "s3" or not u.netloc or not u.path.strip("/"):
        raise ValueError(f"not s3://BUCKET/PREFIX: {url!r}")
    return u.netloc, u.path.strip("/") + "/"


def prefix_usage(url: str) -> dict[str, int]:
    bucket, prefix = split_objects(url)
    count = total = 0
    for page in s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            count += 1
            total += obj["Size"]
    return {"objects": count, "bytes": total}


def delete_prefix(url: str) -> int:
    bucket, prefix = split_objects(url)
    s3 = s3_client()
    deleted = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    return deleted


# ------------------------------------------------------------------ CPU of the services

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def proc_cpu(pid: int, children: bool = False) -> float | None:
    """utime + stime (and the reaped children's cutime + cstime) in seconds."""
    f = _stat(pid)
    if f is None:
        return None
    ticks = int(f[11]) + int(f[12]) + ((int(f[13]) + int(f[14])) if children else 0)
    return ticks / TICK


def services_dir() -> str:
    return os.environ.get("STASIS_SERVICES_DIR", "/tmp/stasis-services")


def postmaster_pid() -> int | None:
    try:
        with open(os.path.join(services_dir(), "postgres", "data", "postmaster.pid")) as f:
            return int(f.readline())
    except (OSError, ValueError):
        return None


def seaweed_pid() -> int | None:
    try:
        with open(os.path.join(services_dir(), "seaweedfs", "pid")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def postgres_cpu() -> float | None:
    """The whole cluster: the postmaster (with the backends it has reaped) and its live children."""
    pm = postmaster_pid()
    if pm is None:
        return None
    total = proc_cpu(pm, children=True)
    if total is None:
        return None
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        f = _stat(int(name))
        if f and int(f[1]) == pm:
            total += (int(f[11]) + int(f[12])) / TICK
    return total


def seaweed_cpu() -> float | None:
    pid = seaweed_pid()
    return proc_cpu(pid, children=True) if pid else None


# ------------------------------------------------------------------ TCP connections

SS_FIELDS = ("data_segs_out", "data_segs_in", "bytes_sent", "bytes_received")


def connections(netns_pid: int | None, address: tuple[str, int], owner: int | None = None) -> dict[str, dict[str, int]]:
    """Per TCP connection to ADDRESS in the network namespace of NETNS_PID (None: ours), of the
    process OWNER if given: data segments and bytes each way since the connection opened."""
    cmd = ["ss", "-tinpH", "dst", f"{address[0]}:{address[1]}"]
    if netns_pid is not None and netns_pid != os.getpid():
        cmd = ["nsenter", "-t", str(netns_pid), "-n"] + cmd
    try:
        text = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    out: dict[str, dict[str, int]] = {}
    key = None
    keep = False
    for line in text.splitlines():
        if not line.startswith((" ", "\t")):
            parts = line.split()
            key = " ".join(parts[3:5]) if len(parts) >= 5 else None
            keep = key is not None and (owner is None or f"pid={owner}," in line)
            continue
        if key and keep:
            values = {}
            for f in SS_FIELDS:
                m = re.search(rf"\b{f}:(\d+)", line)
                values[f] = int(m.group(1)) if m else 0
            out[key] = values
    return out


def connections_delta(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> dict[str, int]:
    """Sums over the connections open at the end (new ones count from zero; connections closed
    in between are lost)."""
    total = {f: 0 for f in SS_FIELDS}
    for key, v in after.items():
        b = before.get(key, {})
        for f in SS_FIELDS:
            total[f] += max(0, v[f] - b.get(f, 0))
    total["connections"] = len(after)
    return total


# ------------------------------------------------------------------ CLI

def main() -> int:
    ap = argparse.ArgumentParser(description="cleanup of what the LangGraph benchmark made in the services")
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("drop", help="drop a schema (CASCADE) and delete every object under a bucket prefix")
    d.add_argument("--schema", required=True)
    d.add_argument("--objects", help="s3://BUCKET/PREFIX")
    a = ap.parse_args()
    if a.cmd == "drop":
        drop_schema(a.schema)
        n = delete_prefix(a.objects) if a.objects else 0
        print(f"dropped schema {a.schema}" + (f"; deleted {n} objects under {a.objects}" if a.objects else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
