#!/usr/bin/env bash
# retention.sh - the agent enforces retention (PRIVACY.md) at start and
# every hour: aged fixtures are written into a real agent's database with
# sqlite3, the agent is started, and within seconds
#   - archived sessions older than retention_data_days (760) are deleted,
#   - those older than retention_ids_days (395) keep their figures but no
#     visitor id, and rule memory rows that old are deleted,
#   - younger rows are untouched;
# then a lower limit (NUDGE_AGENT_RETENTION_IDS_DAYS=5) applies at the next
# start, and a limit above the maximum is refused with file:line.
#
# Env: BUILD (default build).  Prints PASS/FAIL lines.
. "$(dirname "$0")/lib/common.sh"

command -v sqlite3 >/dev/null || { fail sqlite3 "sqlite3 not installed"; exit 1; }
DB=$WORK/r1/nudged.db
DAY=86400000
NOW=$(($(date +%s) * 1000))
ago() { echo $((NOW - $1 * DAY)); }

start_agent r1 || exit 1	# creates the schema
stop_agent r1
ins() { # ins VISITOR DAYS_AGO REVENUE
	sqlite3 "$DB" "INSERT INTO sessions(visitor, started_ms, last_ms, pages,
	    events, step, source, device, country, cart_items, cart_cents,
	    purchases, revenue_cents, score, last_page, utm_campaign) VALUES
	    ('$1', $(ago "$2"), $(ago "$2"), 3, 5, 1, 0, 1, 'FR', 0, 0, 1, $3, 0,
	    '/p', '')"
}
ins vOld800 800 100
ins vOld400 400 200
ins vYoung10 10 300
ins vFresh1 1 400
sqlite3 "$DB" "INSERT INTO visitors(vhash, orders, sessions, last_ms, prev_ms,
    caps) VALUES (101, 1, 1, $(ago 400), 0, NULL), (102, 1, 1, $(ago 10), 0,
    NULL)"
q() { sqlite3 "$DB" "$1"; }

start_agent r1 || exit 1
for _ in $(seq 1 20); do
	[ "$(q "select count(*) from sessions where visitor = 'vOld800'")" = 0 ] &&
	[ "$(q "select count(*) from visitors where vhash = 101")" = 0 ] && break
	sleep 0.2
done
expect_eq "data older than 760 days deleted" "$(q "select count(*) from sessions where revenue_cents = 100")" "0"
expect_eq "ids older than 395 days removed" "$(q "select count(*) from sessions where visitor = 'vOld400'")" "0"
expect_eq "figures of those kept, without id" "$(q "select visitor || ':' || revenue_cents from sessions where revenue_cents = 200")" ":200"
expect_eq "younger sessions untouched" "$(q "select count(*) from sessions where visitor in ('vYoung10', 'vFresh1')")" "2"
expect_eq "visitor memory older than 395 days deleted" "$(q "select count(*) from visitors where vhash = 101")" "0"
expect_eq "younger visitor memory kept" "$(q "select count(*) from visitors where vhash = 102")" "1"
expect_eq "no trace of the old ids in the dump" "$(sqlite3 "$DB" .dump | grep -c 'vOld')" "0"
check "the purge is logged" grep -q "retention: 1 sessions deleted, 1 made anonymous, 1 visitor memories deleted" "$WORK/r1/log"
stop_agent r1

# a lower limit, from the environment, at the next start
NUDGE_AGENT_RETENTION_IDS_DAYS=5 start_agent r1 || exit 1
for _ in $(seq 1 20); do
	[ "$(q "select count(*) from sessions where visitor = 'vYoung10'")" = 0 ] && break
	sleep 0.2
done
expect_eq "retention_ids_days=5: a 10-day-old id removed" "$(q "select count(*) from sessions where visitor = 'vYoung10'")" "0"
expect_eq "retention_ids_days=5: its figures kept" "$(q "select count(*) from sessions where revenue_cents = 300")" "1"
expect_eq "retention_ids_days=5: a 1-day-old id kept" "$(q "select count(*) from sessions where visitor = 'vFresh1'")" "1"
expect_eq "retention_ids_days=5: 10-day-old memory deleted" "$(q "select count(*) from visitors where vhash = 102")" "0"
stop_agent r1

# above the maximum: refused with file:line
printf '[agent]\nretention_data_days = 800\n' >"$WORK/bad.conf"
out=$("$BUILD/nudged" --config "$WORK/bad.conf" --check-config 2>&1)
expect_eq "retention_data_days = 800 exits 78" "$?" "78"
check "refusal names file:line" sh -c "echo '$out' | grep -q '^$WORK/bad.conf:2: retention_data_days: expected 1..760'"
exit 0
