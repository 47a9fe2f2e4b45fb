#!/usr/bin/env python3
"""Raw peers for the hostile-peer tests: things nginx never does.

  peer.py silent SOCK SECONDS        connect, print "connected", send
                                     nothing, hold
  peer.py trickle SOCK INTERVAL      send a request one byte per INTERVAL;
                                     print how long until the app closed it
  peer.py garbage SOCK               send junk; print "closed SECONDS" on
                                     EOF (how long it took), "held" if the
                                     app neither answered nor closed in 5 s
  peer.py coro ADDR                  one FastCGI GET /coro (ADDR: a unix
                                     path or host:port); print the status
                                     line, or "closed" if there was no reply
  peer.py get SOCK PATH [METHOD]     one FastCGI request; print its whole
                                     STDOUT (headers and body) as sent
  peer.py kept SOCK close|halfclose GOFILE
                                     GET /coro with FCGI_KEEP_CONN; print
                                     "kept" once answered; wait (<= 20 s)
                                     until GOFILE exists; then close, or
                                     send a second /coro and shut down the
                                     write side in the same breath and
                                     print that reply's status line
  peer.py body SOCK LENGTH BYTES         POST /coro with CONTENT_LENGTH
                                     LENGTH (as given: it may be junk) and
                                     a body of BYTES, with FCGI_KEEP_CONN;
                                     print the reply's status line, then
                                     send a GET /coro on the same
                                     connection and print its status line
                                     ("closed" for none)
  peer.py unread SOCK MAX            GET /coro with FCGI_KEEP_CONN, again
                                     and again on one connection, reading
                                     no reply, until a reply stops coming
                                     (the app's send buffer is full) or
                                     MAX; then read them all, send one
                                     more and print "sent N answered M
                                     stalled yes|no", then its status line
"""
import fcntl
import os
import socket
import struct
import sys
import termios
import time


def connect(addr):
    if addr.startswith("/"):
        s = socket.socket(socket.AF_UNIX)
        s.connect(addr)
        return s
    host, port = addr.rsplit(":", 1)
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family)
    s.connect((host, int(port)))
    return s


def record(rtype, content):
    return struct.pack(">BBHHBB", 1, rtype, 1, len(content), 0, 0) + content


def nv(name, value):
    return bytes([len(name), len(value)]) + name + value


def request(path, method=b"GET", keep=False, length=None, body=b""):
    begin = struct.pack(">HB5x", 1, 1 if keep else 0)  # RESPONDER
    params = nv(b"REQUEST_METHOD", method) + nv(b"DOCUMENT_URI", path)
    if length is not None:
        params += nv(b"CONTENT_LENGTH", length)
    stdin = b"".join(record(5, body[i:i + 65535])
                     for i in range(0, len(body), 65535))
    return (record(1, begin) + record(4, params) + record(4, b"")
            + stdin + record(5, b""))


def read_all(s, limit):
    """The bytes until EOF or `limit` seconds; and whether EOF came."""
    s.settimeout(limit)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return data, True
            data += chunk
    except ConnectionResetError:
        return data, True
    except socket.timeout:
        return data, False


def records(data):
    """(type, content, end offset) of each record whose header is in data;
    the last one's content may be cut short (then end > len(data))."""
    off = 0
    while len(data) - off >= 8:
        _, rtype, _, clen, plen = struct.unpack(">BBHHB", data[off:off + 7])
        yield rtype, data[off + 8:off + 8 + clen], off + 8 + clen + plen
        off += 8 + clen + plen


def read_reply(s, limit):
    """The records of one reply, up to its END_REQUEST (None if none)."""
    s.settimeout(limit)
    data = b""
    while True:
        for rtype, _, end in records(data):
            if rtype == 3 and end <= len(data):  # FCGI_END_REQUEST
                return data[:end]
        try:
            chunk = s.recv(4096)
        except (socket.timeout, OSError):
            return None
        if not chunk:
            return None
        data += chunk


def status_line(reply):
    if reply and len(reply) > 8 and reply[1] == 6:
        return reply[8:].split(b"\r\n", 1)[0].decode()
    return "closed"


def main():
    mode, addr = sys.argv[1], sys.argv[2]
    s = connect(addr)
    if mode == "silent":
        # The tests wait for this line: an interpreter can take longer to
        # start than the step it is meant to block.
        print("connected", flush=True)
        time.sleep(float(sys.argv[3]))
    elif mode == "trickle":
        interval = float(sys.argv[3])
        t0 = time.monotonic()
        for byte in request(b"/coro"):
            try:
                s.send(bytes([byte]))
            except OSError:
                break
            s.settimeout(interval)
            try:
                if s.recv(1) == b"":
                    break
            except socket.timeout:
                continue
            except OSError:
                break
        print("%.1f" % (time.monotonic() - t0))
    elif mode == "garbage":
        t0 = time.monotonic()
        s.send(b"GET / HTTP/1.1\r\nHost: not-fastcgi\r\n\r\n" * 4)
        data, eof = read_all(s, 5)
        if data:
            print("answered %d bytes" % len(data))
        elif eof:
            print("closed %.2f" % (time.monotonic() - t0))
        else:
            print("held")
    elif mode == "get":
        method = sys.argv[4].encode() if len(sys.argv) > 4 else b"GET"
        s.send(request(sys.argv[3].encode(), method))
        data, _ = read_all(s, 5)
        sys.stdout.buffer.write(b"".join(
            content for rtype, content, _ in records(data)
            if rtype == 6))  # FCGI_STDOUT
    elif mode == "kept":
        s.send(request(b"/coro", keep=True))
        if read_reply(s, 5) is None:
            print("closed")
            return
        print("kept", flush=True)
        deadline = time.monotonic() + 20
        while not os.path.exists(sys.argv[4]) and time.monotonic() < deadline:
            time.sleep(0.02)
        if sys.argv[3] == "halfclose":
            s.sendall(request(b"/coro", keep=True))
            s.shutdown(socket.SHUT_WR)
            print(status_line(read_reply(s, 5)))
    elif mode == "body":
        s.sendall(request(b"/coro", b"POST", keep=True,
                          length=sys.argv[3].encode(),
                          body=b"x" * int(sys.argv[4])))
        print(status_line(read_reply(s, 5)))
        try:
            s.sendall(request(b"/coro", keep=True))
        except OSError:
            print("closed")
            return
        print(status_line(read_reply(s, 5)))
    elif mode == "unread":
        # Each request waits until the previous reply has arrived (the
        # bytes queued for us grow), so the app reads one at a time, as
        # from nginx; the replies pile up unread in the app's send buffer.
        sent, queued, stalled = 0, 0, False
        while sent < int(sys.argv[3]) and not stalled:
            s.sendall(request(b"/coro", keep=True))
            sent += 1
            deadline = time.monotonic() + 1
            while True:
                n = struct.unpack("i", fcntl.ioctl(
                    s, termios.FIONREAD, b"\0\0\0\0"))[0]
                if n > queued:
                    queued = n
                    break
                if time.monotonic() > deadline:
                    stalled = True
                    break
                time.sleep(0.001)
        # A reply is one STDOUT record with headers and body (plus an
        # empty one) and an END_REQUEST; count the whole 200s.
        data, answered, ends = b"", 0, 0
        s.settimeout(5)
        while ends < sent:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, OSError):
                break
            if not chunk:
                break
            data += chunk
            answered = ends = 0
            for rtype, content, end in records(data):
                if end > len(data):
                    break
                if rtype == 6 and content.startswith(b"Status: 200 OK"):
                    answered += 1
                ends += rtype == 3
        s.sendall(request(b"/coro", keep=True))
        print("sent %d answered %d stalled %s"
              % (sent, answered, "yes" if stalled else "no"))
        print(status_line(read_reply(s, 5)))
    elif mode == "coro":
        s.send(request(b"/coro"))
        data, _ = read_all(s, 5)
        print(status_line(data))


main()
