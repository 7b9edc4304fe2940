#!/bin/sh
# Patroni callback (postgresql.callbacks.on_role_change): after this node is promoted or
# demoted, make the PgBouncer in front of it reconnect to PostgreSQL.
#
# Why: PgBouncer 1.18 (Debian 12) caches the first server connection's startup parameters,
# in_hot_standby among them, and hands them to every new client. After a promotion it would
# go on telling clients "in_hot_standby=on", and libpq's target_session_attrs=read-write
# would refuse the new primary ("session is read-only") until PgBouncer reconnects. RELOAD
# is not enough; RECONNECT is (checked on loopback by tests/chain/test_failover.py).
#
# Patroni calls it as: SCRIPT ACTION ROLE SCOPE. PGBOUNCER_PORT (default 6432) and
# PGBOUNCER_HOST (default 127.0.0.1) name the local PgBouncer; its admin_users must hold
# the user Patroni runs as (postgres).
set -u
action="${1:-}"
[ "$action" = "on_role_change" ] || exit 0
PSQL="$(command -v psql || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | tail -n 1)"
exec "$PSQL" -X -q "host=${PGBOUNCER_HOST:-127.0.0.1} port=${PGBOUNCER_PORT:-6432} user=postgres dbname=pgbouncer connect_timeout=3" -c RECONNECT
