#!/usr/bin/env python3
"""Loads for bench/held_noise.sh that hold resources without a request in
flight through nginx, each for SECONDS, then let go:

  held_noise.py tcp PORT N SECONDS     N idle TCP connections to nginx
                                       (connected, nothing sent)
  held_noise.py fcgi SOCKET N SECONDS  N FastCGI GET /simple straight to
                                       the app's socket (N pending, nginx
                                       idle)
  held_noise.py mem - MB SECONDS       MB of memory, every page touched
  held_noise.py none - 0 SECONDS       nothing (the control)

Prints `t_held_ns=... t_end_ns=...` (CLOCK_MONOTONIC, as latprobe's
samples): when everything was in place, and when it let go.
"""
import socket
import struct
import sys
import time


def record(rtype, content):
    return struct.pack(">BBHHBB", 1, rtype, 1, len(content), 0, 0) + content


def nv(name, value):
    return bytes([len(name), len(value)]) + name + value


def simple_request():
    params = (nv(b"REQUEST_METHOD", b"GET") + nv(b"DOCUMENT_URI", b"/simple")
              + nv(b"REQUEST_URI", b"/simple"))
    return (record(1, struct.pack(">HB5x", 1, 0)) + record(4, params)
            + record(4, b"") + record(5, b""))


def main():
    mode, target, n, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    held = []
    if mode == "tcp":
        for _ in range(n):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", int(target)))
            except BlockingIOError:
                pass
            held.append(s)
    elif mode == "fcgi":
        req = simple_request()
        for _ in range(n):
            s = socket.socket(socket.AF_UNIX)
            s.connect(target)
            s.sendall(req)
            held.append(s)
    elif mode == "mem":
        block = bytearray(n << 20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        held.append(block)
    elif mode != "none":
        sys.exit("held_noise.py: unknown mode " + mode)
    t_held = time.monotonic_ns()
    time.sleep(seconds)
    t_end = time.monotonic_ns()
    for s in held:
        if isinstance(s, socket.socket):
            s.close()
    print("t_held_ns=%d t_end_ns=%d" % (t_held, t_end))


main()
