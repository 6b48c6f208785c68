#!/usr/bin/env bash
# Indexes a collection on a Slurm cluster: a job array of PARTS tasks, one part each, then a merge
# that starts once every task has succeeded (--dependency=afterok). docs/scale-out.md.
#
#   submit.sh COLLECTION INDEX [PARTS]
#
# COLLECTION and INDEX must be on storage every node sees. The parts go to INDEX.parts/part-0 ...
# and are kept: submitted again (also to redo a failed task), each task decodes only its new and
# changed files. tsmosaic must be on the nodes' PATH, or TSMOSAIC the path of bin/tsmosaic.js (the
# jobs get this environment).
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: $0 COLLECTION INDEX [PARTS]" >&2
  exit 2
fi
here=$(dirname -- "$(realpath -- "$0")")
collection=$(realpath -e -- "$1")
index=$(realpath -m -- "$2")
parts=${3:-8}
work=$index.parts
mkdir -p -- "$work"

# One task per part, numbered 0 to PARTS-1: tsmosaic takes its part from the array's variables.
array=$(sbatch --parsable --array="0-$((parts - 1))" "$here/index.sbatch" "$collection" "$work" "$parts")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" "$here/merge.sbatch" "$work" "$parts" "$index")
echo "submitted: index array $array, merge ${merge%%;*} (squeue -u \"\$USER\")"
