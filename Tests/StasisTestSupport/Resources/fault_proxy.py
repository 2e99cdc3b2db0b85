#!/usr/bin/env python3
"""A fault-injecting HTTP/1.1 proxy for the object storage tests (loopback only).

    fault_proxy.py UPSTREAM_HOST UPSTREAM_PORT MODE COUNT

Listens on 127.0.0.1 (a free port, printed as the first line on stdout) and relays each request
unchanged to the upstream service over a fresh connection (so SigV4 signatures, which cover the
Host header the client sent to the proxy, still verify). The first COUNT requests are disturbed:

    status503   answered 503 SlowDown without reaching the upstream
    cut         relayed, but only half of the response body is sent before the connection drops
                (requests whose response has no body pass through untouched and do not count)

Prints "served N disturbed M" on stdout each time a request finishes, for the tests' logs.
Exits when stdin closes (the test ends), so that it can never outlive its test.
"""
import socket
import sys
import threading

upstream = (sys.argv[1], int(sys.argv[2]))
mode = sys.argv[3]
remaining = [int(sys.argv[4])]
lock = threading.Lock()
counts = {"served": 0, "disturbed": 0}


def read_head(sock, buf):
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            return None, buf
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head, rest


def content_length(head):
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def read_exact(sock, buf, n):
    while len(buf) < n:
        data = sock.recv(min(1 << 20, n - len(buf)))
        if not data:
            raise ConnectionError("short body")
        buf += data
    return buf[:n], buf[n:]


def take_fault(kind):
    with lock:
        if mode == kind and remaining[0] > 0:
            remaining[0] -= 1
            counts["disturbed"] += 1
            return True
        return False


def handle(client):
    buf = b""
    try:
        while True:
            head, buf = read_head(client, buf)
            if head is None:
                return
            body, buf = read_exact(client, buf, content_length(head))
            method = head.split(b" ", 1)[0]
            if take_fault("status503"):
                xml = b"<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
                client.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\nContent-Length: "
                               + str(len(xml)).encode() + b"\r\n\r\n" + xml)
                finished()
                continue
            # Connection: close makes the upstream end its answer with EOF, whatever its framing
            # (Content-Length or chunked); the header is not signed, so signatures still match.
            lines = [l for l in head.split(b"\r\n") if not l.lower().startswith(b"connection:")]
            up = socket.create_connection(upstream)
            up.sendall(b"\r\n".join(lines) + b"\r\nConnection: close\r\n\r\n" + body)
            answer = b""
            while True:
                data = up.recv(1 << 20)
                if not data:
                    break
                answer += data
            up.close()
            rhead, _, rbody = answer.partition(b"\r\n\r\n")
            if method != b"HEAD" and len(rbody) > 1 and take_fault("cut"):
                client.sendall(rhead + b"\r\n\r\n" + rbody[: len(rbody) // 2])
                client.shutdown(socket.SHUT_RDWR)
                finished()
                return
            client.sendall(answer)
            finished()
    except (ConnectionError, OSError):
        return
    finally:
        client.close()


def finished():
    with lock:
        counts["served"] += 1
        print(f"served {counts['served']} disturbed {counts['disturbed']}", flush=True)


def main():
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    print(server.getsockname()[1], flush=True)

    def accept():
        while True:
            client, _ = server.accept()
            threading.Thread(target=handle, args=(client,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    sys.stdin.read()


main()
