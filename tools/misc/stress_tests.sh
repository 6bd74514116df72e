#!/usr/bin/env bash
# Run the multi-driver, kill, interrupt and Ray tests (pytest -m processes)
# ROUNDS times in a row, and check after each round that nothing it started
# is still running: a training process of the round, a test PostgreSQL
# server, a Ray raylet or GCS server.
#
#   bash tools/misc/stress_tests.sh [ROUNDS] [PYTEST_ARGS...]    # 10 rounds
#   STRESS_LOG_DIR=DIR bash tools/misc/stress_tests.sh 5         # logs in DIR
#   STRESS_TESTS=tests/test_search/test_ray.py bash tools/misc/stress_tests.sh
#
# Each round's pytest output goes to DIR/round-N.log (default
# work_dirs/stress), one summary line per round to the console. Exits 1 if
# any round failed or left a process behind, after running them all. For
# "with both cores busy", start the load yourself beside it; the script
# prints the load average at each round's start and end.
set -uo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${1:-10}
shift || true
PY=${PYTHON:-.venv/bin/python}
LOG_DIR=${STRESS_LOG_DIR:-work_dirs/stress}
TESTS=${STRESS_TESTS:-tests}  # where to collect the marked tests
GRACE=${STRESS_GRACE:-60}     # seconds a round's processes may take to exit
mkdir -p "$LOG_DIR"
LOG_DIR=$(cd "$LOG_DIR" && pwd)

# what a round leaves running: every process that inherited the round's tag
# (its training processes, fork servers, Ray and PostgreSQL servers); and,
# in case one cleared its environment, the servers by name, before and after
tagged() { grep -lsa "STRESS_ROUND=$1" /proc/[0-9]*/environ | wc -l; }
count() { pgrep -f "$1" | wc -l; }
servers() { echo "$(count mmseg_dpc_pg_) $(count raylet) $(count gcs_server)"; }
load() { cut -d' ' -f1 /proc/loadavg; }

failed=0
for round in $(seq 1 "$ROUNDS"); do
    base="$LOG_DIR/round-$round.tmp"
    log="$LOG_DIR/round-$round.log"
    rm -rf "$base"
    before=$(servers)
    load_start=$(load)
    start=$(date +%s)
    STRESS_ROUND="$base" "$PY" -m pytest -q -p no:cacheprovider \
        -m processes --basetemp "$base" "$@" $TESTS >"$log" 2>&1
    rc=$?
    summary=$(tail -n 1 "$log")
    # a process still exiting under load is not one left running: wait up
    # to GRACE seconds, then list in the log what is still there
    for _ in $(seq 1 "$GRACE"); do
        [ "$(tagged "$base")" -eq 0 ] && break
        sleep 1
    done
    left=$(tagged "$base")
    if [ "$left" -ne 0 ]; then
        echo "--- left running after ${GRACE} s:" >>"$log"
        grep -lsa "STRESS_ROUND=$base" /proc/[0-9]*/environ | cut -d/ -f3 |
            xargs -r ps -o pid=,etime=,args= -p >>"$log"
    fi
    after=$(servers)
    status=ok
    if [ "$rc" -ne 0 ] || [ "$left" -ne 0 ] || [ "$after" != "$before" ]; then
        status=FAILED
        failed=1
    fi
    echo "[stress] round $round/$ROUNDS $status: $summary; wall" \
         "$(( $(date +%s) - start )) s; load $load_start -> $(load);" \
         "left running after ${GRACE} s: $left of the round's processes;" \
         "PostgreSQL, raylet, GCS servers: $before before, $after after"
    [ "$status" = ok ] && rm -rf "$base"
done
exit $failed
