#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A management application's side of virt-mhd, with python3-gi: start a
migration over D-Bus and follow its job's Progress and Finished signals.

    mhd-client.py ADDRESS migrate DOMAIN_NAME DEST_URI MIGRATE_URI FLAGS
                  [--bandwidth MiB/s] [--abort-after N_PROGRESS] [--second]
                  [--dest-xml FILE] [--persist-xml FILE] [--sev-helper]

Prints one JSON object per line ("job", "progress", "second", "finished");
exit status 0 when Finished said success, 1 otherwise."""
import argparse
import json
import sys

from gi.repository import Gio, GLib

BUS = 'org.mirrorhelper.MirrorHelper1'
PATH = '/org/mirrorhelper/MirrorHelper1'


def emit(kind, **fields):
    print(json.dumps(dict(kind=kind, **fields)), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('address')
    ap.add_argument('command', choices=['migrate'])
    ap.add_argument('domain')
    ap.add_argument('dest')
    ap.add_argument('migrate_uri')
    ap.add_argument('flags', type=int)
    ap.add_argument('--bandwidth', type=int, default=0)
    ap.add_argument('--abort-after', type=int, default=0)
    ap.add_argument('--exit-after', type=int, default=0,
                    help='leave (exit at once) after N Progress signals')
    ap.add_argument('--tune', action='store_true',
                    help='SetMaxSpeed and SetMaxDowntime after 2 Progress signals')
    ap.add_argument('--second', action='store_true',
                    help='try a second Migrate while the first runs')
    ap.add_argument('--dest-xml', help='the domain XML for the destination')
    ap.add_argument('--persist-xml', help='the persistent domain XML for the destination')
    ap.add_argument('--sev-helper', action='store_true',
                    help='arm an on-request helper for this migration')
    args = ap.parse_args()

    bus = Gio.DBusConnection.new_for_address_sync(
        args.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
        Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)

    def call(path, iface, method, params, reply):
        return bus.call_sync(BUS, path, BUS + '.' + iface, method, params,
                             GLib.VariantType(reply) if reply else None,
                             Gio.DBusCallFlags.NONE, 60000, None)

    dom = call(PATH, 'Manager', 'LookupByName', GLib.Variant('(s)', (args.domain,)), '(o)')[0]
    params = {'migrate_uri': GLib.Variant('s', args.migrate_uri)}
    if args.bandwidth:
        params['bandwidth'] = GLib.Variant('t', args.bandwidth)
    if args.dest_xml:
        with open(args.dest_xml) as f:
            params['destination_xml'] = GLib.Variant('s', f.read())
    if args.persist_xml:
        with open(args.persist_xml) as f:
            params['persistent_xml'] = GLib.Variant('s', f.read())
    if args.sev_helper:
        params['sev_helper'] = GLib.Variant('b', True)
    loop = GLib.MainLoop()
    result = {}
    progress = []

    def on_signal(conn, sender, path, iface, signal, values):
        if signal == 'Progress':
            stats = values.unpack()[0]
            progress.append(stats)
            emit('progress', n=len(progress), memory_processed=stats.get('memory_processed'),
                 memory_total=stats.get('memory_total'), type=stats.get('type'))
            if args.tune and len(progress) == 2:
                for method, value in (('SetMaxSpeed', 2), ('SetMaxDowntime', 300)):
                    try:
                        call(path, 'Job', method, GLib.Variant('(t)', (value,)), None)
                        emit('tune', method=method, ok=True)
                    except GLib.Error as e:
                        emit('tune', method=method, ok=False, error=e.message)
            if args.exit_after and len(progress) == args.exit_after:
                emit('exit', n=len(progress), job=path)
                sys.stdout.flush()
                import os
                os._exit(3)
            if args.abort_after and len(progress) == args.abort_after:
                call(path, 'Job', 'Abort', None, None)
                emit('abort', n=len(progress))
        elif signal == 'Finished':
            ok, error, stats = values.unpack()
            result.update(ok=ok, error=error, stats=stats)
            emit('finished', ok=ok, error=error, stats=stats)
            loop.quit()

    # Subscribe before the call: the first signals may come at once.
    bus.signal_subscribe(BUS, BUS + '.Job', None, None, None, Gio.DBusSignalFlags.NONE,
                         on_signal)
    job = call(dom, 'Domain', 'Migrate',
               GLib.Variant('(sa{sv}u)', (args.dest, params, args.flags)), '(o)')[0]
    emit('job', path=job, domain=dom)
    if args.second:
        try:
            call(dom, 'Domain', 'Migrate',
                 GLib.Variant('(sa{sv}u)', (args.dest, params, args.flags)), '(o)')
            emit('second', ok=True)
        except GLib.Error as e:
            emit('second', ok=False, error=e.message, name=Gio.DBusError.get_remote_error(e))
    GLib.timeout_add_seconds(300, loop.quit)
    loop.run()
    return 0 if result.get('ok') else 1


if __name__ == '__main__':
    sys.exit(main())
