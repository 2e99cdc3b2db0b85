#!/usr/bin/env python3
"""A PostgreSQL wire-protocol proxy that loses a COMMIT, for the catalog outage tests (loopback only).

    pg_fault_proxy.py UPSTREAM_HOST UPSTREAM_PORT

Listens on 127.0.0.1 (a free port, printed as the first line on stdout) and relays every
connection to the upstream PostgreSQL unchanged, reading the messages both ways (type byte and
length) so that it knows which statements a connection runs. Commands on stdin, one per line:

    arm MODE PATTERN   disturb the next COMMIT of a transaction that ran a statement containing
                       PATTERN (e.g. "INSERT INTO images"), once:
        drop-commit        the COMMIT never reaches the server: both sides are closed (the server
                           rolls the transaction back; the client hears nothing)
        lose-reply         the COMMIT reaches the server; once the server has answered it, both
                           sides are closed without the answer reaching the client (committed,
                           but the client cannot know)
        lose-reply-down    lose-reply, and from that moment on new connections are refused (closed
                           at once) until "up": the client cannot ask what became of its COMMIT
    down / up          refuse new connections, or accept them again

Prints "ack" once it has taken a command in, and "disturbed N" after each disturbed COMMIT. Exits when stdin closes (the test
ends), so that it can never outlive its test. Plain TCP only (the tests use sslmode=disable).
"""
import socket
import struct
import sys
import threading

upstream = (sys.argv[1], int(sys.argv[2]))
lock = threading.Lock()
state = {"armed": None, "down": False, "disturbed": 0}


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        data = sock.recv(n - len(buf))
        if not data:
            raise EOFError
        buf += data
    return buf


def read_message(sock, typed=True):
    kind = read_exact(sock, 1) if typed else b""
    head = read_exact(sock, 4)
    (length,) = struct.unpack("!I", head)
    return kind, kind + head + read_exact(sock, length - 4), length


class Connection:
    def __init__(self, client, server):
        self.client, self.server = client, server
        self.matched = False     # this transaction ran a statement with the armed pattern
        self.swallow = None      # the mode whose COMMIT answer is being lost

    def close(self):
        for sock in (self.server, self.client):   # the server first: it must see the loss
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                sock.close()
            except OSError:
                pass


def disturbed():
    with lock:
        state["disturbed"] += 1
        n = state["disturbed"]
    print(f"disturbed {n}", flush=True)


def statement(kind, message):
    body = message[5:]
    if kind == b"Q":
        return body[: body.index(b"\0")].decode("utf-8", "replace")
    name_end = body.index(b"\0")          # Parse: statement name, then the query
    return body[name_end + 1 : body.index(b"\0", name_end + 1)].decode("utf-8", "replace")


def client_to_server(conn):
    try:
        _, message, length = read_message(conn.client, typed=False)   # StartupMessage
        conn.server.sendall(message)
        while True:
            kind, message, _ = read_message(conn.client)
            if kind in (b"P", b"Q"):
                sql = statement(kind, message)
                word = sql.strip().split(" ")[0].upper() if sql.strip() else ""
                with lock:
                    armed = state["armed"]
                if word == "BEGIN" or sql.strip().upper() == "ROLLBACK":
                    conn.matched = False
                elif armed and armed[1] in sql:
                    conn.matched = True
                elif word == "COMMIT" and conn.matched and armed:
                    with lock:
                        take = state["armed"] == armed
                        if take:
                            state["armed"] = None
                    if take:
                        conn.matched = False
                        if armed[0] == "drop-commit":
                            conn.close()
                            disturbed()
                            return
                        conn.swallow = armed[0]
            conn.server.sendall(message)
    except (OSError, EOFError, ValueError):
        conn.close()


def server_to_client(conn):
    try:
        while True:
            kind, message, _ = read_message(conn.server)
            if conn.swallow:
                if kind == b"Z":          # ReadyForQuery: the server is done with the COMMIT
                    if conn.swallow == "lose-reply-down":
                        with lock:
                            state["down"] = True
                    conn.close()
                    disturbed()
                    return
                continue
            conn.client.sendall(message)
    except (OSError, EOFError):
        conn.close()


def serve(listener):
    while True:
        client, _ = listener.accept()
        with lock:
            down = state["down"]
        if down:
            client.close()
            continue
        try:
            server = socket.create_connection(upstream)
        except OSError:
            client.close()
            continue
        for sock in (client, server):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Connection(client, server)
        threading.Thread(target=client_to_server, args=(conn,), daemon=True).start()
        threading.Thread(target=server_to_client, args=(conn,), daemon=True).start()


listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(64)
print(listener.getsockname()[1], flush=True)
threading.Thread(target=serve, args=(listener,), daemon=True).start()
for line in sys.stdin:
    words = line.strip().split(" ", 2)
    with lock:
        if words[0] == "arm" and len(words) == 3:
            state["armed"] = (words[1], words[2])
        elif words[0] == "down":
            state["down"] = True
        elif words[0] == "up":
            state["down"] = False
    print("ack", flush=True)
