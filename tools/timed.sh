#!/usr/bin/env bash
# timed.sh FILE COMMAND...: run COMMAND, write "SECONDS EXIT_STATUS" to FILE, keep its status.
# course bench reads FILE, so a failed run is never reported as if it had passed.
set -u
file=$1; shift
start=$(date +%s)
"$@"
status=$?
mkdir -p "$(dirname "$file")"
echo "$(( $(date +%s) - start )) $status" > "$file"
exit $status
