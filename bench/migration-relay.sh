#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A counting TCP relay for the migration benchmark (bench/migration-bench.sh).
#
#   bench/migration-relay.sh LISTEN_HOST PORT TARGET_HOST COUNTS_FILE
#
# Listens on LISTEN_HOST:PORT, connects each accepted connection to
# TARGET_HOST:PORT and moves the bytes both ways with splice(2) through a
# pipe (no copy through user space, so the relay costs the benchmark as
# little CPU as a relay can).  Prints "ready" on stdout once it listens.
#
# Why a relay: the bytes on the wire must be counted independently of
# qemu-mh's and QEMU's own accounting, and /proc/net/dev on lo also counts
# every other engineer's loopback traffic.  The relay sees exactly the TCP
# payload of the migration connection, both directions.
#
# COUNTS_FILE is rewritten after every connection that ends (and on
# SIGTERM) with one line per connection and a total:
#   conn N fwd=BYTES rev=BYTES first=T0 last=T1
#   total fwd=BYTES rev=BYTES conns=N first=T0 last=T1
# fwd = client -> target (source -> destination), rev = the return path;
# first/last = CLOCK_MONOTONIC seconds of the first and the last byte moved
# in either direction.
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 LISTEN_HOST PORT TARGET_HOST COUNTS_FILE" >&2; exit 1; }
exec /usr/bin/python3 - "$@" <<'EOF'
import fcntl, os, signal, socket, sys, threading, time

lhost, port, thost, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
F_SETPIPE_SZ = 1031
CHUNK = 1 << 20

lock = threading.Lock()
conns = []          # [fwd, rev, first, last] per connection


def write_counts():
    with lock:
        lines = []
        fwd = rev = 0
        first = last = None
        for i, c in enumerate(conns, 1):
            lines.append("conn %d fwd=%d rev=%d first=%s last=%s"
                         % (i, c[0], c[1], c[2] or 0, c[3] or 0))
            fwd += c[0]
            rev += c[1]
            if c[2] is not None:
                first = c[2] if first is None else min(first, c[2])
                last = c[3] if last is None else max(last, c[3])
        lines.append("total fwd=%d rev=%d conns=%d first=%s last=%s"
                     % (fwd, rev, len(conns), first or 0, last or 0))
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, out)


def pump(src, dst, rec, idx, done):
    r, w = os.pipe()
    try:
        fcntl.fcntl(w, F_SETPIPE_SZ, CHUNK)
    except OSError:
        pass            # a smaller pipe only means more system calls
    try:
        while True:
            try:
                n = os.splice(src.fileno(), w, CHUNK)
            except OSError:
                n = 0
            if n == 0:
                break
            now = time.monotonic()
            with lock:
                rec[idx] += n
                if rec[2] is None:
                    rec[2] = now
                rec[3] = now
            left = n
            while left:
                m = os.splice(r, dst.fileno(), left)
                left -= m
    except OSError:
        pass            # the other side went away: the migration ended
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        os.close(r)
        os.close(w)
        done.release()


def serve(c):
    try:
        d = socket.create_connection((thost, port))
    except OSError as e:
        sys.stderr.write("relay: cannot connect to %s:%d: %s\n" % (thost, port, e))
        c.close()
        return
    rec = [0, 0, None, None]
    with lock:
        conns.append(rec)
    done = threading.Semaphore(0)
    threading.Thread(target=pump, args=(c, d, rec, 0, done), daemon=True).start()
    threading.Thread(target=pump, args=(d, c, rec, 1, done), daemon=True).start()
    done.acquire()
    done.acquire()
    c.close()
    d.close()
    write_counts()


def term(*_):
    write_counts()
    os._exit(0)


signal.signal(signal.SIGTERM, term)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((lhost, port))
ls.listen(4)
write_counts()
print("ready", flush=True)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
