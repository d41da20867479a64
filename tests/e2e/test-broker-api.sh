#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The key broker's API under bad input and crashes, over real HTTPS: TLS
# verified against the CA named (and refused without it); malformed JSON,
# wrong field types, oversized and chunked bodies, unknown paths, unknown
# and replayed launch ids, a wrong admin token: each a 4xx with a JSON
# error naming the field, the daemon serving on, its tables unchanged
# (only the audit log grows). Then kill -9 and a restart: everything
# acknowledged is still there.
set -euo pipefail
source "${MH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"

command -v openssl >/dev/null || mh_skip "openssl not installed (package openssl)"
command -v sqlite3 >/dev/null || mh_skip "sqlite3 not installed (package sqlite3)"
mh_tmpdir W mhbroker
cd "$W"
# A CA and the broker's certificate for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=test-ca \
    -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
    -keyout srv.key -out srv.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >ext.cnf
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile ext.cnf -out srv.pem 2>/dev/null

start_broker() {
    "$VIRT_MH" broker serve --listen 127.0.0.1:0 --state "$W/state" --tls-cert srv.pem \
        --tls-key srv.key >"$W/serve.out" 2>"$W/serve.err" &
    bpid=$!
    mh_wait_for "the broker listening" 20 grep -q '^listening on ' "$W/serve.out"
    url=$(sed -n 's/^listening on //p' "$W/serve.out")
    : >"$W/serve.out"
}
start_broker
mh_on_exit "kill -9 \$bpid 2>/dev/null"
case $url in https://127.0.0.1:*) ;; *) mh_fail "not an https URL: $url" ;; esac
[ "$(stat -c %a state/admin.token)" = 600 ] || mh_fail "admin.token is not 0600"
[ "$(stat -c %a state/master.key)" = 600 ] || mh_fail "master.key is not 0600"
broker() { "$VIRT_MH" broker "$1" --broker "$url" --token state/admin.token --cacert ca.pem "${@:2}"; }

# TLS: the CA file makes it work, its absence fails verification.
broker list >/dev/null || mh_fail "broker list over https with --cacert failed"
if out=$("$VIRT_MH" broker list --broker "$url" --token state/admin.token 2>&1); then
    mh_fail "a broker with an unknown CA was trusted"
fi
grep -qi "certificate\|tls" <<<"$out" || mh_fail "no TLS reason in: $out"

# A guest and a platform to protect (mh-sevctl makes a platform here).
printf 'platform_dir = "%s"\n' "$W/plat" >q.conf
MH_QEMU_CONF=$W/q.conf "$MH_BUILD_DIR/sim/qemu-mh/mh-sevctl" export --full "$W/exp" ||
    mh_fail "mh-sevctl export failed"
broker trust-platform --export-dir exp >/dev/null || mh_fail "trust-platform failed"
head -c 65536 /dev/urandom >fw.bin
uuid=0b0c0d0e-1f2a-4b3c-9d4e-5f6a7b8c9d0e
broker enroll --uuid $uuid --policy 0x1 --firmware fw.bin >/dev/null || mh_fail "enroll failed"

snapshot() { sqlite3 state/broker.db "SELECT * FROM guests; SELECT * FROM platforms; SELECT id, uuid, platform, state FROM launches;" | md5sum; }
audit_rows() { sqlite3 state/broker.db "SELECT count(*) FROM audit"; }

# call METHOD PATH BODY|@SIZE [TOKEN|chunked]: prints "STATUS BODY".
call() {
    /usr/bin/python3 - "$url" "$@" <<'PY'
import http.client, ssl, sys, urllib.parse
url, method, path, body = sys.argv[1:5]
extra = sys.argv[5] if len(sys.argv) > 5 else ''
u = urllib.parse.urlsplit(url)
ctx = ssl.create_default_context(cafile='ca.pem')
c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=10)
headers = {'Content-Type': 'application/json'}
if extra and extra != 'chunked':
    headers['Authorization'] = 'Bearer ' + extra
data = None
if body.startswith('@'):
    data = b'{"x":"' + b'a' * int(body[1:]) + b'"}'
elif body:
    data = body.encode()
if extra == 'chunked':
    c.request(method, path, body=iter([data]), headers=headers, encode_chunked=True)
else:
    c.request(method, path, body=data, headers=headers)
r = c.getresponse()
print(r.status, r.read().decode(errors='replace'))
PY
}

expect() {  # expect STATUS FIELD|- METHOD PATH BODY [EXTRA]
    local status=$1 field=$2 out
    shift 2
    out=$(call "$@") || mh_fail "request $* failed: $out"
    [ "${out%% *}" = "$status" ] || mh_fail "$*: expected HTTP $status, got: $out"
    grep -q '"error"' <<<"$out" || mh_fail "$*: no JSON error: $out"
    if [ "$field" != - ]; then
        grep -q "\"field\":\"$field\"" <<<"$out" || mh_fail "$*: the error does not name '$field': $out"
    fi
    mh_log "$1 $2 -> ${out:0:160}"
}

before=$(snapshot)
rows=$(audit_rows)
token=$(cat state/admin.token)
expect 400 - POST /v1/bundle '{"uuid": '
expect 400 - POST /v1/bundle '[1,2]'
expect 400 uuid POST /v1/bundle '{"uuid": 5, "pdh": "x", "cert_chain": "y"}'
expect 400 cert_chain POST /v1/bundle "{\"uuid\": \"$uuid\", \"pdh\": \"AAAA\"}"
expect 400 cert_chain POST /v1/bundle "{\"uuid\": \"$uuid\", \"pdh\": \"AAAA\", \"cert_chain\": \"!!\"}"
expect 400 current_session POST /v1/bundle "{\"uuid\": \"$uuid\", \"pdh\": \"AAAA\", \"cert_chain\": \"AAAA\", \"current_session\": \"!!\"}"
expect 400 api_major POST /v1/secret '{"launch_id": "00", "measurement": "AAAA", "api_major": -1}'
expect 404 launch_id POST /v1/secret '{"launch_id": "00ff", "measurement": "AAAA", "api_major": 0, "api_minor": 24, "build_id": 15, "policy": 1}'
expect 413 Content-Length POST /v1/bundle @100000
expect 413 Content-Length POST /v1/bundle '{"uuid": "x"}' chunked
expect 404 - GET /nothing ''
expect 405 - GET /v1/bundle ''
expect 401 Authorization GET /admin/v1/guests ''
expect 401 Authorization GET /admin/v1/guests '' "${token%?}0"
expect 400 policy POST /admin/v1/guests "{\"uuid\": \"$uuid\", \"policy\": \"1\", \"firmware_digest\": \"00\"}" "$token"
expect 400 policy POST /admin/v1/guests '{"uuid": "1b0c0d0e-1f2a-4b3c-9d4e-5f6a7b8c9d0e", "policy": 8, "firmware_digest": "00"}' "$token"
expect 409 uuid POST /admin/v1/guests "{\"uuid\": \"$uuid\", \"policy\": 1, \"firmware_digest\": \"$(printf '%064d' 0)\"}" "$token"
expect 404 uuid DELETE /admin/v1/guests/1b0c0d0e-1f2a-4b3c-9d4e-5f6a7b8c9d0e '' "$token"
[ "$(snapshot)" = "$before" ] || mh_fail "bad requests changed the broker's tables"
[ "$(audit_rows)" -gt "$rows" ] || mh_fail "refusals were not audited"
broker list >/dev/null || mh_fail "the broker stopped serving after bad input"

# Clients that come and go leave no connection open on the broker (libsoup
# 3.2 kept each closed keep-alive connection in CLOSE-WAIT for good).
fds() { ls "/proc/$bpid/fd" | wc -l; }
f0=$(fds)
for i in $(seq 40); do call GET /admin/v1/guests '' "$token" >/dev/null; done
sleep 0.5
f1=$(fds)
[ "$f1" -le $((f0 + 2)) ] || mh_fail "the broker's open files grew from $f0 to $f1 over 40 connections"
mh_log "open files of the broker: $f0 before 40 client connections, $f1 after"

# A replayed launch id: the first use (a wrong measurement) spends it.
pdh=$(base64 -w0 exp/pdh.cert); chain=$(cat exp/pek.cert exp/oca.cert exp/cek.cert | base64 -w0)
out=$(call POST /v1/bundle "{\"uuid\": \"$uuid\", \"pdh\": \"$pdh\", \"cert_chain\": \"$chain\"}")
[ "${out%% *}" = 200 ] || mh_fail "bundle for a trusted platform refused: $out"
lid=$(sed 's/.*"launch_id":"\([0-9a-f]*\)".*/\1/' <<<"$out")
meas=$(head -c 48 /dev/zero | base64 -w0)
sec="{\"launch_id\": \"$lid\", \"measurement\": \"$meas\", \"api_major\": 0, \"api_minor\": 24, \"build_id\": 15, \"policy\": 1}"
expect 403 measurement POST /v1/secret "$sec"
expect 409 launch_id POST /v1/secret "$sec"

# kill -9, restart: the enrolment, the platform and the audit survive.
rows=$(audit_rows)
kill -9 "$bpid"; wait "$bpid" 2>/dev/null || true
start_broker
out=$(broker list) || mh_fail "broker list after the restart failed"
grep -q "$uuid" <<<"$out" || mh_fail "the enrolled guest is gone after kill -9: $out"
[ "$(audit_rows)" = "$rows" ] || mh_fail "audit entries lost in kill -9"
broker log | grep -q 'REFUSED: replayed launch id' || mh_fail "the replay is not in the audit log"
! grep -rq "$(od -An -tx1 -N4 state/master.key | tr -d ' ')" serve.err || mh_fail "master key material in the log"
echo "PASS: broker API: TLS verified, 18 bad requests refused with 4xx JSON errors naming the field, tables unchanged, launch id single-use, state survives kill -9"
