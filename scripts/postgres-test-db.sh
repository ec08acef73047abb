#!/usr/bin/env bash
# Makes sure the local PostgreSQL has the test role and database, then prints their URL:
#
#   export OPENFRAME_TEST_POSTGRES_URL=$(scripts/postgres-test-db.sh)
#
# Idempotent: starts the server only if it is not answering, creates the role `openframe` (LOGIN, password
# `openframe`, CREATEDB) and the database `openframe_test` it owns only if they are missing. Everything but
# the URL goes to standard error. Expects the Debian layout (pg_ctlcluster) and trust or peer-free access for
# user postgres on 127.0.0.1, as on the project's machines.
set -euo pipefail

host=127.0.0.1
port=${PGPORT:-5432}
role=openframe
password=openframe
database=openframe_test

log() { echo "postgres-test-db: $*" >&2; }

if ! pg_isready -q -h "$host" -p "$port"; then
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$version" ]; then
        log "PostgreSQL is not answering on $host:$port and no cluster is installed under /etc/postgresql"
        exit 1
    fi
    log "starting PostgreSQL $version/main"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
    for _ in $(seq 1 30); do
        pg_isready -q -h "$host" -p "$port" && break
        sleep 1
    done
    if ! pg_isready -q -h "$host" -p "$port"; then
        log "PostgreSQL did not start answering on $host:$port"
        exit 1
    fi
fi

admin() { psql -h "$host" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
has_role() { [ "$(admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$role'")" = 1 ]; }
has_database() { [ "$(admin -c "SELECT 1 FROM pg_database WHERE datname = '$database'")" = 1 ]; }

# A second copy of this script running at the same moment may win the race to create: then the object
# exists after all, which is what counts.
if ! has_role; then
    log "creating role $role"
    admin -c "CREATE ROLE $role" >&2 || has_role
fi
# Every time, so that a role left with other attributes converges on what the tests need.
admin -c "ALTER ROLE $role LOGIN PASSWORD '$password' CREATEDB" >&2
if ! has_database; then
    log "creating database $database"
    admin -c "CREATE DATABASE $database OWNER $role" >&2 || has_database
fi

echo "postgres://$role:$password@$host:$port/$database"
