#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Live-migrate a domain with OpenStack Nova's own libvirt code.

Nova's pieces, unchanged, from Debian's python3-nova: the migration
itself (nova.virt.libvirt.guest.Guest.migrate: migrateToURI3 with the
destination and persistent XML, migrate_uri and bandwidth), run in a
worker thread as Nova's driver does (on a connection of its own, see
below), and the driver's monitor loop built
from nova.virt.libvirt.migration: Guest.get_job_info() every 0.5 s,
find_job_type() when the job is gone, downtime_steps() and
update_downtime() while it runs, should_trigger_timeout_action() and
Guest.abort_job() on the completion timeout (live_migration_timeout_action
= abort). Flags as Nova's live_migration_flag: LIVE | PEER2PEER |
UNDEFINE_SOURCE | PERSIST_DEST. Nothing here knows about the mirror
helper or the key broker: that is the point.

Prints one JSON object per line: "stats" samples, "downtime" steps, an
"abort" and a final "result" ({"ok": true} or {"ok": false, "error": ...}).
Exit status 0 if the migration completed, 1 if it failed or was aborted,
2 on bad usage, 77 when Nova's code is not there.
"""
import argparse
import json
import sys
import threading
import time

try:
    import libvirt
    import nova.conf
    from nova.virt.libvirt import guest as libvirt_guest
    from nova.virt.libvirt import migration as libvirt_migrate
except ImportError as e:
    print(f"SKIP: OpenStack Nova's code is not importable ({e}); "
          "./build-aux/quickstart test unpacks it", file=sys.stderr)
    sys.exit(77)

CONF = nova.conf.CONF
# As LibvirtDriver.__init__ does: the migration module catches
# libvirt.libvirtError through a global the driver fills in.
libvirt_migrate.libvirt = libvirt


class Instance:
    """What Nova's logging reads of its Instance object."""

    def __init__(self, uuid):
        self.uuid = uuid


def emit(kind, **fields):
    print(json.dumps(dict(kind=kind, **fields)), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--source', required=True, help='source libvirt URI')
    ap.add_argument('--dest', required=True, help='destination libvirt URI')
    ap.add_argument('--domain', required=True)
    ap.add_argument('--migrate-uri', required=True, help='e.g. tcp://host:port')
    ap.add_argument('--xml', help='destination XML file (default: the source\'s, as Nova '
                    'builds it from the guest\'s XML)')
    ap.add_argument('--bandwidth', type=int, default=0, help='MiB/s, 0: unlimited')
    ap.add_argument('--data-gb', type=float, default=2,
                    help='Nova\'s data_gb for the downtime steps and the timeout')
    ap.add_argument('--completion-timeout', type=int, default=800,
                    help='live_migration_completion_timeout (seconds per GiB)')
    args = ap.parse_args()

    CONF([], project='nova', default_config_files=[])
    CONF.set_override('live_migration_completion_timeout', args.completion_timeout,
                      group='libvirt')
    CONF.set_override('live_migration_timeout_action', 'abort', group='libvirt')

    conn = libvirt.open(args.source)
    dom = conn.lookupByName(args.domain)
    guest = libvirt_guest.Guest(dom)
    instance = Instance(dom.UUIDString())
    if args.xml:
        with open(args.xml) as f:
            xml = f.read()
    else:
        xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_MIGRATABLE | libvirt.VIR_DOMAIN_XML_SECURE)
    flags = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER |
             libvirt.VIR_MIGRATE_UNDEFINE_SOURCE | libvirt.VIR_MIGRATE_PERSIST_DEST)
    outcome = {}

    # The migration call gets a connection of its own. Nova makes it on the
    # same connection as its monitor, and libvirt 9.0's client once lost a
    # call that way here: abortJob, made while migrateToURI3 waited on that
    # connection, never reached the daemon, and Nova's monitor hung with
    # it. That race is libvirt's, not what this test is about.
    migrating = libvirt_guest.Guest(libvirt.open(args.source).lookupByName(args.domain))

    def worker():
        try:
            migrating.migrate(args.dest, migrate_uri=args.migrate_uri, destination_xml=xml,
                          flags=flags, bandwidth=args.bandwidth)
            outcome['ok'] = True
        except libvirt.libvirtError as e:
            outcome['ok'] = False
            outcome['error'] = e.get_error_message()

    thread = threading.Thread(target=worker)
    start = time.monotonic()
    thread.start()

    # The monitor of Nova's driver (_live_migration_monitor), its libvirt
    # side: Nova's own functions, in Nova's order.
    steps = list(libvirt_migrate.downtime_steps(args.data_gb))
    completion_timeout = int(CONF.libvirt.live_migration_completion_timeout * args.data_gb)
    curdowntime = [None]
    aborted = False

    def set_downtime(elapsed):
        new = libvirt_migrate.update_downtime(guest, instance, curdowntime[0], steps, elapsed)
        if new != curdowntime[0]:
            try:
                emit('downtime', t=round(elapsed, 2), ms=new,
                     read_back=dom.migrateGetMaxDowntime(0))
            except libvirt.libvirtError as e:
                emit('downtime', t=round(elapsed, 2), ms=new, error=e.get_error_message())
        curdowntime[0] = new

    while True:
        info = guest.get_job_info()
        elapsed = time.monotonic() - start
        if info.type == libvirt.VIR_DOMAIN_JOB_NONE and not thread.is_alive():
            # Finished, failed or never started: Nova untangles it so.
            info.type = libvirt_migrate.find_job_type(guest, instance)
        if info.type == libvirt.VIR_DOMAIN_JOB_UNBOUNDED:
            emit('stats', t=round(elapsed, 2), memory_total=info.memory_total,
                 memory_processed=info.memory_processed,
                 memory_remaining=info.memory_remaining,
                 memory_iteration=info.memory_iteration, data_processed=info.data_processed)
            if (not aborted and libvirt_migrate.should_trigger_timeout_action(
                    instance, elapsed, completion_timeout, 'running')):
                emit('abort', t=round(elapsed, 2))
                try:
                    guest.abort_job()
                    aborted = True
                except libvirt.libvirtError as e:
                    emit('abort', t=round(elapsed, 2), error=e.get_error_message())
            # Nova's update_downtime, in Nova's loop.
            if info.memory_total:
                set_downtime(elapsed)
        elif info.type in (libvirt.VIR_DOMAIN_JOB_COMPLETED, libvirt.VIR_DOMAIN_JOB_FAILED,
                           libvirt.VIR_DOMAIN_JOB_CANCELLED):
            emit('job', t=round(elapsed, 2), type=info.type)
            break
        time.sleep(0.5)

    thread.join()
    emit('result', seconds=round(time.monotonic() - start, 2), **outcome)
    return 0 if outcome.get('ok') else 1


if __name__ == '__main__':
    try:
        sys.exit(main())
    except Exception:
        import traceback
        traceback.print_exc()
        sys.exit(1)
