#!/usr/bin/env bash
# timed.sh FILE COMMAND...: run COMMAND, write its wall time in seconds to FILE, keep its status.
set -u
file=$1; shift
start=$(date +%s)
"$@"
status=$?
mkdir -p "$(dirname "$file")"
echo $(( $(date +%s) - start )) > "$file"
exit $status
