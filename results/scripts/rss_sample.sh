#!/bin/bash
# Sample the resident memory (MiB) of every process whose command line matches PATTERN, once a minute,
# while any matches: "epoch-seconds pid rss-MiB last-argument" per line, on stdout.
#   nohup results/scripts/rss_sample.sh "bin/prefrl train" > rss.log &
# Summary:  awk '{print $3}' rss.log | sort -n | awk '{a[NR]=$1} END {print "min", a[1], "median", a[int((NR+1)/2)], "max", a[NR]}'
pattern=${1:?usage: rss_sample.sh PATTERN [SECONDS]}
every=${2:-60}
while pgrep -f "$pattern" | grep -qvx "$$"; do  # any match but this script (its own command line matches)
  for p in $(pgrep -f "$pattern"); do
    cmd=$(tr '\0' ' ' < /proc/"$p"/cmdline 2>/dev/null) || continue
    case "$cmd" in *rss_sample*|/usr/bin/time*) continue ;; esac  # this script, a time wrapper
    kib=$(ps -o rss= -p "$p") || continue
    echo "$(date +%s) $p $((kib / 1024)) $(echo "$cmd" | awk '{print $NF}')"
  done
  sleep "$every"
done
