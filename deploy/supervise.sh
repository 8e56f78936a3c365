#!/usr/bin/env bash
# supervise.sh NAME RUN_DIR -- COMMAND...
# Runs COMMAND, writes its pid to RUN_DIR/NAME.pid, and starts it again whenever it exits
# (a crash, a SIGKILL, a rolling restart's SIGTERM). SIGTERM or SIGINT to this script stops
# the child (SIGTERM, so uvicorn finishes its requests) and then this script.
set -uo pipefail
name=$1 run=$2
shift 3
child=""
stopping=""
trap 'stopping=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT
while :; do
  "$@" &
  child=$!
  echo "$child" >"$run/$name.pid"
  wait "$child"
  rc=$?
  while kill -0 "$child" 2>/dev/null; do  # `wait` returns early when a trapped signal arrives
    wait "$child"
    rc=$?
  done
  [ -n "$stopping" ] && break
  echo "$(date -Is) supervise: $name (pid $child) exited with $rc; starting it again" >&2
  sleep 0.5
done
rm -f "$run/$name.pid"
