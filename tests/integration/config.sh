#!/usr/bin/env bash
# Configuration errors and precedence, against the real nudged: a bad key
# or value in every section gives "file:line: key: message" and exit 78
# (EX_CONFIG), in the file, in NUDGE_<SECTION>_<KEY> and in flags; the
# shipped packaging/nudged.conf is valid and documents every key the
# program knows; flags beat the environment, which beats the file.
. "$(dirname "$0")/lib/common.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
N=$BUILD/nudged

# bad NAME SECTION LINE REGEX: LINE in [SECTION], written as line 4 of a
# file (after a comment, a blank line and the section header), must fail
# with exit 78 and "FILE:4: " followed by REGEX.
bad() {
	local name=$1 section=$2 line=$3 want=$4 f out rc
	f="$WORK/$(echo "$name" | tr -c 'a-z0-9\n' _).conf"
	printf '# %s\n\n[%s]\n%s\nshards = 2\n' "$name" "$section" "$line" >"$f"
	out=$("$N" --config "$f" --check-config 2>&1)
	rc=$?
	if [ "$rc" != 78 ]; then
		fail "$name" "exit $rc, want 78 ($out)"
	elif ! printf '%s\n' "$out" | grep -qE "^$f:4: $want"; then
		fail "$name" "got '$out', want '$f:4: $want'"
	else
		pass "$name -> 78, $(printf '%s' "$out" | sed "s|^$WORK/||")"
	fi
}

# [agent]
bad "[agent] unknown key" agent "bogus_key = 1" "unknown key 'bogus_key' in \[agent\]"
bad "[agent] name: bad character" agent "name = web 1" "name: .*character"
bad "[agent] name: too long" agent "name = $(printf 'a%.0s' $(seq 1 64))" "name: expected 1 to 63"
bad "[agent] pub: not an nng URL" agent "pub = http://x:1" "pub: .*not a tcp://"
bad "[agent] control: not an nng URL" agent "control = /run/x.sock" "control: .*not a"
bad "[agent] ingest: not an nng URL" agent "ingest = foo" "ingest: .*not a"
bad "[agent] push: not an nng URL" agent "push = udp://x" "push: .*not a"
bad "[agent] shards: out of range" agent "shards = 0" "shards: expected 1..256"
bad "[agent] shards: not a number" agent "shards = many" "shards: "
bad "[agent] session_timeout: bad unit" agent "session_timeout = 10x" "session_timeout: .*not a duration"
bad "[agent] session_timeout: too long" agent "session_timeout = 8d" "session_timeout: expected"
bad "[agent] retention_ids_days: over 13 months" agent "retention_ids_days = 396" "retention_ids_days: expected 1..395"
bad "[agent] retention_data_days: over 25 months" agent "retention_data_days = 761" "retention_data_days: expected 1..760"
bad "[agent] snapshot_ms: too short" agent "snapshot_ms = 10" "snapshot_ms: expected"
bad "[agent] delta_ms: too long" agent "delta_ms = 5s" "delta_ms: expected"
bad "[agent] sample_sessions: too many" agent "sample_sessions = 1001" "sample_sessions: expected"
bad "[agent] sample_events: negative" agent "sample_events = -1" "sample_events: "
bad "[agent] log_level: unknown" agent "log_level = loud" "log_level: .*error, warn, info, debug"
bad "[agent] log_format: unknown" agent "log_format = fancy" "log_format: "
bad "[agent] tail_from_start: not a boolean" agent "tail_from_start = maybe" "tail_from_start: expected true or false"
# [funnel]
bad "[funnel] unknown key" funnel "stages = visit" "unknown key 'stages' in \[funnel\]"
bad "[funnel] name: bad character" funnel "name = my funnel" "name: .*character"
bad "[funnel] steps: cut short" funnel 'steps = visit -> page ~' "steps \(col [0-9]+\): "
bad "[funnel] steps: unknown predicate" funnel 'steps = visit -> colour == "red"' "steps \(col [0-9]+\): "
# [console]
bad "[console] unknown key" console "agents = tcp://x:1" "unknown key 'agents' in \[console\]"
bad "[console] agent: not an nng URL" console "agent = http://web-1:7450" "agent: .*not a"
bad "[console] refresh_ms: too short" console "refresh_ms = 5" "refresh_ms: expected"
# [relay]
bad "[relay] upstream: not an nng URL" relay "upstream = http://web-1:7450" "upstream: .*not PUBURL"
bad "[relay] upstream: bad control half" relay "upstream = tcp://a:1,/run/x" "upstream: .*not PUBURL"
bad "[relay] enabled: not a boolean" relay "enabled = maybe" "enabled: expected true or false"
# [http]
bad "[http] unknown key" http "port = 80" "unknown key 'port' in \[http\]"
bad "[http] listen: no port" http "listen = 127.0.0.1" "listen: "
bad "[http] listen: not an address" http "listen = nope" "listen: .*ADDRESS:PORT"
bad "[http] origins: wildcard refused" http "origins = *" "origins: .*not allowed"
bad "[http] trusted_proxies: bad CIDR" http "trusted_proxies = 10.0.0.0/99" "trusted_proxies: .*not an address or CIDR"
bad "[http] country_header: not a header name" http "country_header = X Country" "country_header: .*not a header name"
bad "[http] rate_burst: zero" http "rate_burst = 0" "rate_burst: expected"
bad "[http] tarpit_ms: over a minute" http "tarpit_ms = 2m" "tarpit_ms: expected 0ms..1m"
bad "[http] tarpit_after: zero" http "tarpit_after = 0" "tarpit_after: expected 1..1000000"
bad "[http] max_body: too small" http "max_body = 1" "max_body: expected 256..65536"
bad "[http] max_events: too many" http "max_events = 101" "max_events: expected 1..100"
bad "[http] threads: too many" http "threads = 65" "threads: expected 1..64"
bad "[http] consent_required: not a boolean" http "consent_required = perhaps" "consent_required: expected true or false"
# the file's shape
bad "unknown section" nosuch "a = 1" "unknown section \[nosuch\]"
f=$WORK/nosection.conf
printf 'shards = 3\n' >"$f"
out=$("$N" --config "$f" --check-config 2>&1)
expect_eq "a key outside any section: 78" "$?" "78"
check "  and says $f:1:" sh -c "printf '%s' \"\$1\" | grep -q '^$f:1: .*outside any section'" _ "$out"
f=$WORK/syntax.conf
printf '[agent]\nshards = 2\nthis is not ini\n' >"$f"
out=$("$N" --config "$f" --check-config 2>&1)
expect_eq "a line that is not key = value: 78" "$?" "78"
check "  and says $f:3: syntax error" sh -c "printf '%s' \"\$1\" | grep -q '^$f:3: syntax error'" _ "$out"
f=$WORK/long.conf
printf '[agent]\nname = %s\n' "$(head -c 300 /dev/zero | tr '\0' a)" >"$f"
out=$("$N" --config "$f" --check-config 2>&1)
expect_eq "an overlong line: 78" "$?" "78"
check "  and says $f:2:" sh -c "printf '%s' \"\$1\" | grep -q '^$f:2: '" _ "$out"
out=$("$N" --config "$WORK/missing.conf" --check-config 2>&1)
expect_eq "a missing file: 78" "$?" "78"
check "  and names the file" sh -c "printf '%s' \"\$1\" | grep -q 'missing.conf: cannot open'" _ "$out"

# The environment and flags: same checks, named by their variable/flag.
out=$(NUDGE_AGENT_SHARDS=999 "$N" --check-config 2>&1)
expect_eq "bad NUDGE_AGENT_SHARDS: 78" "$?" "78"
check "  and names the variable" sh -c "printf '%s' \"\$1\" | grep -q 'NUDGE_AGENT_SHARDS: shards: expected 1..256'" _ "$out"
out=$(NUDGE_HTTP_MAX_EVENTS=0 "$N" --check-config 2>&1)
expect_eq "bad NUDGE_HTTP_MAX_EVENTS: 78" "$?" "78"
check "  and names the variable" sh -c "printf '%s' \"\$1\" | grep -q 'NUDGE_HTTP_MAX_EVENTS: max_events'" _ "$out"
out=$("$N" --snapshot-ms 5 --check-config 2>&1)
expect_eq "bad --snapshot-ms: 78" "$?" "78"
check "  and names the flag" sh -c "printf '%s' \"\$1\" | grep -q -- '--snapshot-ms: snapshot_ms: expected'" _ "$out"
"$N" --no-such-flag --check-config >/dev/null 2>&1
expect_eq "an unknown flag is a usage error: 2" "$?" "2"

# The shipped file: valid as it is, with every key uncommented too (the
# documented defaults are accepted), and every key documented.
out=$("$N" --config "$SRC/packaging/nudged.conf" --check-config 2>&1)
expect_eq "packaging/nudged.conf is valid" "$out" "$SRC/packaging/nudged.conf: configuration ok"
keys=$(grep -oE '^\s*\{"[a-z]+", "[a-z_]+"' "$SRC/common/conf.c" | sed -E 's/.*\{"([a-z]+)", "([a-z_]+)".*/\1 \2/')
check "conf.c's key table was read ($(echo "$keys" | wc -l) keys)" test "$(echo "$keys" | wc -l)" -ge 30
undoc=""
while read -r sec key; do
	awk -v s="[$sec]" -v k="$key" '$0 == s { ins = 1; next } /^\[/ { ins = 0 }
		ins && $0 ~ "^#? ?" k " =" { f = 1 } END { exit !f }' "$SRC/packaging/nudged.conf" ||
		undoc="$undoc[$sec] $key, "
done <<<"$keys"
expect_eq "every key is documented in its section of packaging/nudged.conf" "$undoc" ""

# Precedence: defaults < file < environment < flags, seen in the name the
# agent reports when ready.
printf '[agent]\nname = from-file\n[http]\nlisten =\n' >"$WORK/prec.conf"
ready_name() { # runs an agent until it is ready; prints its name
	local d=$WORK/prec$RANDOM
	mkdir -p "$d"
	: >"$d/log"
	"$@" --config "$WORK/prec.conf" --pub "tcp://127.0.0.1:$(free_port)" --control "ipc://$d/c" \
		--ingest "ipc://$d/i" --push "ipc://$d/p" --db "$d/db" >"$d/log" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	for _ in $(seq 1 50); do grep -q 'ready: agent' "$d/log" && break; sleep 0.1; done
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	sed -n 's/.*ready: agent \([^,]*\),.*/\1/p' "$d/log"
}
expect_eq "the file sets the name" "$(ready_name "$N")" "from-file"
expect_eq "the environment beats the file" "$(NUDGE_AGENT_NAME=from-env ready_name "$N")" "from-env"
expect_eq "a flag beats the environment" "$(NUDGE_AGENT_NAME=from-env ready_name "$N" --name from-flag)" "from-flag"
out=$(NUDGE_AGENT_SHARDS=999 "$N" --config "$WORK/prec.conf" --shards 4 --check-config 2>&1)
expect_eq "a bad environment value is an error even when a flag overrides it" "$?" "78"
# --http is [http] listen; its errors name the flag
out=$("$N" --config "$WORK/prec.conf" --http nope --check-config 2>&1)
expect_eq "--http: a bad address is a configuration error" "$?" "78"
check "... named by its flag ($out)" grep -q "^nudged: --http: listen: 'nope'" <<<"$out"
out=$("$N" --config "$WORK/prec.conf" --relay --upstream http://x --check-config 2>&1)
check "--upstream's errors name it ($out)" grep -q "^nudged: --upstream: " <<<"$out"
exit 0
