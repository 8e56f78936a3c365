#!/usr/bin/env bash
# Scaled mode on one machine, from Debian packages and the services already running:
#   PgBouncer (transaction pooling) -> the local PostgreSQL, etcd, N API processes behind nginx,
#   and the workers (relay, consumers + mail, scheduler), all on loopback.
#
#   deploy/cluster.sh up            install what is missing, start everything, wait, print where
#   deploy/cluster.sh down          stop exactly what `up` started (by the pid files)
#   deploy/cluster.sh restart-api   rolling restart of the API processes, one at a time, drained
#   deploy/cluster.sh kill-api I    SIGKILL API process I (its supervisor starts it again)
#   deploy/cluster.sh status        what runs, by pid file
#   deploy/cluster.sh install       only install the missing Debian packages (quietly)
#
# Everything lives in var/cluster/ (SHELFMARK_CLUSTER_DIR): run/ (pid files), log/, one data
# directory per part, and env (the settings every shelfmark process of the cluster gets).
# Ports are SHELFMARK_CLUSTER_PORT_BASE (18000) plus a fixed offset; see docs/deployment.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DIR=$(mkdir -p "${SHELFMARK_CLUSTER_DIR:-var/cluster}" && cd "${SHELFMARK_CLUSTER_DIR:-var/cluster}" && pwd)
RUN=$DIR/run
LOG=$DIR/log
BIN=$ROOT/.venv/bin
TOOL="$BIN/python $ROOT/deploy/cluster_tool.py"

BASE=${SHELFMARK_CLUSTER_PORT_BASE:-18000}
FAIL_TIMEOUT=2  # nginx's fail_timeout for an API process
HTTP_PORT=$((BASE + 0))
PGBOUNCER_PORT=$((BASE + 10))
ETCD_PORT=$((BASE + 20))
ETCD_PEER_PORT=$((BASE + 21))
API_PORT0=$((BASE + 30))  # API process i listens on API_PORT0 + i
METRICS_PORT0=$((BASE + 50))
API_PROCESSES=${SHELFMARK_API_PROCESSES:-2}
PG_HOST=${SHELFMARK_CLUSTER_PG_HOST:-127.0.0.1}
PG_PORT=${SHELFMARK_CLUSTER_PG_PORT:-5432}
PG_USER=${SHELFMARK_CLUSTER_PG_USER:-postgres}
DB=${SHELFMARK_CLUSTER_DB:-shelfmark_cluster}
DB_POOL_SIZE=${SHELFMARK_CLUSTER_DB_POOL_SIZE:-5}      # per API process, + as many overflow
SERVER_POOL=${SHELFMARK_CLUSTER_PG_SERVER_POOL:-20}   # PgBouncer -> PostgreSQL connections
REDIS_URL=${SHELFMARK_CLUSTER_REDIS_URL:-redis://127.0.0.1:6379/11}
BROKER_URL=${SHELFMARK_CLUSTER_BROKER_URL:-amqp://guest:guest@127.0.0.1:5672/}
PREFIX=${SHELFMARK_CLUSTER_PREFIX:-shelfmark-cluster}
WORKERS="relay consume scheduler"

say() { echo "cluster: $*"; }

install_missing() {
  local missing=()
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
  command -v etcd >/dev/null || missing+=(etcd-server)
  command -v etcdctl >/dev/null || missing+=(etcd-client)
  [ ${#missing[@]} -eq 0 ] && return
  say "installing ${missing[*]} with apt-get"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d 101: the packages must not start their system-wide services.
  local policy=/usr/sbin/policy-rc.d added=""
  if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee $policy >/dev/null && $sudo chmod +x $policy
    added=1
  fi
  $sudo apt-get install -y -qq "${missing[@]}" >"$LOG/apt-get.log" 2>&1 || {
    $sudo apt-get update -qq >>"$LOG/apt-get.log" 2>&1
    $sudo apt-get install -y -qq "${missing[@]}" >>"$LOG/apt-get.log" 2>&1
  } || { cat "$LOG/apt-get.log" >&2; exit 1; }
  [ -z "$added" ] || $sudo rm -f $policy
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

write_env() {
  [ -f "$DIR/jwt.secret" ] || { "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(48))' >"$DIR/jwt.secret"; chmod 600 "$DIR/jwt.secret"; }
  cat >"$DIR/env" <<EOF
# Written by deploy/cluster.sh up: the settings of every shelfmark process in the cluster.
export SHELFMARK_JWT_SECRET='$(cat "$DIR/jwt.secret")'
export DATABASE_URL='postgresql+asyncpg://$PG_USER@127.0.0.1:$PGBOUNCER_PORT/$DB'
export SHELFMARK_DB_PGBOUNCER=true
export SHELFMARK_DB_POOL_SIZE=$DB_POOL_SIZE
export SHELFMARK_BROKER_URL='$BROKER_URL'
export SHELFMARK_BROKER_PREFIX='$PREFIX'
export SHELFMARK_CACHE_URL='$REDIS_URL'
export SHELFMARK_CACHE_PREFIX='$PREFIX'
export SHELFMARK_RATE_LIMIT_STORAGE='async+${REDIS_URL}'
export SHELFMARK_REQUEST_LIMIT_PER_CLIENT='${SHELFMARK_CLUSTER_REQUEST_LIMIT:-1000000/minute}'
export SHELFMARK_EMBEDDED_WORKERS=false
# Longer than nginx's upstream keepalive_timeout (2 s): see restart_api.
export SHELFMARK_DRAIN_SECONDS=3
export SHELFMARK_SCHEDULER_ENABLED=false
export SHELFMARK_VAR_DIR='$DIR/data'
export SHELFMARK_LOG_JSON=true
export ETCD_ENDPOINTS='http://127.0.0.1:$ETCD_PORT'
export SHELFMARK_ETCD_PREFIX='/shelfmark/$PREFIX/'
# Straight to PostgreSQL, for the workers (LISTEN needs a session) and the tests.
export SHELFMARK_CLUSTER_DIRECT_URL='postgresql+asyncpg://$PG_USER@$PG_HOST:$PG_PORT/$DB'
export SHELFMARK_CLUSTER_REDIS_URL='$REDIS_URL'
export SHELFMARK_CLUSTER_ETCD_PORT=$ETCD_PORT
export SHELFMARK_CLUSTER_API_PROCESSES=$API_PROCESSES
export SHELFMARK_CLUSTER_API_PORT0=$API_PORT0
export SHELFMARK_CLUSTER_RUN_DIR='$RUN'
export SHELFMARK_E2E_URL='http://127.0.0.1:$HTTP_PORT'
EOF
}

start_pgbouncer() {
  alive "$RUN/pgbouncer.pid" && return
  local conf=$DIR/pgbouncer as_user=()
  if [ "$(id -u)" -eq 0 ]; then
    # PgBouncer refuses to run as root, and the postgres user it runs as instead may not enter
    # the checkout (a clone under a private temporary directory): its files live outside it,
    # linked from run/ and log/.
    conf=/tmp/shelfmark-pgbouncer-$(printf %s "$DIR" | md5sum | cut -c1-12)
    as_user=(-u postgres)
  fi
  mkdir -p "$conf"
  echo "\"$PG_USER\" \"\"" >"$conf/userlist.txt"
  cat >"$conf/pgbouncer.ini" <<EOF
[databases]
$DB = host=$PG_HOST port=$PG_PORT dbname=$DB user=$PG_USER

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $conf/userlist.txt
admin_users = $PG_USER
pool_mode = transaction
default_pool_size = $SERVER_POOL
reserve_pool_size = 5
max_db_connections = $((SERVER_POOL + 5))
max_client_conn = $((API_PROCESSES * DB_POOL_SIZE * 2 + 100))
server_lifetime = 3600
ignore_startup_parameters = extra_float_digits
logfile = $conf/pgbouncer.log
pidfile = $conf/pgbouncer.pid
EOF
  touch "$conf/pgbouncer.log"
  [ ${#as_user[@]} -eq 0 ] || chown -R postgres "$conf"
  ln -sfn "$conf/pgbouncer.pid" "$RUN/pgbouncer.pid"
  ln -sfn "$conf/pgbouncer.log" "$LOG/pgbouncer.log"
  /usr/sbin/pgbouncer -d "${as_user[@]}" "$conf/pgbouncer.ini"
}

start_etcd() {
  alive "$RUN/etcd.pid" && return
  mkdir -p "$DIR/etcd"
  setsid etcd --name "$PREFIX" --data-dir "$DIR/etcd/data" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "$PREFIX=http://127.0.0.1:$ETCD_PEER_PORT" \
    >>"$LOG/etcd.log" 2>&1 </dev/null &
  echo $! >"$RUN/etcd.pid"
}

# supervised NAME COMMAND...: the command under deploy/supervise.sh, environment from env.
supervised() {
  local name=$1
  shift
  alive "$RUN/$name.supervisor.pid" && return
  (
    # shellcheck disable=SC1091
    . "$DIR/env"
    setsid bash "$ROOT/deploy/supervise.sh" "$name" "$RUN" -- "$@" >>"$LOG/$name.log" 2>&1 </dev/null &
    echo $! >"$RUN/$name.supervisor.pid"
  )
}

start_api() {
  local i=$1
  # Each is one process behind nginx: SHELFMARK_API_PROCESSES counts them here, and would
  # otherwise make each `serve` a supervisor of that many.
  supervised "api-$i" env SHELFMARK_API_PROCESSES=1 \
    "$BIN/shelfmark" serve --host 127.0.0.1 --port $((API_PORT0 + i))
}

start_workers() {
  local n=1 role
  for role in $WORKERS; do
    supervised_worker "$role" $((METRICS_PORT0 + n))
    n=$((n + 1))
  done
}

supervised_worker() {
  local role=$1 port=$2
  alive "$RUN/worker-$role.supervisor.pid" && return
  (
    # shellcheck disable=SC1091
    . "$DIR/env"
    # Straight to PostgreSQL (LISTEN needs a session), unpinged: a worker retries what failed.
    export DATABASE_URL=$SHELFMARK_CLUSTER_DIRECT_URL SHELFMARK_DB_PGBOUNCER=false
    export SHELFMARK_DB_PRE_PING=false
    export SHELFMARK_WORKER_METRICS_PORT=$port
    if [ "$role" = consume ]; then
      # Four consumers, each with PREFETCH messages at once, each message holding up to two
      # connections: keep 4 x PREFETCH x 2 within the pool (+ overflow), or they starve it.
      export SHELFMARK_DB_POOL_SIZE=${SHELFMARK_CLUSTER_CONSUMER_POOL_SIZE:-10}
      export SHELFMARK_CONSUMER_PREFETCH=${SHELFMARK_CLUSTER_CONSUMER_PREFETCH:-2}
    fi
    setsid bash "$ROOT/deploy/supervise.sh" "worker-$role" "$RUN" -- \
      "$BIN/shelfmark" worker "$role" >>"$LOG/worker-$role.log" 2>&1 </dev/null &
    echo $! >"$RUN/worker-$role.supervisor.pid"
  )
}

# The API processes nginx balances over. A process that refuses a connection (stopped,
# restarting) is skipped for FAIL_TIMEOUT seconds; the request goes to the next one.
write_upstreams() {
  local i
  for i in $(seq 1 "$API_PROCESSES"); do
    echo "server 127.0.0.1:$((API_PORT0 + i)) max_fails=1 fail_timeout=${FAIL_TIMEOUT}s;"
  done >"$DIR/nginx/upstreams.conf"
}

start_nginx() {
  alive "$RUN/nginx.pid" && return
  local conf=$DIR/nginx
  mkdir -p "$conf/tmp"
  chmod 1777 "$conf/tmp"
  write_upstreams
  sed -e "s|@LOG@|$LOG|g" -e "s|@RUN@|$RUN|g" -e "s|@CONF@|$conf|g" \
    -e "s|@HTTP_PORT@|$HTTP_PORT|g" "$ROOT/deploy/nginx.conf.in" >"$conf/nginx.conf"
  setsid nginx -p "$conf" -c "$conf/nginx.conf" >>"$LOG/nginx.log" 2>&1 </dev/null &
}

up() {
  mkdir -p "$RUN" "$LOG" "$DIR/data"
  install_missing
  [ -x "$BIN/shelfmark" ] || make -s .venv/.installed
  write_env
  # shellcheck disable=SC1091
  . "$DIR/env"
  $TOOL create-db "postgresql://$PG_USER@$PG_HOST:$PG_PORT/postgres" "$DB"
  start_pgbouncer
  start_etcd
  $TOOL wait-pg "postgresql://$PG_USER@127.0.0.1:$PGBOUNCER_PORT/$DB" --timeout 30
  $TOOL wait-http "http://127.0.0.1:$ETCD_PORT/health" --timeout 30
  say "migrating $DB"
  DATABASE_URL=$SHELFMARK_CLUSTER_DIRECT_URL SHELFMARK_DB_PGBOUNCER=false \
    "$BIN/shelfmark" migrate >>"$LOG/migrate.log" 2>&1 || { cat "$LOG/migrate.log" >&2; exit 1; }
  for i in $(seq 1 "$API_PROCESSES"); do start_api "$i"; done
  start_workers
  for i in $(seq 1 "$API_PROCESSES"); do
    $TOOL wait-http "http://127.0.0.1:$((API_PORT0 + i))/health/ready" --timeout 90
  done
  local n
  for n in $(seq 1 3); do $TOOL wait-tcp "127.0.0.1:$((METRICS_PORT0 + n))" --timeout 90; done
  start_nginx
  $TOOL wait-http "http://127.0.0.1:$HTTP_PORT/health/ready" --timeout 30
  where
}

where() {
  cat <<EOF
cluster: ready ($API_PROCESSES API processes)
  API (nginx)      http://127.0.0.1:$HTTP_PORT   (/docs, /health/ready, /metrics)
  API processes    $(for i in $(seq 1 "$API_PROCESSES"); do printf 'http://127.0.0.1:%s ' $((API_PORT0 + i)); done)
  PgBouncer        postgresql://$PG_USER@127.0.0.1:$PGBOUNCER_PORT/$DB  (transaction pooling -> $PG_HOST:$PG_PORT)
  etcd             http://127.0.0.1:$ETCD_PORT  (keys under /shelfmark/$PREFIX/)
  workers          relay, consume, scheduler (metrics on :$((METRICS_PORT0 + 1))-$((METRICS_PORT0 + 3)))
  Redis, RabbitMQ  $REDIS_URL, prefix $PREFIX
  settings         $DIR/env     logs $LOG/     pid files $RUN/
  first admin      . $DIR/env && printf '%s\n' PASSWORD | .venv/bin/shelfmark users create admin --role admin --password-stdin
  live setting     ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:$ETCD_PORT put /shelfmark/$PREFIX/policy/categories.regular.loan_period_days 7
EOF
}

# stop PIDFILE [SIGNAL]: signal the process, wait up to 30 s, then SIGKILL it.
stop() {
  local file=$1 signal=${2:-TERM} pid deadline
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -"$signal" "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { say "pid $pid ($file) did not stop; SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; }
  fi
  rm -f "$file"
}

down() {
  [ -d "$RUN" ] || { say "nothing to stop"; return; }
  stop "$RUN/nginx.pid" QUIT
  local file name
  for file in "$RUN"/*.supervisor.pid; do
    [ -f "$file" ] || continue
    name=$(basename "$file" .supervisor.pid)
    stop "$file" TERM
    stop "$RUN/$name.pid" KILL  # only if the supervisor could not stop its child
  done
  stop "$RUN/pgbouncer.pid" TERM
  stop "$RUN/etcd.pid" TERM
  say "stopped"
}

# One API process at a time: SIGTERM makes it drain (SHELFMARK_DRAIN_SECONDS: it refuses new
# connections, so nginx sends new requests to the others, and answers on the connections it
# has with Connection: close), its supervisor starts it again, and the next waits until it is
# ready and nginx sends to it again. nginx is not reloaded: a reload would close its clients' idle kept-alive connections.
restart_api() {
  alive "$RUN/nginx.pid" || { say "the cluster is not running" >&2; exit 1; }
  local i old port deadline
  for i in $(seq 1 "$API_PROCESSES"); do
    port=$((API_PORT0 + i))
    old=$(cat "$RUN/api-$i.pid")
    kill -TERM "$old"
    deadline=$((SECONDS + 90))
    while [ $SECONDS -lt $deadline ]; do
      if ! kill -0 "$old" 2>/dev/null && [ -f "$RUN/api-$i.pid" ] && [ "$(cat "$RUN/api-$i.pid")" != "$old" ]; then
        break
      fi
      sleep 0.1
    done
    $TOOL wait-http "http://127.0.0.1:$port/health/ready" --timeout 90
    # nginx skips it until its fail_timeout has passed: restarting the next one sooner would
    # leave nginx no process to send to ("no live upstreams", a 502).
    sleep $((FAIL_TIMEOUT + 1))
    say "api-$i restarted (pid $old -> $(cat "$RUN/api-$i.pid"))"
  done
}

status() {
  local file
  for file in "$RUN"/*.pid; do
    [ -f "$file" ] || continue
    if kill -0 "$(cat "$file")" 2>/dev/null; then state=running; else state=dead; fi
    printf '%-32s %-8s %s\n' "$(basename "$file")" "$(cat "$file")" "$state"
  done
}

case "${1:-}" in
  up) up ;;
  install) mkdir -p "$LOG" && install_missing ;;
  down) down ;;
  restart-api) restart_api ;;
  kill-api) kill -KILL "$(cat "$RUN/api-${2:?which API process}.pid")" ;;
  status) status ;;
  where) where ;;
  *) sed -n "2,15p" "$0" >&2; exit 2 ;;
esac
