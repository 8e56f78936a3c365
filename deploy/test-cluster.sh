#!/usr/bin/env bash
# make test-cluster: start a cluster of its own (var/cluster-test, ports from 18100, database
# shelfmark_cluster_test, Redis database 12, so a developer's `make cluster-up` is left alone),
# run the end-to-end HTTP suite through its nginx, then the drills: a rolling restart and a
# SIGKILL of one API process, each under load, and a few seconds without PgBouncer. The
# cluster is stopped however it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
export SHELFMARK_CLUSTER_DIR=${SHELFMARK_CLUSTER_DIR:-var/cluster-test}
export SHELFMARK_CLUSTER_PORT_BASE=${SHELFMARK_CLUSTER_PORT_BASE:-18100}
export SHELFMARK_CLUSTER_DB=${SHELFMARK_CLUSTER_DB:-shelfmark_cluster_test}
export SHELFMARK_CLUSTER_PREFIX=${SHELFMARK_CLUSTER_PREFIX:-shelfmark-cluster-test}
export SHELFMARK_CLUSTER_REDIS_URL=${SHELFMARK_CLUSTER_REDIS_URL:-redis://127.0.0.1:6379/12}

trap 'bash deploy/cluster.sh down' EXIT
bash deploy/cluster.sh up
set -a
# shellcheck disable=SC1091
. "$SHELFMARK_CLUSTER_DIR/env"
set +a
export SHELFMARK_E2E_DATABASE_URL=$SHELFMARK_CLUSTER_DIRECT_URL
export SHELFMARK_E2E_REDIS_URL=$SHELFMARK_CLUSTER_REDIS_URL
PYTEST=(.venv/bin/python -m pytest -p no:cacheprovider)

echo "== the end-to-end suite through nginx at $SHELFMARK_E2E_URL"
"${PYTEST[@]}" -q -rs tests/e2e
echo "== the drills (figures below)"
"${PYTEST[@]}" -q -s tests/cluster/drill_rolling_restart.py tests/cluster/drill_sigkill.py \
  tests/cluster/drill_database_outage.py
echo "test-cluster: $((SECONDS - started)) s"
