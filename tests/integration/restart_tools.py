#!/usr/bin/env python3
"""Helpers for test_restart.sh.

  restart_tools.py loop URL BODYFILE THREADS STOPFILE SECONDS
      THREADS clients, each on its own kept-alive HTTP/1.1 connection to
      nginx, GET URL one after another until STOPFILE exists or SECONDS
      pass (and never more than 200,000 requests in all).  Prints one
      line: "requests N exact N status STATUS:COUNT,... mismatched N
      errors N" (exact: 200 with BODYFILE's bytes; errors: no HTTP reply).

  restart_tools.py notify SOCK OUTFILE
      Receives sd_notify datagrams on the unix socket SOCK, as systemd's
      NOTIFY_SOCKET does, and appends each to OUTFILE as one line:
      "MS_SINCE_START field;field;..." (newlines between fields become
      ';').  Runs until killed.
"""
import http.client
import os
import socket
import sys
import threading
import time
import urllib.parse

CAP = 200_000


def loop(url, bodyfile, threads, stopfile, seconds):
    want = open(bodyfile, "rb").read()
    u = urllib.parse.urlsplit(url)
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    totals = {"requests": 0, "exact": 0, "mismatched": 0, "errors": 0}
    statuses = {}

    def worker():
        conn = None
        while time.monotonic() < deadline and not os.path.exists(stopfile):
            with lock:
                if totals["requests"] >= CAP:
                    return
                totals["requests"] += 1
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(u.hostname, u.port,
                                                      timeout=30)
                conn.request("GET", u.path)
                resp = conn.getresponse()
                body = resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException):
                with lock:
                    totals["errors"] += 1
                if conn is not None:
                    conn.close()
                conn = None
                continue
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200 and body == want:
                    totals["exact"] += 1
                else:
                    totals["mismatched"] += 1
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    st = ",".join(f"{k}:{v}" for k, v in sorted(statuses.items())) or "-"
    print(f"requests {totals['requests']} exact {totals['exact']} "
          f"status {st} mismatched {totals['mismatched']} "
          f"errors {totals['errors']}", flush=True)


def notify(path, outfile):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    t0 = time.monotonic()
    with open(outfile, "a", buffering=1) as out:
        while True:
            msg = s.recv(4096).decode("utf-8", "replace")
            ms = int((time.monotonic() - t0) * 1000)
            out.write(f"{ms} {msg.strip().replace(chr(10), ';')}\n")


def main():
    if len(sys.argv) == 7 and sys.argv[1] == "loop":
        loop(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5],
             float(sys.argv[6]))
    elif len(sys.argv) == 4 and sys.argv[1] == "notify":
        notify(sys.argv[2], sys.argv[3])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
