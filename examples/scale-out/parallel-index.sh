#!/usr/bin/env bash
# Indexes a collection in parts with GNU parallel, then merges the parts into one index: on every
# core of this machine, or with -S on other hosts too (parallel's --sshlogin). docs/scale-out.md.
#
#   parallel-index.sh [-S sshlogins] [-j jobs] COLLECTION INDEX [PARTS]
#
#   parallel-index.sh ~/Pictures ~/Pictures/index                 # one part per core, here
#   parallel-index.sh -S :,4/alpha,4/beta /srv/photos /srv/index 12  # here and on two hosts
#
# PARTS (default: the cores here) go to INDEX.parts/part-1 ... and are kept: run it again and each
# part decodes only its new and changed files, then they are merged again. -j: parts at once on
# each host (parallel's default: one per core). With -S, COLLECTION and INDEX must be in a folder
# every host sees at the same path (NFS, ...), and tsmosaic on each host's PATH (or TSMOSAIC=the
# path of bin/tsmosaic.js there).
set -euo pipefail

usage() {
  echo "usage: $0 [-S sshlogins] [-j jobs] COLLECTION INDEX [PARTS]" >&2
  exit 2
}
sshlogins=''
jobs=''
while getopts 'S:j:' flag; do
  case $flag in
    S) sshlogins=$OPTARG ;;
    j) jobs=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] && [ $# -le 3 ] || usage

tsmosaic=${TSMOSAIC:-tsmosaic}
# Absolute paths: jobs on other hosts start in the home folder.
collection=$(realpath -e -- "$1")
index=$(realpath -m -- "$2")
parts=${3:-$(parallel --number-of-cores)}
work=$index.parts
mkdir -p -- "$work"

# Job n is part n: tsmosaic reads n from PARALLEL_SEQ (--shard auto/PARTS); {#} is the same n.
# The parts' paths (stdout) are left out; their warnings and notes show on stderr.
parallel --halt now,fail=1 --quote ${jobs:+--jobs "$jobs"} ${sshlogins:+--sshlogin "$sshlogins"} \
  "$tsmosaic" process-collection "$collection" --shard "auto/$parts" --out "$work/part-{#}" ::: $(seq "$parts") >/dev/null

inputs=()
for ((part = 1; part <= parts; part++)); do inputs+=("$work/part-$part"); done
"$tsmosaic" merge --out "$index" "${inputs[@]}"
