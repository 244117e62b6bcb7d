#!/usr/bin/env bash
# The local stack that tests and the demo run against: PostgreSQL 15, MinIO and
# DynamoDB Local, each on a free port on 127.0.0.1, with their data under DIR
# (default: .cache/stack in the repo, which git ignores).
#
#   scripts/stack.sh start [DIR]          start it (or keep the running one), write DIR/env
#   scripts/stack.sh env [DIR]            print DIR/env:  eval "$(scripts/stack.sh env)"
#   scripts/stack.sh status [DIR]         say what runs where; exit 1 if not all is up
#   scripts/stack.sh stop [DIR]           stop everything and remove its data
#   scripts/stack.sh run [DIR] -- CMD...  start a stack (a private one without DIR), run
#                                         CMD with its env, stop it; exit status is CMD's
#
# DIR/env holds export lines (DATABASE_URL, AWS_ENDPOINT_URL_S3,
# AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# DDB2PG_TEST_STACK=1, ...) that internal/teststack picks up to reuse these servers.
#
# PostgreSQL refuses to run as root, so as root it runs as the system user
# ddb2pg (created when missing), with its cluster in a temp dir under /tmp that
# this user can reach. DynamoDB Local has no option to choose its bind address:
# it listens on all interfaces of its port, the others on 127.0.0.1 only.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_USER=ddb2pg
ACCESS_KEY=ddb2pg
SECRET_KEY=ddb2pgsecret
REGION=us-east-1
START_TIMEOUT=${DDB2PG_STACK_TIMEOUT:-120}

log() { echo "stack: $*" >&2; }
die() {
	log "$*"
	exit 1
}
usage() {
	sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# ---- small helpers -------------------------------------------------------

# port_open PORT: is something accepting connections on 127.0.0.1:PORT?
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port: sets PORT to a port nobody listens on. Chosen below Linux's
# ephemeral range (32768+) so outgoing connections do not take it meanwhile;
# a clash that still happens is caught by the start retries.
CHOSEN_PORTS=" "
free_port() {
	local p
	for _ in $(seq 1 500); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
		case "$CHOSEN_PORTS" in *" $p "*) continue ;; esac
		port_open "$p" && continue
		CHOSEN_PORTS="$CHOSEN_PORTS$p "
		PORT=$p
		return 0
	done
	die "found no free port on 127.0.0.1"
}

# http_status PORT PATH: prints the HTTP status code of GET PATH, or fails.
# Plain bash so that the stack needs no curl.
http_status() {
	(
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$2" "$1" >&3
		IFS=' ' read -r -t 5 _ code _ <&3 || exit 1
		[ -n "$code" ] || exit 1
		echo "$code"
	) 2>/dev/null
}

# alive PID PATTERN: PID runs and its command line contains PATTERN (so a
# stale pid file whose pid was reused by another program is not trusted).
alive() {
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"
}

# wait_ready NAME PID TEST...: waits until the command TEST succeeds; fails
# early if PID dies, or after START_TIMEOUT seconds.
wait_ready() {
	local name=$1 pid=$2 deadline=$((SECONDS + START_TIMEOUT))
	shift 2
	until "$@" >/dev/null 2>&1; do
		if ! kill -0 "$pid" 2>/dev/null; then
			log "$name exited before it was ready"
			return 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			log "$name not ready after ${START_TIMEOUT}s"
			return 1
		fi
		sleep 0.2
	done
}

# stop_pid FILE PATTERN SIGNAL: stops the process of pid file FILE with SIGNAL,
# then SIGKILL after 20s; removes FILE.
stop_pid() {
	local file=$1 pattern=$2 sig=$3 pid
	[ -f "$file" ] || return 0
	pid=$(head -n1 "$file")
	if alive "$pid" "$pattern"; then
		kill "-$sig" "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "pid $pid ($pattern) ignored SIG$sig for 20s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$file"
}

show_log() {
	[ -f "$1" ] || return 0
	log "last lines of $1:"
	tail -n 30 "$1" | sed 's/^/    /' >&2
}

# ---- PostgreSQL ---------------------------------------------------------------

as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		# setpriv execs (no extra process in between), so signals and pids are
		# the server's own; cd / because root's cwd may be unreadable for it.
		(cd / && exec setpriv --reuid="$PG_USER" --regid="$PG_USER" --init-groups -- "$@")
	else
		"$@"
	fi
}

ensure_pg_user() {
	[ "$(id -u)" -eq 0 ] || return 0
	id -u "$PG_USER" >/dev/null 2>&1 && return 0
	# A concurrent run may create it first: only the final check counts.
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin "$PG_USER" 2>/dev/null || true
	id -u "$PG_USER" >/dev/null 2>&1 || die "could not create system user $PG_USER for PostgreSQL"
}

start_pg() {
	local pgroot data attempt
	ensure_pg_user
	if [ "$(id -u)" -eq 0 ]; then
		# DIR may lie under a directory the server's user cannot enter (/root).
		pgroot=$(mktemp -d /tmp/ddb2pg-stack-pg.XXXXXX)
		chown "$PG_USER:" "$pgroot"
	else
		pgroot=$DIR/pg
		mkdir -p "$pgroot"
	fi
	echo "$pgroot" >"$DIR/pg.root"
	data=$pgroot/data
	as_pg mkdir -p "$pgroot/sock"
	if ! as_pg "$PGBIN/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C \
		--no-sync --no-instructions >"$DIR/logs/initdb.log" 2>&1; then
		show_log "$DIR/logs/initdb.log"
		die "initdb failed"
	fi
	# Throwaway cluster: durability off for speed, unless STACK_PG_DURABLE=1
	# (benchmarks: a per-transaction baseline must pay its WAL flushes, as it
	# does in production). Set on the command line, these would override
	# ALTER SYSTEM, so they are left out entirely when durable.
	local durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	[ "${STACK_PG_DURABLE:-}" = 1 ] && durability=""
	for attempt in 1 2 3; do
		free_port
		# 200 connections because several test binaries share the server,
		# each with its pools.
		if as_pg "$PGBIN/pg_ctl" -D "$data" -l "$pgroot/postgres.log" -w -t "$START_TIMEOUT" -s \
			-o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$pgroot/sock \
$durability -c max_connections=200" start 8>&-; then
			PG_PORT=$PORT
			head -n1 "$data/postmaster.pid" >"$DIR/postgres.pid"
			return 0
		fi
		show_log "$pgroot/postgres.log"
		log "PostgreSQL did not start on port $PORT (attempt $attempt)"
	done
	die "PostgreSQL did not start"
}

stop_pg() {
	local pgroot
	[ -f "$DIR/pg.root" ] || return 0
	pgroot=$(cat "$DIR/pg.root")
	if [ -f "$pgroot/data/postmaster.pid" ]; then
		head -n1 "$pgroot/data/postmaster.pid" >"$DIR/postgres.pid"
	fi
	# SIGINT is PostgreSQL's fast shutdown: it ends open sessions.
	stop_pid "$DIR/postgres.pid" postgres INT
	case "$pgroot" in
	/tmp/ddb2pg-stack-pg.* | "$DIR/pg") rm -rf "$pgroot" ;;
	esac
	rm -f "$DIR/pg.root"
}

# ---- MinIO and DynamoDB Local ------------------------------------------------
# Each is launched without waiting (launch_NAME), so that they boot while
# PostgreSQL initializes, then awaited (await_NAME). ensure_up relaunches one
# that did not come up on another port.

launch_minio() {
	mkdir -p "$DIR/minio-data"
	free_port
	MINIO_PORT=$PORT
	free_port
	MINIO_ROOT_USER=$ACCESS_KEY MINIO_ROOT_PASSWORD=$SECRET_KEY \
		MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CI_CD=1 \
		setsid "$MINIO_BIN" server "$DIR/minio-data" --quiet \
		--address "127.0.0.1:$MINIO_PORT" --console-address "127.0.0.1:$PORT" \
		</dev/null >"$DIR/logs/minio.log" 2>&1 8>&- &
	echo $! >"$DIR/minio.pid"
}
await_minio() { wait_ready MinIO "$(cat "$DIR/minio.pid")" minio_ready "$MINIO_PORT"; }
minio_ready() { [ "$(http_status "$1" /minio/health/ready)" = 200 ]; }

launch_dynamodb() {
	mkdir -p "$DIR/ddb"
	free_port
	DDB_PORT=$PORT
	# -sharedDb: one database whatever the credentials and region of the
	# client, so tests and the code under test always see the same tables.
	# Its cwd is DIR/ddb because it drops files into the current directory.
	# LoopbackServer (scripts/dynamodb-local) binds it to 127.0.0.1: it has no
	# bind option of its own.
	(cd "$DIR/ddb" && exec setsid java -Djava.library.path="$DDBLOCAL_DIR/DynamoDBLocal_lib" \
		-cp "$DDBLOCAL_DIR/DynamoDBLocal.jar:$DDBLOCAL_DIR/DynamoDBLocal_lib/*:$DDBLOCAL_LAUNCHER" \
		LoopbackServer -inMemory -sharedDb -disableTelemetry -port "$DDB_PORT" \
		</dev/null >"$DIR/logs/dynamodb.log" 2>&1 8>&-) &
	echo $! >"$DIR/dynamodb.pid"
}
# Any HTTP answer (an auth error for a bare GET) means it serves.
await_dynamodb() { wait_ready "DynamoDB Local" "$(cat "$DIR/dynamodb.pid")" http_status "$DDB_PORT" /; }

# ensure_up NAME: waits for the launched server NAME; on failure relaunches it
# (most likely its port was taken meanwhile), twice at most.
ensure_up() {
	local name=$1 pattern attempt
	case "$name" in
	minio) pattern=minio ;;
	dynamodb) pattern=DynamoDBLocal ;;
	esac
	for attempt in 1 2 3; do
		[ "$attempt" = 1 ] || "launch_$name"
		"await_$name" && return 0
		show_log "$DIR/logs/$name.log"
		stop_pid "$DIR/$name.pid" "$pattern" KILL
	done
	die "$name did not start"
}

# ---- the whole stack -------------------------------------------------------------

write_env() {
	cat >"$DIR/env.tmp" <<EOF
# Written by scripts/stack.sh for the stack in $DIR.
export DATABASE_URL='postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable'
export AWS_ENDPOINT_URL_S3='http://127.0.0.1:$MINIO_PORT'
export AWS_ENDPOINT_URL_DYNAMODB='http://127.0.0.1:$DDB_PORT'
export AWS_ENDPOINT_URL_DYNAMODB_STREAMS='http://127.0.0.1:$DDB_PORT'
export AWS_REGION='$REGION'
export AWS_DEFAULT_REGION='$REGION'
export AWS_ACCESS_KEY_ID='$ACCESS_KEY'
export AWS_SECRET_ACCESS_KEY='$SECRET_KEY'
export AWS_EC2_METADATA_DISABLED=true
export DDB2PG_TEST_STACK=1
EOF
	mv "$DIR/env.tmp" "$DIR/env"
}

# env_port VAR: the port in DIR/env's line for VAR.
env_port() {
	sed -n "s|^export $1='[^']*127\.0\.0\.1:\([0-9]*\).*|\1|p" "$DIR/env" 2>/dev/null
}

# running: is the stack of DIR/env up and answering?
running() {
	[ -f "$DIR/env" ] || return 1
	local pg s3 ddb pgroot
	pg=$(env_port DATABASE_URL)
	s3=$(env_port AWS_ENDPOINT_URL_S3)
	ddb=$(env_port AWS_ENDPOINT_URL_DYNAMODB)
	pgroot=$(cat "$DIR/pg.root" 2>/dev/null) || return 1
	alive "$(head -n1 "$pgroot/data/postmaster.pid" 2>/dev/null)" postgres &&
		"$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$pg" &&
		alive "$(cat "$DIR/minio.pid" 2>/dev/null)" minio && minio_ready "$s3" &&
		alive "$(cat "$DIR/dynamodb.pid" 2>/dev/null)" DynamoDBLocal && http_status "$ddb" / >/dev/null
}

resolve_deps() {
	local out
	out=$("$ROOT/scripts/install-deps.sh") || die "scripts/install-deps.sh failed"
	eval "$out"
}

start_all() {
	local t0=$SECONDS
	resolve_deps
	if running; then
		log "already running in $DIR"
		return 0
	fi
	STARTED=1
	stop_all # whatever a crashed or half-started run left behind
	mkdir -p "$DIR/logs"
	# The JVM's start is the slowest part: it and MinIO boot meanwhile.
	launch_dynamodb
	launch_minio
	start_pg
	ensure_up minio
	ensure_up dynamodb
	write_env
	log "PostgreSQL :$PG_PORT, MinIO :$MINIO_PORT, DynamoDB Local :$DDB_PORT up in $((SECONDS - t0))s; env in $DIR/env"
}

stop_all() {
	stop_pid "$DIR/dynamodb.pid" DynamoDBLocal TERM
	stop_pid "$DIR/minio.pid" minio TERM
	stop_pg
	rm -rf "$DIR/minio-data" "$DIR/ddb" "$DIR/logs" "$DIR/pg" "$DIR/env" "$DIR/env.tmp"
}

set_dir() {
	DIR=${1:-$ROOT/.cache/stack}
	mkdir -p "$DIR"
	DIR=$(cd "$DIR" && pwd)
}

# lock_dir SECONDS: one start/stop at a time per DIR; fails after SECONDS.
# The servers are started with fd 8 closed: a daemon holding it would keep the
# lock for its whole life.
lock_dir() {
	exec 8>"$DIR/.lock"
	flock -w "$1" 8
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
start)
	set_dir "${1:-}"
	lock_dir 600 || die "$DIR/.lock still held after 10 minutes by another stack.sh"
	# A start that fails half way stops what it had started.
	STARTED=0
	trap '[ "$STARTED" = 0 ] || { log "start failed; stopping what was started"; stop_all; }' EXIT
	start_all
	trap - EXIT
	;;
stop)
	set_dir "${1:-}"
	# Stopping is idempotent, so a lock that stays held (servers started by an
	# older stack.sh that leaked it) must not keep it from happening.
	lock_dir 30 || log "$DIR/.lock is held by another process; stopping anyway"
	stop_all
	log "stopped; data removed from $DIR"
	;;
env)
	set_dir "${1:-}"
	[ -f "$DIR/env" ] || die "no stack in $DIR: run scripts/stack.sh start${1:+ $1}"
	cat "$DIR/env"
	;;
status)
	set_dir "${1:-}"
	resolve_deps
	if running; then
		log "running in $DIR:"
		grep -E '^export (DATABASE_URL|AWS_ENDPOINT_URL_S3|AWS_ENDPOINT_URL_DYNAMODB)=' "$DIR/env" >&2
	else
		log "not (fully) running in $DIR"
		exit 1
	fi
	;;
run)
	private=0
	if [ $# -gt 0 ] && [ "$1" != "--" ]; then
		set_dir "$1"
		shift
	else
		mkdir -p "$ROOT/.cache"
		set_dir "$(mktemp -d "$ROOT/.cache/stack-run.XXXXXX")"
		private=1
	fi
	[ "${1:-}" = "--" ] && shift
	[ $# -gt 0 ] || usage
	lock_dir 600 || die "$DIR/.lock still held after 10 minutes by another stack.sh"
	# Stop the stack however this ends: normal exit, failure, Ctrl-C, kill.
	# A stack that was already running in DIR is left running.
	STARTED=0
	trap '[ "$STARTED" = 0 ] || stop_all; [ "$private" = 0 ] || rm -rf "$DIR"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	start_all
	set +e
	(
		# shellcheck disable=SC1091
		. "$DIR/env"
		exec "$@"
	)
	rc=$?
	set -e
	exit "$rc"
	;;
*) usage ;;
esac
