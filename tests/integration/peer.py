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
  peer.py get SOCK PATH [METHOD [REQUEST_ID]]
                                     one FastCGI request (REQUEST_ID: the
                                     param nginx fills from $request_id,
                                     Python escapes such as \n allowed);
                                     print its whole STDOUT (headers and
                                     body) as sent
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
  peer.py raw SOCK CASE [COUNT]      send the raw records of CASE (see
                                     CASES: records nginx never sends), on
                                     COUNT connections (default 1), one
                                     after the other.  A management case
                                     prints the reply record ("record TYPE
                                     pairs|hex CONTENT pad HEX") and then
                                     the status line of a GET /coro on the
                                     same connection; any other prints
                                     "closed SECONDS" (EOF, nothing
                                     answered), "answered N bytes" or
                                     "held" (neither in 5 s)
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


def raw_record(rtype, rid, content, padding=0, version=1):
    return (struct.pack(">BBHHBB", version, rtype, rid, len(content),
                        padding, 0) + content + b"\0" * padding)


BEGIN_BODY = struct.pack(">HB5x", 1, 0)  # RESPONDER, no FCGI_KEEP_CONN
BEGIN = raw_record(1, 1, BEGIN_BODY)
BIG = b"\x05" + struct.pack(">I", 79000 | 0x80000000) + b"X_BIG" + b"x" * 79000
# The two libfcgi bugs (../shared/design/LIBFCGI-NOTES.md 1.4, 1.4b), then
# one case per class of record the app refuses.  "mgmt" cases are answered.
CASES = {
    # CVE-2025-23016 remnant: a type-9 record whose two lengths are
    # 0xfffffffe (libfcgi: Malloc assertion, SIGABRT); 40 bytes.
    "cve_remnant": (BEGIN + raw_record(9, 0, b"\xff\xff\xff\xfe" * 2)
                    + raw_record(4, 1, b"")),
    # The same lengths in the params.
    "cve_params": (BEGIN + raw_record(4, 1, b"\xff\xff\xff\xfe" * 2)
                   + raw_record(4, 1, b"")),
    # libfcgi's ProcessManagementRecord overflows its 64-byte reply buffer
    # with 4 names; 1-3 leak stack bytes in the padding.
    "mgmt_overflow": raw_record(9, 0, b"\x0e\x00FCGI_MAX_CONNS" * 4),
    "mgmt_values": raw_record(9, 0, b"\x0e\x00FCGI_MAX_CONNS"
                              b"\x0d\x00FCGI_MAX_REQS\x0f\x00FCGI_MPXS_CONNS"
                              b"\x0b\x00NO_SUCH_VAR"),
    "mgmt_unknown": raw_record(200, 0, b"abc", padding=5),
    "bad_version": raw_record(1, 1, BEGIN_BODY, version=2),
    "unknown_type": BEGIN + raw_record(12, 1, b""),
    "app_type": BEGIN + raw_record(6, 1, b"Status: 200 OK\r\n\r\n"),
    "bad_length": raw_record(1, 1, BEGIN_BODY + b"\0"),
    "bad_padding": BEGIN + raw_record(4, 1, nv(b"A", b"B"), padding=8),
    "other_id": BEGIN + raw_record(4, 2, nv(b"REQUEST_METHOD", b"GET")),
    "no_begin": raw_record(4, 1, nv(b"REQUEST_METHOD", b"GET")),
    "second_begin": BEGIN + raw_record(1, 2, BEGIN_BODY),
    "params_cap": (BEGIN + raw_record(4, 1, BIG[:40000])
                   + raw_record(4, 1, BIG[40000:]) + raw_record(4, 1, b"")),
}


def pairs(content):
    out, off = [], 0
    while off < len(content):
        nl, vl = content[off], content[off + 1]
        off += 2
        out.append(content[off:off + nl].decode() + "="
                   + content[off + nl:off + nl + vl].decode())
        off += nl + vl
    return ",".join(out)


def request(path, method=b"GET", keep=False, length=None, body=b"",
            request_id=None):
    begin = struct.pack(">HB5x", 1, 1 if keep else 0)  # RESPONDER
    params = nv(b"REQUEST_METHOD", method) + nv(b"DOCUMENT_URI", path)
    if length is not None:
        params += nv(b"CONTENT_LENGTH", length)
    if request_id is not None:
        params += nv(b"REQUEST_ID", request_id)
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


def print_verdict(s, t0):
    """What the app did with bytes it should refuse: answered, closed (and
    how long after t0), or held the connection for 5 s."""
    data, eof = read_all(s, 5)
    if data:
        print("answered %d bytes" % len(data))
    elif eof:
        print("closed %.2f" % (time.monotonic() - t0))
    else:
        print("held")


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
        print_verdict(s, t0)
    elif mode == "get":
        method = sys.argv[4].encode() if len(sys.argv) > 4 else b"GET"
        rid = None
        if len(sys.argv) > 5:
            rid = sys.argv[5].encode().decode("unicode_escape").encode("latin-1")
        s.send(request(sys.argv[3].encode(), method, request_id=rid))
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
    elif mode == "raw":
        case = sys.argv[3]
        for i in range(int(sys.argv[4]) if len(sys.argv) > 4 else 1):
            if i:
                s = connect(addr)
            t0 = time.monotonic()
            s.sendall(CASES[case])
            if case.startswith("mgmt_"):
                data, rec = b"", None
                s.settimeout(5)
                while rec is None:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                    if len(data) >= 8:
                        clen, plen = struct.unpack(">HB", data[4:7])
                        if len(data) >= 8 + clen + plen:
                            rec = data
                if rec is None:
                    print("closed")
                    continue
                clen, plen = struct.unpack(">HB", data[4:7])
                content = data[8:8 + clen]
                shown = pairs(content) if data[1] == 10 else content.hex()
                print("record %d %s pad %s" % (data[1], shown,
                      data[8 + clen:8 + clen + plen].hex()))
                s.sendall(request(b"/coro"))
                print(status_line(read_reply(s, 5)))
            else:
                print_verdict(s, t0)
            s.close()
    elif mode == "coro":
        s.send(request(b"/coro"))
        data, _ = read_all(s, 5)
        print(status_line(data))


main()
