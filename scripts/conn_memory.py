#!/usr/bin/env python3
"""Measures a running `claimlog serve`'s RSS against the number of open
connections (BENCHMARKS.md "Memory bound").

    scripts/conn_memory.py --port 18990 --pid PID --mode MODE 512 2048 4096

For each count, opens that many connections (in total, cumulative), puts each
in MODE, waits until the server's RSS settles, prints VmRSS and VmHWM, and at
the end closes everything and prints RSS once more. Modes:

- idle: connect, send nothing;
- keepalive: one `GET /healthz` answered, connection kept open;
- partial: `POST /v1/entries` announcing a BODY-byte body and sending half of
  it, so the server holds the request and its partial body;
- fullbody: `POST /v1/entries` announcing BODY+1 bytes and sending BODY, so the
  server has read a whole body-sized buffer and waits for the last byte.

Measurement only; nothing here is a test.
"""

import argparse
import socket
import time


def status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "Threads"):
                fields[k] = v.strip()
    return fields


def rss_kib(pid):
    return int(status(pid)["VmRSS"].split()[0])


def settle(pid, timeout=20.0):
    """Waits until RSS stops changing for 1 s (or the timeout)."""
    deadline = time.time() + timeout
    last = rss_kib(pid)
    stable_since = time.time()
    while time.time() < deadline:
        time.sleep(0.2)
        now = rss_kib(pid)
        if now != last:
            last, stable_since = now, time.time()
        elif time.time() - stable_since >= 1.0:
            break
    return last


def open_one(port, mode, body):
    s = socket.create_connection(("127.0.0.1", port))
    if mode == "idle":
        return s
    if mode == "keepalive":
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(30)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError("closed")
            data += chunk
        return s
    announce = body if mode == "partial" else body + 1
    sent = body // 2 if mode == "partial" else body
    head = (
        "POST /v1/entries?wait=sequenced HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: application/json\r\nContent-Length: {announce}\r\n\r\n"
    ).encode()
    s.sendall(head + b"{" + b" " * (sent - 1))
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--mode", choices=["idle", "keepalive", "partial", "fullbody"], required=True)
    ap.add_argument("--body", type=int, default=1030)
    ap.add_argument("counts", type=int, nargs="+")
    a = ap.parse_args()
    base = settle(a.pid)
    print(f"mode {a.mode} body {a.body}: 0 connections: VmRSS {base} KiB")
    socks = []
    failed = False
    for n in a.counts:
        if failed:
            break
        while len(socks) < n:
            try:
                socks.append(open_one(a.port, a.mode, a.body))
            except OSError as e:
                # Beyond max_connections + the accept backlog connects
                # time out: report what was reached.
                print(f"connection {len(socks) + 1} failed: {e}")
                failed = True
                break
        n = len(socks)
        rss = settle(a.pid)
        st = status(a.pid)
        print(
            f"{n} connections: VmRSS {rss} KiB ({(rss - base) / n:.1f} KiB/connection over the start), "
            f"VmHWM {st['VmHWM']}, threads {st['Threads']}"
        )
    for s in socks:
        s.close()
    rss = settle(a.pid)
    print(f"all closed: VmRSS {rss} KiB, VmHWM {status(a.pid)['VmHWM']}")


if __name__ == "__main__":
    main()
