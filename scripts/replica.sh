#!/usr/bin/env bash
# A streaming replica of the local PostgreSQL cluster, for the read-replica tests and for trying
# READ_DATABASE_URL by hand. Disposable: `stop` deletes it, `start` always builds a fresh one.
#
#   scripts/replica.sh start    base backup of the primary, then a hot standby on 127.0.0.1:5433
#   scripts/replica.sh status   running and in recovery? (exit 0) or not (exit 3)
#   scripts/replica.sh stop     stop it and delete its directory
#
# Environment (all optional):
#   SHELFMARK_REPLICA_DIR           data directory (default: var/replica in this repository)
#   SHELFMARK_REPLICA_PORT          port of the replica (default 5433), on 127.0.0.1 only
#   SHELFMARK_REPLICA_PRIMARY_HOST  primary host (default 127.0.0.1)
#   SHELFMARK_REPLICA_PRIMARY_PORT  primary port (default 5432)
#   SHELFMARK_REPLICA_PRIMARY_USER  superuser for the base backup (default postgres)
#   SHELFMARK_REPLICA_OS_USER       OS user that owns and runs the replica when run as root
#                                   (default postgres; PostgreSQL refuses to run as root)
#   SHELFMARK_REPLICA_PG_BIN        PostgreSQL binaries (default: those of the primary's major
#                                   version, /usr/lib/postgresql/<major>/bin, else pg_config's)
#   SHELFMARK_REPLICA_EDIT_HBA      1 (default): if the primary refuses replication connections
#                                   from 127.0.0.1 and its pg_hba.conf is a local file we may
#                                   write, append one trust line for replication and reload (not
#                                   restart) the primary. 0: fail with the line to add instead.
#
# A replication slot (shelfmark_replica_<port>) keeps the primary's WAL from the base backup
# until the replica streams and has caught up; then it is dropped, so a replica that is never
# stopped holds nothing back on the primary (a failed start drops it too, and so do `stop` and
# the next `start`). The price: a replica stopped for long could not catch up, so `start` always
# takes a fresh base backup.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${SHELFMARK_REPLICA_DIR:-$ROOT/var/replica}"
PORT="${SHELFMARK_REPLICA_PORT:-5433}"
PRIMARY_HOST="${SHELFMARK_REPLICA_PRIMARY_HOST:-127.0.0.1}"
PRIMARY_PORT="${SHELFMARK_REPLICA_PRIMARY_PORT:-5432}"
PRIMARY_USER="${SHELFMARK_REPLICA_PRIMARY_USER:-postgres}"
OS_USER="${SHELFMARK_REPLICA_OS_USER:-postgres}"
EDIT_HBA="${SHELFMARK_REPLICA_EDIT_HBA:-1}"
MARKER="shelfmark-replica.marker"
SLOT="shelfmark_replica_$PORT"
READY_SECONDS=60
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-10}"

say() { echo "replica: $*"; }
die() {
    echo "replica: error: $*" >&2
    exit 1
}

# Runs a command as the OS user that owns the replica (when we are root), else as ourselves.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$OS_USER" -- "$@"
    else
        "$@"
    fi
}

pg_bin() {
    if [ -n "${SHELFMARK_REPLICA_PG_BIN:-}" ]; then
        echo "$SHELFMARK_REPLICA_PG_BIN"
        return
    fi
    local version major
    if [ -f "$DIR/PG_VERSION" ]; then
        major="$(cat "$DIR/PG_VERSION")" # stop and status work without the primary
    else
        version="$(primary_sql "SHOW server_version_num" 2>/dev/null)" \
            || die "cannot reach the primary at $PRIMARY_HOST:$PRIMARY_PORT as $PRIMARY_USER"
        major=$((version / 10000))
    fi
    if [ -x "/usr/lib/postgresql/$major/bin/pg_ctl" ]; then
        echo "/usr/lib/postgresql/$major/bin"
    elif command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/pg_ctl" ]; then
        echo "$(pg_config --bindir)"
    else
        die "no PostgreSQL $major binaries found; set SHELFMARK_REPLICA_PG_BIN"
    fi
}

psql_bin() {
    if [ -n "${SHELFMARK_REPLICA_PG_BIN:-}" ]; then
        echo "$SHELFMARK_REPLICA_PG_BIN/psql"
    else
        command -v psql || die "psql is not installed"
    fi
}

primary_sql() {
    "$(psql_bin)" -X -q -A -t -v ON_ERROR_STOP=1 \
        -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$PRIMARY_USER" -d postgres -c "$1"
}

replica_sql() {
    "$(psql_bin)" -X -q -A -t -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$PORT" -U "$PRIMARY_USER" -d postgres -c "$1"
}

running() {
    [ -f "$DIR/PG_VERSION" ] && as_owner "$BIN/pg_ctl" status -D "$DIR" >/dev/null 2>&1
}

# Deletes the directory, but only if it is ours (empty, or marked by an earlier `start`).
remove_dir() {
    [ -e "$DIR" ] || return 0
    if [ -n "$(ls -A "$DIR" 2>/dev/null)" ] && [ ! -f "$DIR/$MARKER" ]; then
        die "$DIR is not empty and was not made by this script; not touching it"
    fi
    rm -rf -- "$DIR"
}

# Replication connections from 127.0.0.1 need their own pg_hba.conf line ("all" does not cover
# them). Adds one, trust, for this user only, if allowed and possible; then reloads.
ensure_replication_allowed() {
    local probe="host=$PRIMARY_HOST port=$PRIMARY_PORT user=$PRIMARY_USER replication=true"
    local error
    if error="$("$(psql_bin)" -X -q -A -t -d "$probe" -c "IDENTIFY_SYSTEM" 2>&1 >/dev/null)"; then
        return 0
    fi
    case "$error" in
        *pg_hba.conf*) ;;
        *) die "the primary refuses a replication connection: $error" ;;
    esac
    local line="host replication $PRIMARY_USER 127.0.0.1/32 trust"
    local hba
    hba="$(primary_sql "SHOW hba_file")"
    if [ "$EDIT_HBA" != 1 ] || [ "$PRIMARY_HOST" != 127.0.0.1 ] || [ ! -w "$hba" ]; then
        die "the primary refuses replication connections from 127.0.0.1 ($error).
  Add this line to $hba and reload PostgreSQL (SELECT pg_reload_conf()):
    $line"
    fi
    say "allowing replication from 127.0.0.1 on the primary: appending to $hba and reloading:"
    say "  $line"
    printf '%s\n' "# Added by shelfmark scripts/replica.sh: a local streaming replica for tests." \
        "$line" >>"$hba"
    primary_sql "SELECT pg_reload_conf()" >/dev/null
    for _ in $(seq 1 50); do
        "$(psql_bin)" -X -q -A -t -d "$probe" -c "IDENTIFY_SYSTEM" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "the primary still refuses replication connections after the reload; see $hba"
}

# Hot standby refuses to start if these are lower than on the primary.
primary_limits() {
    primary_sql "SELECT string_agg(name || ' = ' || setting, E'\n' ORDER BY name)
                 FROM pg_settings WHERE name IN ('max_connections', 'max_worker_processes',
                 'max_wal_senders', 'max_prepared_transactions', 'max_locks_per_transaction')"
}

write_config() {
    local limits
    limits="$(primary_limits)"
    # The base backup copies the data directory only; Debian keeps the configuration elsewhere.
    as_owner tee "$DIR/postgresql.conf" >/dev/null <<EOF
# Written by shelfmark scripts/replica.sh
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
hot_standby = on
logging_collector = off
$limits
EOF
    as_owner tee "$DIR/pg_hba.conf" >/dev/null <<EOF
host all all 127.0.0.1/32 trust
EOF
    as_owner touch "$DIR/pg_ident.conf" "$DIR/$MARKER"
}

# Drops our slot on the primary unless a server streams through it.
drop_slot() {
    primary_sql "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                 WHERE slot_name = '$SLOT' AND NOT active" >/dev/null
}

# Once the replica has received everything the primary had when it started streaming, it needs
# the slot no more.
release_slot() {
    local target received
    target="$(primary_sql "SELECT pg_current_wal_lsn()")"
    for _ in $(seq 1 $((READY_SECONDS * 10))); do
        received="$(replica_sql "SELECT pg_last_wal_receive_lsn() >= '$target'" 2>/dev/null || true)"
        if [ "$received" = t ]; then
            drop_slot
            return 0
        fi
        sleep 0.1
    done
    die "the replica did not receive the primary's WAL up to $target within ${READY_SECONDS}s"
}

# A start that fails leaves no server running and no slot (the directory stays, for its log).
abandon_start() {
    if [ "${STARTING:-0}" = 1 ]; then
        if running; then
            as_owner "$BIN/pg_ctl" stop -D "$DIR" -m immediate -w >/dev/null 2>&1 || true
        fi
        drop_slot 2>/dev/null || true
    fi
}

wait_until_ready() {
    local state=""
    for _ in $(seq 1 $((READY_SECONDS * 10))); do
        state="$(replica_sql "SELECT pg_is_in_recovery() || ',' || coalesce(
                   (SELECT status FROM pg_stat_wal_receiver), 'none')" 2>/dev/null || true)"
        if [ "$state" = "true,streaming" ]; then
            return 0
        fi
        sleep 0.1
    done
    echo "--- last lines of $DIR/replica.log" >&2
    as_owner tail -n 30 "$DIR/replica.log" >&2 || true
    die "the replica did not come up streaming in recovery within ${READY_SECONDS}s" \
        "(last state: ${state:-no answer})"
}

start() {
    if running; then
        if [ "$(replica_sql "SELECT pg_is_in_recovery()" 2>/dev/null)" = t ]; then
            say "already running on 127.0.0.1:$PORT ($DIR)"
            return 0
        fi
        die "a server runs from $DIR but is not in recovery on port $PORT; run: $0 stop"
    fi
    if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" >/dev/null 2>&1; then
        die "something else already listens on 127.0.0.1:$PORT; set SHELFMARK_REPLICA_PORT"
    fi
    id -u "$OS_USER" >/dev/null 2>&1 || die "no OS user $OS_USER; set SHELFMARK_REPLICA_OS_USER"
    ensure_replication_allowed
    remove_dir # a stopped leftover may be too far behind to catch up: always start afresh
    if [ "$(primary_sql "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = t ]
    then
        die "replication slot $SLOT on the primary is in use by another server"
    fi
    drop_slot # a leftover of a start that was killed
    STARTING=1
    trap abandon_start EXIT
    mkdir -p -- "$DIR"
    if [ "$(id -u)" = 0 ]; then
        chown "$OS_USER": "$DIR"
    fi
    chmod 700 "$DIR"
    if ! as_owner test -w "$DIR"; then
        rm -rf -- "$DIR"
        die "$OS_USER cannot write $DIR (a parent directory is closed to it?);" \
            "set SHELFMARK_REPLICA_DIR to a directory it can reach"
    fi
    say "base backup of $PRIMARY_HOST:$PRIMARY_PORT into $DIR"
    # --no-sync: a disposable copy needs no fsync; -C -S: the slot that bridges the gap.
    if ! as_owner "$BIN/pg_basebackup" -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$PRIMARY_USER" \
        -D "$DIR" -R -X stream -C -S "$SLOT" -c fast --no-sync --no-password; then
        as_owner touch "$DIR/$MARKER" 2>/dev/null || true # so that the next start may clear it
        die "pg_basebackup failed (see above)"
    fi
    # The slot only bridges the gap until the replica streams: it connects without it.
    as_owner sed -i "/^primary_slot_name/d" "$DIR/postgresql.auto.conf"
    write_config
    # Command-line settings win over a postgresql.auto.conf copied from the primary.
    if ! as_owner "$BIN/pg_ctl" start -D "$DIR" -l "$DIR/replica.log" -w -t "$READY_SECONDS" \
        -o "-c port=$PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" \
        >/dev/null 9>&-; then # the server must not inherit (and hold) our lock
        echo "--- last lines of $DIR/replica.log" >&2
        as_owner tail -n 30 "$DIR/replica.log" >&2 || true
        die "pg_ctl could not start the replica"
    fi
    wait_until_ready
    release_slot
    STARTING=0
    say "started on 127.0.0.1:$PORT, streaming from $PRIMARY_HOST:$PRIMARY_PORT, in recovery"
}

stop() {
    if running; then
        as_owner "$BIN/pg_ctl" stop -D "$DIR" -m fast -w >/dev/null || die "pg_ctl stop failed"
        say "stopped"
    else
        say "not running"
    fi
    if ! drop_slot 2>/dev/null; then
        echo "replica: warning: could not check the primary for slot $SLOT" >&2
    fi
    remove_dir
}

status() {
    if ! running; then
        say "not running ($DIR)"
        return 3
    fi
    local state
    state="$(replica_sql "SELECT 'in recovery: ' || pg_is_in_recovery()
               || ', replay paused: ' || pg_is_wal_replay_paused()
               || ', replayed up to ' || coalesce(pg_last_wal_replay_lsn()::text, '-')
               || ', last replay ' || coalesce(round(extract(epoch FROM
                    now() - pg_last_xact_replay_timestamp()) * 1000)::text || ' ms ago', 'never')
               || ', receiver: ' || coalesce((SELECT status FROM pg_stat_wal_receiver), 'none')" \
        2>&1)" || die "running but not answering: $state"
    say "running on 127.0.0.1:$PORT ($DIR); $state"
}

command="${1:-}"
case "$command" in
    start | stop | status) ;;
    *)
        echo "usage: $0 start|stop|status" >&2
        exit 2
        ;;
esac
BIN="$(pg_bin)"
mkdir -p -- "$(dirname "$DIR")"
if [ "$command" != status ]; then
    # One start or stop at a time (two test sessions may share the machine).
    exec 9>"$(dirname "$DIR")/.$(basename "$DIR").lock"
    flock -w 300 9 || die "another scripts/replica.sh start or stop still runs after 300s"
fi
"$command"
