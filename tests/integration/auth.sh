#!/usr/bin/env bash
# Access: credentials, roles, signed requests and TLS against real agents.
# Every refused request must change nothing (events counted by
# `nudge status --json`) and leave a row in the agent's audit table.
# Test aids: NUDGE_TEST_CLOCK_OFFSET_MS dates the client's requests off its
# clock; tools/authraw sends mis-signed and replayed requests.
. "$(dirname "$0")/lib/common.sh"

NUDGE=$BUILD/nudge
RAW=$BUILD/tools/authraw
K=$WORK/keys
mkdir -p "$K"

# key NAME ROLE: a client key file $K/NAME.key, its line in $K/creds
key() {
	"$NUDGE" key new --id "$1" --role "$2" --out "$K/$1.key" >>"$K/creds" 2>/dev/null
}
key ops operator
key view viewer
chmod 600 "$K/creds"
expect_eq "key files are 0600" "$(stat -c %a "$K/ops.key")" "600"
# a key made for nobody: same format, unknown to the agent
"$NUDGE" key new --id stranger --role operator --out "$K/stranger.key" >/dev/null 2>&1

events() { # events NAME: the agent's accepted-events counter
	local pub
	eval "pub=\$AGENT_PUB_$1"
	"$NUDGE" status --json --timeout 2000 --agent "$pub" | jq -r '.events'
}
audit_count() { sqlite3 "$WORK/$1/nudged.db" "SELECT count(*) FROM audit WHERE $2"; }

# ---- startup policy -------------------------------------------------------
mkdir -p "$WORK/p1"
"$BUILD/nudged" --name p1 --pub "tcp://127.0.0.1:$(free_port)" \
	--control "tcp://127.0.0.1:$(free_port)" --ingest "ipc://$WORK/p1/i.sock" \
	--push "ipc://$WORK/p1/p.sock" --db "$WORK/p1/db" >"$WORK/p1.out" 2>&1
expect_eq "remote control without credentials: refused at start (78)" "$?" "78"
check "the refusal names the setting" grep -q "credentials" "$WORK/p1.out"

cp "$K/creds" "$WORK/open-creds"
chmod 644 "$WORK/open-creds"
"$BUILD/nudged" --name p2 --pub "tcp://127.0.0.1:$(free_port)" \
	--control "ipc://$WORK/p1/c.sock" --ingest "ipc://$WORK/p1/i.sock" \
	--push "ipc://$WORK/p1/p.sock" --db "$WORK/p1/db" \
	--credentials "$WORK/open-creds" >"$WORK/p2.out" 2>&1
expect_eq "credentials readable by others: refused at start (78)" "$?" "78"
check "the refusal says chmod 600" grep -q "chmod 600" "$WORK/p2.out"

printf 'ops operator 00\n' >"$WORK/bad-creds"
chmod 600 "$WORK/bad-creds"
"$BUILD/nudged" --name p3 --pub "tcp://127.0.0.1:$(free_port)" \
	--control "ipc://$WORK/p1/c.sock" --ingest "ipc://$WORK/p1/i.sock" \
	--push "ipc://$WORK/p1/p.sock" --db "$WORK/p1/db" \
	--credentials "$WORK/bad-creds" >"$WORK/p3.out" 2>&1
expect_eq "bad credentials line: refused at start (78)" "$?" "78"
check "the refusal has file:line" grep -q "bad-creds:1:" "$WORK/p3.out"

# ---- refused requests: no state change, audited ----------------------------
start_agent a1 --credentials "$K/creds" || exit 1
ING=$AGENT_INGEST_a1
CTL=ipc://$WORK/a1/control.sock

"$NUDGE" --key "$K/ops.key" emit purchase --visitor v-ok --value 1 --ingest "$ING" >/dev/null 2>&1
expect_eq "operator key: emit accepted" "$?" "0"
base=$(events a1)
expect_eq "one event counted" "$base" "1"

"$NUDGE" emit purchase --visitor v1 --ingest "$ING" >"$WORK/o1" 2>&1
expect_eq "no credential: refused (exit 4)" "$?" "4"
"$NUDGE" --key "$K/stranger.key" emit purchase --visitor v1 --ingest "$ING" >"$WORK/o2" 2>&1
expect_eq "unknown key: refused (exit 4)" "$?" "4"
check "unknown key: says so" grep -q "unknown key" "$WORK/o2"
expect_eq "wrong mac: refused" "$("$RAW" "$ING" "$K/ops.key" badmac | cut -d' ' -f1)" "-13"
NUDGE_TEST_CLOCK_OFFSET_MS=-90000 "$NUDGE" --key "$K/ops.key" emit purchase --visitor v1 --ingest "$ING" >"$WORK/o3" 2>&1
expect_eq "request 90 s old: refused (exit 4)" "$?" "4"
check "old request: says expired" grep -q "expired" "$WORK/o3"
NUDGE_TEST_CLOCK_OFFSET_MS=90000 "$NUDGE" --key "$K/ops.key" emit purchase --visitor v1 --ingest "$ING" >/dev/null 2>&1
expect_eq "request dated 90 s ahead: refused (exit 4)" "$?" "4"
"$NUDGE" --key "$K/view.key" emit purchase --visitor v1 --ingest "$ING" >"$WORK/o4" 2>&1
expect_eq "viewer emitting on ingest: refused (exit 4)" "$?" "4"
"$NUDGE" --key "$K/view.key" emit purchase --visitor v1 --ingest "$CTL" >/dev/null 2>&1
expect_eq "viewer emitting on control: refused (exit 4)" "$?" "4"
"$RAW" "$ING" "$K/ops.key" replay 5 >"$WORK/o5"
expect_eq "first of a replayed pair: accepted" "$(sed -n 1p "$WORK/o5" | cut -d' ' -f1)" "0"
expect_eq "same id, other body: refused" "$(sed -n 2p "$WORK/o5" | cut -d' ' -f1)" "-13"
"$RAW" "$ING" "$K/ops.key" resend >"$WORK/o6"
expect_eq "a REQ resend (same bytes) is answered" "$(cut -d' ' -f1 "$WORK/o6" | tr '\n' ' ')" "0 0 "
if "$NUDGE" help rules 2>/dev/null | grep -q "rules push"; then
	rules=$(ls "$(dirname "$0")"/../../examples/*.rules | head -1)
	"$NUDGE" --key "$K/view.key" --agent "$AGENT_PUB_a1,$CTL" rules push "$rules" >/dev/null 2>&1
	expect_eq "viewer pushing rules: refused (exit 4)" "$?" "4"
fi
expect_eq "refusals changed nothing (replay first + resend once)" "$(events a1)" "$((base + 2))"

sleep 1.2 # the audit rows are written synchronously; leave the summary second
expect_eq "audit: no credential" "$(audit_count a1 "who='unknown' AND detail LIKE 'unsigned%'")" "1"
expect_eq "audit: unknown key" "$(audit_count a1 "who='unknown' AND detail LIKE 'unknown key%'")" "1"
expect_eq "audit: bad signature" "$(audit_count a1 "detail LIKE 'bad signature%'")" "1"
expect_eq "audit: expired (old and ahead)" "$(audit_count a1 "who='ops' AND detail LIKE 'expired%'")" "2"
# emit on ingest and on control (and rules push, once it exists)
check "audit: viewer refusals" test "$(audit_count a1 "who='view' AND status=-14")" -ge 2
expect_eq "audit: replay" "$(audit_count a1 "who='ops' AND detail LIKE 'replayed%'")" "1"

# A flood of refusals: at most ACCESS_AUDIT_BURST rows a second, plus one
# summary row counting the rest.
# The bound follows the wall seconds the flood spanned (ACCESS_AUDIT_BURST
# = 10 rows and one summary per second, the last summary a second after):
# a slow (sanitized, loaded) run spans more seconds than a fast one.
before=$(audit_count a1 "1")
t0=$(date +%s)
for _ in $(seq 1 60); do "$RAW" "$ING" - unsigned; done >/dev/null
t1=$(date +%s)
sleep 2.2
after=$(audit_count a1 "1")
bound=$((11 * (t1 - t0 + 2)))
[ "$bound" -lt 60 ] || bound=59 # a flood must be summed, however slow
check "flood: audit rows bounded ($((after - before)) <= $bound over $((t1 - t0 + 1)) s)" \
	test $((after - before)) -le "$bound"
check "flood: a summary row" test "$(audit_count a1 "who='*'")" -ge 1

# SIGHUP re-reads the credentials: a key added then works.
key late operator
kill -HUP "$AGENT_PID_a1"
sleep 0.5
"$NUDGE" --key "$K/late.key" emit purchase --visitor v-late --ingest "$ING" >/dev/null 2>&1
expect_eq "key added + SIGHUP: accepted" "$?" "0"

# ---- TLS -------------------------------------------------------------------
T=$WORK/tls
mkdir -p "$T"
mkca ca
mkca rogue
mkcert server ca 127.0.0.1
mkcert client ca client
mkcert evil rogue client
for who in client evil; do
	printf '[console]\ntls_ca = %s\ntls_cert = %s\ntls_key = %s\n' "$T/ca.pem" "$T/$who.pem" "$T/$who.key" >"$T/$who.conf"
done
TP=$(free_port)
TC=$(free_port)
mkdir -p "$WORK/t1"
NUDGE_AGENT_TLS_VERIFY_PEER=true "$BUILD/nudged" --name t1 --pub "tls+tcp://127.0.0.1:$TP" \
	--control "tls+tcp://127.0.0.1:$TC" --ingest "ipc://$WORK/t1/i.sock" \
	--push "ipc://$WORK/t1/p.sock" --db "$WORK/t1/nudged.db" --credentials "$K/creds" \
	--tls-cert "$T/server.pem" --tls-key "$T/server.key" --tls-ca "$T/ca.pem" \
	>"$WORK/t1/log" 2>&1 &
PIDS+=("$!")
tstatus() { "$NUDGE" --config "$T/$1.conf" status --json --timeout 3000 --agent "tls+tcp://127.0.0.1:$TP"; }
for _ in $(seq 1 50); do tstatus client >/dev/null 2>&1 && break; sleep 0.1; done
expect_eq "TLS: status over tls+tcp:// PUB" "$(tstatus client | jq -r '.agents[0].up')" "true"
"$NUDGE" --config "$T/client.conf" --key "$K/ops.key" emit purchase --visitor v-tls \
	--ingest "tls+tcp://127.0.0.1:$TC" >/dev/null 2>&1
expect_eq "TLS: signed emit over tls+tcp:// control" "$?" "0"
# a TLS handshake under the sanitizers can miss the 3 s: ask again
tevents() {
	for _ in 1 2 3 4 5; do
		tstatus client >"$WORK/tevents.json" 2>/dev/null && break
		sleep 0.5
	done
	jq -r '.events' "$WORK/tevents.json"
}
expect_eq "TLS: the event counted" "$(tevents)" "1"
fails=0
for i in $(seq 1 10); do
	"$NUDGE" --config "$T/evil.conf" --key "$K/ops.key" emit purchase --visitor "v-evil-$i" \
		--ingest "tls+tcp://127.0.0.1:$TC" >/dev/null 2>&1 || fails=$((fails + 1))
done
expect_eq "TLS: certificate from another CA: 10/10 refused" "$fails" "10"
tstatus evil >"$WORK/evil.json" 2>/dev/null
expect_eq "TLS: another CA gets no snapshot" "$(jq -r '.agents[0].up' "$WORK/evil.json")" "false"
"$NUDGE" --config "$T/client.conf" emit purchase --visitor v-unsigned \
	--ingest "tls+tcp://127.0.0.1:$TC" >/dev/null 2>&1
expect_eq "TLS: a good certificate without a key is still refused" "$?" "4"
expect_eq "TLS: refusals changed nothing" "$(tevents)" "1"
