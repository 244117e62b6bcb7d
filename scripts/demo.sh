#!/usr/bin/env bash
# The ddb2pg demo (`make demo`): on a throwaway local stack (PostgreSQL, MinIO,
# DynamoDB Local), generate a realistic DynamoDB export of the order model,
# put it in S3 (MinIO), create the tables of examples/orders/mapping.yaml,
# backfill from s3://, show what landed, and rerun the backfill to show it
# changes nothing. The same orders also live in a DynamoDB Local table with a
# stream (the "live table" the export was taken from): after the backfill the
# demo makes live changes there, applies the stream with `ddb2pg stream`, and
# ends with `ddb2pg verify` (GO, then NO-GO after damaging one row).
#
# Environment:
#   DEMO_KEEP=1          leave the stack running at the end (prints how to stop it)
#   DEMO_DIR=DIR         work folder (default: a new temp dir)
#   DEMO_ORDERS=N        orders to generate (default 3000)
#   DEMO_BAD_ITEMS=N     of which the mapping must reject N (default 9: one of each kind)
#   DEMO_STEPS="..."     steps to run, in order (default: all of DEMO_ALL_STEPS)
#
# Each step is a function step_<name>; later features add theirs to
# DEMO_ALL_STEPS (e.g. stream sync, verify). Steps share state through the
# globals below.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DEMO_ALL_STEPS="build stack dynamodb generate upload schema backfill show rerun stream verify"
DEMO_STEPS=${DEMO_STEPS:-$DEMO_ALL_STEPS}
DEMO_ORDERS=${DEMO_ORDERS:-3000}
DEMO_BAD_ITEMS=${DEMO_BAD_ITEMS:-9}
DEMO_SEED=${DEMO_SEED:-42}
MAPPING=examples/orders/mapping.yaml
BUCKET=demo-exports
PREFIX=exports/orders
DDB2PG=$ROOT/bin/ddb2pg

WORK=${DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/ddb2pg-demo.XXXXXX")}
mkdir -p "$WORK"
STACK_DIR=$WORK/stack
TOOLS=$WORK/tools
STACK_STARTED=0
EXPORT_ID=
EXPORT_URL=
TABLE=Orders
STREAM_ARN=

# ---- output helpers ----------------------------------------------------------

if [ -t 1 ]; then
	BOLD=$'\033[1m' DIM=$'\033[2m' RESET=$'\033[0m'
else
	BOLD= DIM= RESET=
fi
section() { printf '\n%s==== %s ====%s\n' "$BOLD" "$*" "$RESET"; }
note() { printf '%s%s%s\n' "$DIM" "$*" "$RESET"; }
die() {
	echo "demo: $*" >&2
	exit 1
}
# run CMD...: show a command, then run it.
run() {
	printf '%s$ %s%s\n' "$DIM" "$*" "$RESET"
	"$@"
}
psql_demo() { psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -P pager=off "$@"; }
# sql_value SQL: one value, unaligned.
sql_value() { psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -At -c "$1"; }
# expected KEY: a count the generator predicted (from its -json summary).
expected() { sed -n "s/^ *\"$1\": \([0-9]*\),\{0,1\}$/\1/p" "$WORK/export.json" | head -1; }

cleanup() {
	local rc=$?
	if [ "$STACK_STARTED" = 1 ]; then
		if [ "${DEMO_KEEP:-0}" = 1 ]; then
			section "Stack left running (DEMO_KEEP=1)"
			echo "use it:   . $STACK_DIR/env && psql \"\$DATABASE_URL\""
			echo "stop it:  scripts/stack.sh stop $STACK_DIR && rm -rf $WORK"
		else
			scripts/stack.sh stop "$STACK_DIR" >/dev/null 2>&1 || echo "demo: could not stop the stack in $STACK_DIR" >&2
		fi
	fi
	if [ "${DEMO_KEEP:-0}" != 1 ] && [ -z "${DEMO_DIR:-}" ]; then
		rm -rf "$WORK"
	fi
	if [ "$rc" != 0 ]; then
		echo "demo: FAILED (exit $rc)" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT

# ---- steps -------------------------------------------------------------------

step_build() {
	section "Build"
	if [ -f Makefile ]; then
		run make build
	else
		run go build -o "$DDB2PG" ./cmd/ddb2pg
	fi
	[ -x "$DDB2PG" ] || die "make build did not produce $DDB2PG"
	mkdir -p "$TOOLS"
	go build -o "$TOOLS/genexport" ./scripts/genexport
	go build -o "$TOOLS/upload" ./scripts/upload
	go build -o "$TOOLS/ddbdemo" ./scripts/ddbdemo
}

step_stack() {
	section "Local stack: PostgreSQL, MinIO (S3), DynamoDB Local"
	STACK_STARTED=1
	run scripts/stack.sh start "$STACK_DIR"
	# shellcheck disable=SC1091
	. "$STACK_DIR/env"
	note "DATABASE_URL=$DATABASE_URL"
	note "AWS_ENDPOINT_URL_S3=$AWS_ENDPOINT_URL_S3"
	note "AWS_ENDPOINT_URL_DYNAMODB=$AWS_ENDPOINT_URL_DYNAMODB"
}

# genflags: the generator configuration the export and the live table share.
genflags() { echo --orders "$DEMO_ORDERS" --seed "$DEMO_SEED" --edge-cases --bad-items "$DEMO_BAD_ITEMS"; }

step_dynamodb() {
	section "The live table: DynamoDB Local table $TABLE, with a stream, holding the export's items"
	note "the export generated next holds exactly these items (same generator, same config)"
	# shellcheck disable=SC2046
	run "$TOOLS/ddbdemo" seed --table "$TABLE" $(genflags) | tee "$WORK/seed.txt"
	STREAM_ARN=$(sed -n 's/^stream ARN: //p' "$WORK/seed.txt")
	[ -n "$STREAM_ARN" ] || die "ddbdemo seed printed no stream ARN"
}

step_generate() {
	section "Generate a DynamoDB export: $DEMO_ORDERS orders, edge cases, $DEMO_BAD_ITEMS bad items"
	# shellcheck disable=SC2046
	run "$TOOLS/genexport" --out "$WORK/export" --files 4 $(genflags) \
		--bucket "$BUCKET" --prefix "$PREFIX" -json >"$WORK/export.json"
	local folder
	folder=$(sed -n 's/^  "folder": "\(.*\)",$/\1/p' "$WORK/export.json")
	[ -d "$folder" ] || die "genexport reported no export folder"
	EXPORT_ID=$(basename "$folder")
	EXPORT_URL="s3://$BUCKET/$PREFIX/AWSDynamoDB/$EXPORT_ID"
	echo "export $EXPORT_ID, laid out as AWS writes it:"
	(cd "$WORK/export" && find . -type f | sort | sed 's|^\./|  |')
	echo "the generator expects: orders $(expected orders), order_items $(expected order_items)," \
		"customers $(expected customers), rejected $(expected rejected)"
	echo "one line of a data file:"
	# (head closes the pipe early: gzip's SIGPIPE is not a failure here)
	gzip -dc "$folder"/data/*.json.gz | head -1 | cut -c1-400 | sed 's/^/  /;s/$/ .../' || true
}

step_upload() {
	section "Upload it to S3 (MinIO): s3://$BUCKET/$PREFIX/"
	run "$TOOLS/upload" --bucket "$BUCKET" --prefix "$PREFIX" "$WORK/export/$PREFIX"
	echo "export URL: $EXPORT_URL"
}

step_schema() {
	section "The DDL the mapping implies"
	run "$DDB2PG" schema --mapping "$MAPPING"
	section "Create the tables"
	run "$DDB2PG" schema --mapping "$MAPPING" --apply
}

# backfill_once: runs the backfill; exit 3 (finished with rejected items) is
# what the bad items must give; any other failure ends the demo.
backfill_once() {
	local rc=0
	run "$DDB2PG" backfill --mapping "$MAPPING" --export "$EXPORT_URL" || rc=$?
	case $rc in
	0) note "exit 0: everything loaded" ;;
	3) note "exit 3: finished, with rejected items: expected here, the export holds $DEMO_BAD_ITEMS bad items on purpose" ;;
	*) die "backfill failed (exit $rc)" ;;
	esac
}

step_backfill() {
	section "Backfill from $EXPORT_URL"
	backfill_once
}

# table_counts: "table count" lines for the mapped tables that exist.
table_counts() {
	local t
	for t in customers orders order_items products; do
		if [ "$(sql_value "SELECT to_regclass('$t') IS NOT NULL")" = t ]; then
			echo "$t $(sql_value "SELECT count(*) FROM $t")"
		fi
	done
}

show_rejects() {
	if [ "$(sql_value "SELECT to_regclass('ddb2pg.rejects') IS NOT NULL")" != t ]; then
		note "(no ddb2pg.rejects table)"
		return
	fi
	# Show the ledger's columns that exist, so the demo follows its shape.
	local cols="" c
	for c in item_key pg_table pg_column raw_value reason origin file_key line; do
		if [ "$(sql_value "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'ddb2pg' AND table_name = 'rejects' AND column_name = '$c'")" = 1 ]; then
			case $c in
			raw_value) cols="$cols, left($c, 30) AS $c" ;;
			reason) cols="$cols, left($c, 70) AS $c" ;;
			origin) cols="$cols, regexp_replace($c, '\S*/', '', 'g') AS $c" ;; # paths to base names
			file_key) ;; # origin names the file already
			*) cols="$cols, $c" ;;
			esac
		fi
	done
	[ -n "$cols" ] || cols=", *"
	psql_demo -c "SELECT ${cols#, } FROM ddb2pg.rejects ORDER BY 1"
}

step_show() {
	section "What landed in PostgreSQL"
	local t n e
	printf '%-12s %8s %10s\n' table rows expected
	while read -r t n; do
		e=$(expected "$t")
		printf '%-12s %8s %10s\n' "$t" "$n" "${e:--}"
	done < <(table_counts)

	section "A sample order, joined with its customer and items"
	psql_demo -c "
		SELECT o.id, o.status, o.total, o.created_at, c.name AS customer, c.email,
		       i.line, i.product_id, i.quantity, i.price_at_purchase
		FROM orders o
		JOIN customers c ON c.id = o.customer_id
		JOIN order_items i ON i.order_id = o.id
		WHERE o.id = (SELECT order_id FROM order_items WHERE order_id > 'ORD-000100'
		              GROUP BY order_id HAVING count(*) = 3 ORDER BY order_id LIMIT 1)
		ORDER BY i.line"

	section "Edge cases: unicode names, 38-digit numbers kept exact in jsonb, no items"
	psql_demo -c "
		SELECT o.id, c.name AS customer, o.total,
		       (SELECT count(*) FROM order_items i WHERE i.order_id = o.id) AS lines
		FROM orders o LEFT JOIN customers c ON c.id = o.customer_id
		WHERE o.id IN ('ORD-000003', 'ORD-000004', 'ORD-000005', 'ORD-000006', 'ORD-000016')
		ORDER BY o.id"
	psql_demo -c "
		SELECT attrs->'maxCounter' AS max_counter, attrs->'ledgerBalance' AS ledger_balance,
		       attrs->'counter2p53' AS above_2p53
		FROM orders WHERE id = 'ORD-000001'"

	section "Rejected items (ddb2pg.rejects): the bad items, each with its reason"
	show_rejects
}

# snapshot [TABLE...]: per table (default: the mapped ones and the rejects
# ledger), its row count and an md5 of its content, to show that a rerun
# changes nothing at all.
snapshot() {
	local t tables=("$@")
	[ $# -gt 0 ] || tables=(customers orders order_items products ddb2pg.rejects)
	for t in "${tables[@]}"; do
		if [ "$(sql_value "SELECT to_regclass('$t') IS NOT NULL")" = t ]; then
			echo "$t $(sql_value "SELECT count(*) || ' rows, md5 ' || left(md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')), 12) FROM $t x")"
		fi
	done
}

step_rerun() {
	section "Rerun the backfill: it must change nothing"
	local before after
	before=$(snapshot)
	backfill_once
	after=$(snapshot)
	if [ "$before" = "$after" ]; then
		echo "unchanged (rows and content):"
		echo "$after" | sed 's/^/  /'
	else
		printf 'before:\n%s\nafter:\n%s\n' "$before" "$after"
		die "the rerun changed the tables"
	fi
}

# touched KEY: an order id (or ids) from ddbdemo live's summary.
touched() {
	python3 -c 'import json, sys
v = json.loads(sys.stdin.read())[sys.argv[1]]
print(" ".join(v) if isinstance(v, list) else v)' "$1" < <(sed -n 's/^touched: //p' "$WORK/live.txt")
}

# show_orders IDS...: each order with its status, total, customer and lines
# (or "(not in PostgreSQL)").
show_orders() {
	local values
	values=$(printf "('%s')," "$@")
	psql_demo -c "
		SELECT k.id, coalesce(o.status, '(not in PostgreSQL)') AS status, o.total, c.name AS customer,
		       (SELECT count(*) FROM order_items i WHERE i.order_id = k.id) AS lines,
		       (SELECT string_agg(i.line || ':' || i.product_id || ' x' || i.quantity || ' @' || i.price_at_purchase, ', ' ORDER BY i.line)
		        FROM order_items i WHERE i.order_id = k.id) AS items
		FROM (VALUES ${values%,}) AS k(id)
		LEFT JOIN orders o ON o.id = k.id
		LEFT JOIN customers c ON c.id = o.customer_id
		ORDER BY k.id"
}

step_stream() {
	section "Live changes in DynamoDB after the export"
	# shellcheck disable=SC2046
	run "$TOOLS/ddbdemo" live --table "$TABLE" $(genflags) | tee "$WORK/live.txt"
	local ids
	# shellcheck disable=SC2207
	ids=($(touched new) $(touched shrunk) $(touched grown) $(touched status) $(touched renamed) $(touched deleted) $(touched rejected))
	echo
	echo "PostgreSQL before the stream is applied (still the export's state):"
	show_orders "${ids[@]}"

	section "Apply the stream: ddb2pg stream from TRIM_HORIZON until idle"
	note "From TRIM_HORIZON the stream first replays the $DEMO_ORDERS inserts of the seed, which the backfill"
	note "already loaded. That is safe: per item the records apply in stream order (a duplicate or older"
	note "sequence number is skipped), so each item ends at its newest version; a stream record wins over"
	note "the export's copy, whose snapshot it follows; and a delete leaves a tombstone in the ledger, so"
	note "neither an insert replayed from before it nor a rerun of the backfill brings the row back."
	[ -z "$STREAM_ARN" ] || note "stream: $STREAM_ARN (the latest stream of $TABLE, which ddb2pg stream finds itself)"
	run "$DDB2PG" stream --mapping "$MAPPING" --until-idle 5s

	section "PostgreSQL after the stream"
	echo "shrunk $(touched shrunk), grown $(touched grown), status $(touched status)," \
		"customer renamed on $(touched renamed), deleted $(touched deleted), new $(touched new), rejected $(touched rejected):"
	show_orders "${ids[@]}"
	local cust gone
	cust=$(touched renamed_customer)
	psql_demo -c "SELECT id, name, email FROM customers WHERE id = '$cust'"
	gone=$(sql_value "SELECT count(*) FROM orders WHERE id IN ($(touched deleted | sed "s/\([^ ]*\)/'\1'/g; s/ /, /g"))")
	[ "$gone" = 0 ] || die "deleted orders are still in PostgreSQL"
	for id in $(touched new); do
		[ "$(sql_value "SELECT count(*) FROM orders WHERE id = '$id'")" = 1 ] || die "new order $id did not arrive"
	done

	section "The live item the mapping rejects, in ddb2pg.rejects"
	local rej
	rej=$(touched rejected)
	psql_demo -c "
		SELECT item_key, pg_table, pg_column, raw_value, reason, origin
		FROM ddb2pg.rejects WHERE origin LIKE 'stream%' AND item_key LIKE '%\"$rej\"%' ORDER BY id"
	[ "$(sql_value "SELECT count(*) FROM ddb2pg.rejects WHERE origin LIKE 'stream%' AND item_key LIKE '%\"$rej\"%'")" -ge 1 ] ||
		die "the rejected live item $rej is not in ddb2pg.rejects"
	note "(the replayed seed inserts of the $DEMO_BAD_ITEMS bad items were rejected again, as in the backfill:" \
		"$(sql_value "SELECT count(*) FROM ddb2pg.rejects WHERE origin LIKE 'stream%'") stream rejects in all)"

	section "A backfill that loads its export after the stream ran: the stream's changes and deletes stay"
	note "As if the backfill had still been loading (or reloaded its files after a crash) while the stream"
	note "applied the live changes: mark the export's files pending again and rerun it. Every item the"
	note "stream wrote is newer than the export's copy, and deleted items are tombstones: nothing goes back."
	local before after
	before=$(snapshot customers orders order_items)
	run psql_demo -c "UPDATE ddb2pg.export_files SET status = 'pending'"
	backfill_once
	after=$(snapshot customers orders order_items)
	[ "$before" = "$after" ] || die "the backfill changed what the stream applied"
	# shellcheck disable=SC2046
	show_orders $(touched shrunk) $(touched deleted)
	echo "unchanged (rows and content):"
	echo "$after" | sed 's/^/  /'
}

# verify_once EXPECT: runs verify with the three reports; its exit status must
# be EXPECT (0 GO, 3 NO-GO).
verify_once() {
	local want=$1 rc=0
	run "$DDB2PG" verify --mapping "$MAPPING" --report "$WORK/report.html" \
		--json "$WORK/report.json" --markdown "$WORK/report.md" || rc=$?
	case $rc in
	0 | 3) [ "$rc" = "$want" ] || die "verify exited $rc, expected $want" ;;
	*) die "verify failed (exit $rc)" ;;
	esac
	note "exit $rc: $([ "$rc" = 0 ] && echo GO || echo NO-GO)"
	echo "report: $WORK/report.html (also $WORK/report.json, $WORK/report.md)"
}

step_verify() {
	section "Verify: DynamoDB against PostgreSQL, expect GO"
	verify_once 0
	section "The markdown summary ($WORK/report.md)"
	cat "$WORK/report.md"

	local victim
	victim=$(sql_value "SELECT min(id) FROM orders")
	section "Damage one row in PostgreSQL, then verify again: expect NO-GO pointing at it"
	run psql_demo -c "UPDATE orders SET total = total + 1 WHERE id = '$victim'"
	verify_once 3
	echo "the report's samples (from $WORK/report.json):"
	python3 - "$WORK/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"  verdict {r['verdict']}, divergent rows {r['divergent_rows']}")
for s in r.get("samples") or []:
    print(f"  {s['class']}: table {s['table']}, key {s['key']}, column {s.get('column')}: "
          f"dynamodb {s.get('dynamodb_value')!r}, postgres {s.get('postgres_value')!r}")
PY
	grep -q "$victim" "$WORK/report.json" || die "the NO-GO report does not name $victim"
	if [ -z "${DEMO_DIR:-}" ] && [ "${DEMO_KEEP:-0}" != 1 ]; then
		note "(the reports are in a temp dir removed at exit: DEMO_KEEP=1 or DEMO_DIR=DIR keeps them)"
	fi
}

# ---- main --------------------------------------------------------------------

for step in $DEMO_STEPS; do
	declare -F "step_$step" >/dev/null || die "unknown step $step (steps: $DEMO_ALL_STEPS)"
done
for step in $DEMO_STEPS; do
	"step_$step"
done
section "Demo finished in ${SECONDS}s"
