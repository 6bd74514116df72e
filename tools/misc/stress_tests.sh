#!/usr/bin/env bash
# Run the multi-driver, kill, interrupt and Ray tests (pytest -m processes)
# ROUNDS times in a row, and check after each round that nothing it started
# is still running: a training process or fork server of the round, a test
# PostgreSQL server, a Ray raylet or GCS server.
#
#   bash tools/misc/stress_tests.sh [ROUNDS] [PYTEST_ARGS...]    # 10 rounds
#
# Environment: STRESS_LOG_DIR (default work_dirs/stress: DIR/round-N.log
# holds each round's pytest output), STRESS_TESTS (where to collect the
# marked tests, default tests; several paths allowed), STRESS_GRACE
# (seconds a round's processes may take to exit, default 60),
# STRESS_PYTHON (default .venv/bin/python). One summary line per round;
# exits 1 if any round failed or left a process behind (after running them
# all), 2 on bad usage, 130 on Ctrl-C. For "with both cores busy", start
# the load yourself beside it; each line shows the load average.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

ROUNDS=${1:-10}
shift || true
PY=${STRESS_PYTHON:-.venv/bin/python}
LOG_DIR=${STRESS_LOG_DIR:-work_dirs/stress}
TESTS=${STRESS_TESTS:-tests}
GRACE=${STRESS_GRACE:-60}
usage="usage: $0 [ROUNDS >= 1] [PYTEST_ARGS...]; STRESS_GRACE >= 0"
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $GRACE =~ ^[0-9]+$ ]] || {
    echo "$usage" >&2; exit 2; }
mkdir -p "$LOG_DIR" && LOG_DIR=$(cd "$LOG_DIR" && pwd) || exit 2
exec 9>"$LOG_DIR/.lock"
flock -n 9 || { echo "another stress run uses $LOG_DIR" >&2; exit 2; }
trap 'echo "[stress] interrupted"; exit 130' INT

# what a round leaves running: every process that inherited the round's tag
# (trials, fork servers, Ray and PostgreSQL servers); and, in case one
# cleared its environment, the servers by name, before and after
tagged_pids() {
    grep -lsaF "STRESS_ROUND=$1" /proc/[0-9]*/environ | cut -d/ -f3
}
tagged() { tagged_pids "$1" | wc -l; }
servers() {
    echo "$(pgrep -f mmseg_dpc_pg_ | wc -l) $(pgrep -x raylet | wc -l)" \
         "$(pgrep -x gcs_server | wc -l)"
}
more_after() {  # true if any count of "$2" is above that of "$1"
    local b=($1) a=($2) i
    for i in 0 1 2; do [ "${a[i]}" -gt "${b[i]}" ] && return 0; done
    return 1
}
load() { cut -d' ' -f1 /proc/loadavg; }

failed=0
for round in $(seq 1 "$ROUNDS"); do
    base="$LOG_DIR/round-$round.tmp"
    log="$LOG_DIR/round-$round.log"
    rm -rf "$base"
    before=$(servers)
    load_start=$(load)
    start=$(date +%s)
    # shellcheck disable=SC2086  # TESTS may hold several paths
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
        tagged_pids "$base" | xargs -r ps -o pid=,etime=,args= -p >>"$log"
    fi
    after=$(servers)
    status=ok
    if [ "$rc" -ne 0 ] || [ "$left" -ne 0 ] || more_after "$before" "$after"
    then
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
