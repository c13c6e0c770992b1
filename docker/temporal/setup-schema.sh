#!/bin/sh
# Creates or upgrades Temporal's two PostgreSQL databases (temporal, temporal_visibility); run by the
# one-shot `temporal-schema` service of docker-compose.yml in the temporalio/admin-tools image before
# the server starts. Safe on every start: `create` ignores an existing database, `setup-schema -v 0.0`
# leaves a newer schema version alone, and `update-schema` applies only the missing versions
# (which is also how a Temporal upgrade migrates the schema).
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${POSTGRES_PWD:?}"
DB_PORT="${DB_PORT:-5432}"
export SQL_PASSWORD="$POSTGRES_PWD"

echo "waiting for PostgreSQL at $POSTGRES_SEEDS:$DB_PORT"
tries=0
until nc -z "$POSTGRES_SEEDS" "$DB_PORT"; do
  tries=$((tries + 1))
  [ "$tries" -lt 60 ] || { echo "PostgreSQL did not answer in 60 s" >&2; exit 1; }
  sleep 1
done

sql() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" "$@"; }
for pair in temporal:temporal temporal_visibility:visibility; do
  db="${pair%%:*}"
  schema="${pair##*:}"
  sql --db "$db" create
  sql --db "$db" setup-schema -v 0.0
  sql --db "$db" update-schema -d "/etc/temporal/schema/postgresql/v12/$schema/versioned"
done
echo "Temporal schema ready"
