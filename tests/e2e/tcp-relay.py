#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A TCP relay that records every byte it carries, both directions, the
way a host on the path sees them:

    tcp-relay.py TARGET_HOST TARGET_PORT RECORD_FILE

Listens on 127.0.0.1 at a free port, prints "relay on PORT" once it
accepts, and runs until killed."""
import socket
import sys
import threading

target = (sys.argv[1], int(sys.argv[2]))
record = open(sys.argv[3], "ab", buffering=0)
lock = threading.Lock()


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            with lock:
                record.write(data)
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(client):
    try:
        upstream = socket.create_connection(target)
    except OSError:
        client.close()
        return
    threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pump, args=(upstream, client), daemon=True).start()


listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(16)
print("relay on %d" % listener.getsockname()[1], flush=True)
while True:
    conn, _ = listener.accept()
    serve(conn)
