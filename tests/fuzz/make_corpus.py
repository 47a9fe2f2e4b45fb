#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/):
requests shaped like nginx's (the params nginx/fcgi_app_params.conf and its
default request headers produce, one PARAMS record padded to 8 bytes, an
empty PARAMS, the body in STDIN records, an empty STDIN), and the known
crashers of libfcgi (../shared/design/LIBFCGI-NOTES.md 1.4, 1.4b).

  python3 tests/fuzz/make_corpus.py      (from the repository root)
"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def rec(rtype, rid, content, version=1, pad=None):
    if pad is None:
        pad = (8 - len(content) % 8) % 8  # nginx aligns to 8
    return (struct.pack(">BBHHBB", version, rtype, rid, len(content), pad, 0)
            + content + b"\0" * pad)


def nv(name, value):
    def ln(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return ln(len(name)) + ln(len(value)) + name + value


def params_of(method=b"GET", uri=b"/coro", query=b"", length=b"",
              extra=()):
    path = uri
    p = [(b"REQUEST_METHOD", method), (b"DOCUMENT_URI", path),
         (b"REQUEST_URI", uri + (b"?" + query if query else b"")),
         (b"QUERY_STRING", query), (b"CONTENT_TYPE", b""),
         (b"CONTENT_LENGTH", length), (b"SCRIPT_NAME", path),
         (b"SERVER_PROTOCOL", b"HTTP/1.1"), (b"REMOTE_ADDR", b"127.0.0.1"),
         (b"SERVER_NAME", b"localhost"), (b"GATEWAY_INTERFACE", b"CGI/1.1")]
    p += list(extra)
    p += [(b"HTTP_HOST", b"127.0.0.1:8000"),
          (b"HTTP_USER_AGENT", b"curl/7.88.1"), (b"HTTP_ACCEPT", b"*/*")]
    return b"".join(nv(n, v) for n, v in p)


def request(keep=True, body=b"", **kw):
    begin = struct.pack(">HB5x", 1, 1 if keep else 0)
    out = rec(1, 1, begin) + rec(4, 1, params_of(**kw)) + rec(4, 1, b"")
    for i in range(0, len(body), 32768):
        out += rec(5, 1, body[i:i + 32768])
    return out + rec(5, 1, b"")


BEGIN = rec(1, 1, struct.pack(">HB5x", 1, 0))
INPUT = {
    "nginx_get_coro": request(),
    "nginx_get_coro_no_keep": request(keep=False),
    "nginx_head_coro": request(method=b"HEAD"),
    "nginx_get_sleep": request(uri=b"/async/sleep/5"),
    "nginx_get_simple_query": request(uri=b"/simple", query=b"a=1&b=2"),
    "nginx_post_body": request(method=b"POST", length=b"10",
                               body=b"0123456789"),
    "nginx_post_413": request(method=b"POST", length=b"150", body=b"x" * 150),
    "nginx_status_page": request(uri=b"/_fcgi_app/status",
                                 extra=[(b"FCGI_APP_STATUS", b"1")]),
    "nginx_two_kept": request() + request(uri=b"/error"),
    "nginx_get_sleep_overflow": request(uri=b"/sleep/18446744073709551616",
                                        query=b"x"),
    # A body with no CONTENT_LENGTH that passes the fuzz targets' 100-byte
    # cap (and the reader's first 4 KiB buffer) only in its second STDIN
    # record.
    "body_past_cap_late": (rec(1, 1, struct.pack(">HB5x", 1, 1))
                           + rec(4, 1, params_of(method=b"POST"))
                           + rec(4, 1, b"") + rec(5, 1, b"x" * 60)
                           + rec(5, 1, b"y" * 5000) + rec(5, 1, b"")),
    # libfcgi's crashers and the classes the app refuses.
    "cve_remnant": (BEGIN + rec(9, 0, b"\xff\xff\xff\xfe" * 2, pad=0)
                    + rec(4, 1, b"")),
    "cve_params": (BEGIN + rec(4, 1, b"\xff\xff\xff\xfe" * 2, pad=0)
                   + rec(4, 1, b"")),
    "mgmt_overflow": rec(9, 0, b"\x0e\x00FCGI_MAX_CONNS" * 4, pad=0),
    "mgmt_values": rec(9, 0, nv(b"FCGI_MAX_CONNS", b"") + nv(b"FCGI_MAX_REQS", b"")
                       + nv(b"FCGI_MPXS_CONNS", b"")) + request(),
    "mgmt_unknown": rec(200, 0, b"abc") + request(),
    "params_cap": (BEGIN + rec(4, 1, nv(b"X", b"x" * 5000)[:4000])
                   + rec(4, 1, nv(b"X", b"x" * 5000)[4000:]) + rec(4, 1, b"")),
    "abort": BEGIN + rec(2, 1, b""),
}


def headers(data):
    out, off = b"", 0
    while off + 8 <= len(data):
        clen, plen = struct.unpack(">HB", data[off + 4:off + 7])
        out += data[off:off + 8]
        off += 8 + clen + plen
    return out


def params_stream(data):
    out, off = b"", 0
    while off + 8 <= len(data):
        clen, plen = struct.unpack(">HB", data[off + 4:off + 7])
        if data[off + 1] == 4:
            out += data[off + 8:off + 8 + clen]
        off += 8 + clen + plen
    return out


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


for name, data in INPUT.items():
    write("input", name, data)
    write("check", name, headers(data))
    p = params_stream(data)
    if p:
        # cap 4096, records of up to 256 bytes
        write("params", name, b"\x0f\xff\xff" + p)
