#!/bin/bash
# Submits a dealersim sweep as a Slurm array job of SHARDS tasks, and its merge as a job
# that starts only when every task succeeded.
#
#   assets/slurm/submit.sh SWEEP.ron OUT_DIR RESULT_DIR SHARDS [sbatch options...]
#
# Options after SHARDS (--partition, --account, --time, ...) go to both sbatch calls.
# DEALERSIM (the binary) is passed on to the jobs when set.
set -euo pipefail

if [ "$#" -lt 4 ]; then
    echo "usage: $0 SWEEP.ron OUT_DIR RESULT_DIR SHARDS [sbatch options...]" >&2
    exit 64
fi
sweep=$1 out=$2 result=$3 shards=$4
shift 4
case "$shards" in
    '' | *[!0-9]* | 0) echo "SHARDS must be a whole number ≥ 1, got '$shards'" >&2; exit 64 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
# SHARDS fixes each task's shard to its ID, so that a task resubmitted alone
# (sbatch --array=5 ... sweep.sbatch with the same exports) keeps its cells.
exports="ALL,SWEEP=$sweep,OUT=$out,RESULT=$result,SHARDS=$shards${DEALERSIM:+,DEALERSIM=$DEALERSIM}"

# --parsable prints "jobid" or "jobid;cluster".
array=$(sbatch --parsable --array="0-$((shards - 1))" --export="$exports" "$@" "$here/sweep.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" --export="$exports" "$@" "$here/merge.sbatch")
merge=${merge%%;*}
echo "submitted array job $array ($shards shards) and merge job $merge after it"
