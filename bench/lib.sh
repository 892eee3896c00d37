# bench/lib.sh — helpers the benchmark scripts share; sourced, never run.

# now: the wall clock in seconds, with microseconds.
now() { echo "$EPOCHREALTIME"; }

# median [DECIMALS]: the median of the numbers on stdin (default 3 decimals), or nan.
median() {
  sort -g | awk -v d="${1:-3}" '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.*f", d, m }'
}
