#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Live-migrate a domain the way OpenStack Nova's libvirt driver does.

The calls and their order follow Nova's pattern: virDomainMigrateToURI3
with flags LIVE | PEER2PEER | UNDEFINE_SOURCE | PERSIST_DEST and the
parameters bandwidth, destination_xml, persistent_xml and migrate_uri, run
in a worker thread while the caller polls virDomainGetJobStats every 0.5 s,
raises the allowed downtime step by step (virDomainMigrateSetMaxDowntime)
and gives up with virDomainAbortJob on its timeout. Nothing here knows
about the mirror helper: that is the point.

Prints one JSON object per line: "stats" samples, "downtime" steps and a
final "result" ({"ok": true} or {"ok": false, "error": "..."}). Exit
status 0 if the migration completed, 1 if it failed or was aborted, 2 on
bad usage.
"""
import argparse
import json
import queue
import sys
import threading
import time

import libvirt

# Nova's defaults: live_migration_downtime 500 ms in 10 steps.
DOWNTIME_MS = 500
DOWNTIME_STEPS = 10


# The job-statistics and downtime threads both emit: print() writes the
# line and its newline separately, so two threads could run their lines
# together (seen once: a fresh-clone run failed parsing '{...}{...}').
EMIT_LOCK = threading.Lock()


def emit(kind, **fields):
    with EMIT_LOCK:
        print(json.dumps(dict(kind=kind, **fields)), flush=True)


def downtime_steps(delay_s):
    """(seconds after the start, downtime in ms): from a tenth of the
    maximum up to the maximum, one step every delay_s seconds."""
    base = DOWNTIME_MS // DOWNTIME_STEPS
    for i in range(DOWNTIME_STEPS + 1):
        yield delay_s * i, base + (DOWNTIME_MS - base) * i // DOWNTIME_STEPS


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--source', required=True, help='source libvirt URI')
    ap.add_argument('--dest', required=True, help='destination libvirt URI')
    ap.add_argument('--domain', required=True)
    ap.add_argument('--migrate-uri', required=True, help='e.g. tcp://host:port')
    ap.add_argument('--xml', required=True, help='destination XML file')
    ap.add_argument('--bandwidth', type=int, default=0, help='MiB/s, 0: unlimited')
    ap.add_argument('--step-delay', type=float, default=1.0,
                    help='seconds between downtime steps (Nova: 75 s per GiB of RAM)')
    ap.add_argument('--abort-after', type=float, default=0,
                    help='abort the job after this many seconds (Nova: its completion timeout)')
    ap.add_argument('--timeout', type=float, default=300)
    args = ap.parse_args()

    try:
        with open(args.xml) as f:
            xml = f.read()
    except OSError as e:
        print(f"error: cannot read the destination XML '{args.xml}': {e.strerror}", file=sys.stderr)
        return 2

    conn = libvirt.open(args.source)
    dom = conn.lookupByName(args.domain)
    flags = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER |
             libvirt.VIR_MIGRATE_UNDEFINE_SOURCE | libvirt.VIR_MIGRATE_PERSIST_DEST)
    params = {
        libvirt.VIR_MIGRATE_PARAM_BANDWIDTH: args.bandwidth,
        libvirt.VIR_MIGRATE_PARAM_DEST_XML: xml,
        libvirt.VIR_MIGRATE_PARAM_PERSIST_XML: xml,
        libvirt.VIR_MIGRATE_PARAM_URI: args.migrate_uri,
    }
    outcome = {}

    def worker():
        try:
            dom.migrateToURI3(args.dest, params, flags)
            outcome['ok'] = True
        except libvirt.libvirtError as e:
            outcome['ok'] = False
            outcome['error'] = e.get_error_message()

    # Downtime steps go through their own thread: libvirt makes a
    # migration-op call wait for the whole migration when it arrives while
    # the job is between phases, and that must not hold up the polling or
    # the abort.
    pending = queue.Queue()

    def set_downtime():
        while (item := pending.get()) is not None:
            t, ms = item
            try:
                dom.migrateSetMaxDowntime(ms, 0)
                back = dom.migrateGetMaxDowntime(0)
                if back is None:        # the binding's failure return
                    emit('downtime', t=t, ms=ms, error=libvirt.virGetLastErrorMessage())
                else:
                    emit('downtime', t=t, ms=ms, read_back=back)
            except libvirt.libvirtError as e:
                emit('downtime', t=t, ms=ms, error=e.get_error_message())

    setter = threading.Thread(target=set_downtime, daemon=True)
    setter.start()
    thread = threading.Thread(target=worker)
    start = time.monotonic()
    thread.start()

    steps = list(downtime_steps(args.step_delay))
    aborted = False
    while thread.is_alive():
        elapsed = time.monotonic() - start
        try:
            stats = dom.jobStats()
        except libvirt.libvirtError as e:
            # The job ended between the two calls (the domain is gone from
            # the source after UNDEFINE_SOURCE): the worker reports.
            emit('stats-error', t=round(elapsed, 2), error=e.get_error_message())
            stats = {}
        if stats.get('type', libvirt.VIR_DOMAIN_JOB_NONE) == libvirt.VIR_DOMAIN_JOB_UNBOUNDED:
            emit('stats', t=round(elapsed, 2), memory_total=stats.get('memory_total'),
                 memory_processed=stats.get('memory_processed'),
                 memory_remaining=stats.get('memory_remaining'),
                 memory_iteration=stats.get('memory_iteration'),
                 data_processed=stats.get('data_processed'))
            # Only once RAM moves: a call that needs libvirt's job during
            # Begin/Prepare waits until the whole migration has ended.
            while steps and steps[0][0] <= elapsed and stats.get('memory_total'):
                pending.put((round(elapsed, 2), steps.pop(0)[1]))
        if not aborted and ((args.abort_after and elapsed >= args.abort_after) or
                            elapsed >= args.timeout):
            emit('abort', t=round(elapsed, 2))
            try:
                dom.abortJob()
                aborted = True
            except libvirt.libvirtError as e:
                emit('abort', t=round(elapsed, 2), error=e.get_error_message())
        thread.join(0.5)

    pending.put(None)
    setter.join(5)
    emit('result', seconds=round(time.monotonic() - start, 2), **outcome)
    return 0 if outcome.get('ok') else 1


if __name__ == '__main__':
    sys.exit(main())
