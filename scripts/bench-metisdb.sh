#!/usr/bin/env bash
# bench-metisdb.sh: MetisDB against a Go map, Pebble and bbolt, in one run, then benchstat.
#
#   scripts/bench-metisdb.sh                     # 1M keys, ~7 min on 2 cores
#   METISDB_BENCH_10M=1 scripts/bench-metisdb.sh # also Get and memory at 10M keys (+~20 min,
#                                                # ~6 GB RAM; loading 10M keys into bbolt is ~4 min)
#
# The benchmarks are chain/metisdb/internal/dbbench (see bench_test.go there). Each store runs
# in processes of its own (RSS is process-wide; a big Go map in the heap slows every GC), from
# one test binary:
#   - BenchmarkMemory, MEM_RUNS separate processes per store (one fresh load each; at 10M
#     keys a single one);
#   - BenchmarkGet + BenchmarkGetOld, -count COUNT, -benchtime GET_TIME;
#   - BenchmarkCommit, one process per batch size, a fixed number of commits per sample
#     (COMMIT_N_1000, COMMIT_N_10000) so every store grows from 1M keys by the same amount.
# Raw output goes to $OUT (default docs/bench/raw-<UTC time>.txt); the benchstat tables (one
# per benchmark, one column per store, each baseline compared with metisdb) are printed at the
# end and written next to it as .benchstat.txt.
#
# Tunables (environment): COUNT=6 GET_TIME=2s COMMIT_N_1000=100 COMMIT_N_10000=20 MEM_RUNS=6
# STORES="metisdb map pebble bbolt" OUT=path METISDB_BENCH_10M=1 METISDB_BENCH_DIR=dir
# (where the stores are written; default a fresh directory under $TMPDIR, which must be a real
# disk, not tmpfs, for fsync to mean anything).
set -euo pipefail

cd "$(dirname "$0")/.."
COUNT=${COUNT:-6}
GET_TIME=${GET_TIME:-2s}
COMMIT_N_1000=${COMMIT_N_1000:-100}
COMMIT_N_10000=${COMMIT_N_10000:-20}
MEM_RUNS=${MEM_RUNS:-6}
STORES=${STORES:-metisdb map pebble bbolt}
BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da
PKG=./chain/metisdb/internal/dbbench
export METISDB_BENCH_10M=${METISDB_BENCH_10M:-}

OUT=${OUT:-docs/bench/raw-$(date -u +%Y%m%dT%H%M%SZ).txt}
mkdir -p "$(dirname "$OUT")"
printf 'go: %s\nnproc: %s\n' "$(go env GOVERSION)" "$(nproc)" >"$OUT"

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# benchstat
BENCHSTAT=$(command -v benchstat || true)
if [[ -z $BENCHSTAT ]]; then
	BENCHSTAT="$(go env GOPATH)/bin/benchstat"
	if [[ ! -x $BENCHSTAT ]]; then
		log "installing benchstat@$BENCHSTAT_VERSION"
		go install "golang.org/x/perf/cmd/benchstat@$BENCHSTAT_VERSION"
	fi
fi

read -r load1 _ </proc/loadavg
if awk -v l="$load1" 'BEGIN { exit !(l > 0.5) }'; then
	log "WARNING: load average is $load1: something else is running; numbers will be noisy"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Stores live under $work unless told otherwise, so an interrupted run leaves nothing behind.
export METISDB_BENCH_DIR=${METISDB_BENCH_DIR:-$work}
BIN=$work/dbbench.test
log "building $PKG"
go test -c -o "$BIN" "$PKG"

log "smoke test"
"$BIN" -test.run '^TestSmoke$' -test.count 1 >/dev/null

# run <description> <bench args...>: appends benchmark lines to $OUT, keeps headers once.
run() {
	local what=$1
	shift
	log "$what"
	local t0=$SECONDS
	if ! "$BIN" -test.run '^$' "$@" >"$work/out.txt" 2>&1; then
		cat "$work/out.txt" >&2
		log "FAILED: $what"
		exit 1
	fi
	if grep -q '^cpu:' "$OUT"; then
		grep -E '^Benchmark' "$work/out.txt" >>"$OUT" || true
	else
		grep -E '^(goos|goarch|pkg|cpu):|^Benchmark' "$work/out.txt" >>"$OUT" || true
	fi
	log "  done in $((SECONDS - t0)) s"
}

start=$SECONDS
for s in $STORES; do
	for ((i = 1; i <= MEM_RUNS; i++)); do
		run "memory: $s, 1M keys ($i/$MEM_RUNS)" -test.bench "^BenchmarkMemory\$/^store=$s\$/^keys=1M\$" -test.benchtime 1x
	done
	if [[ $METISDB_BENCH_10M == 1 ]]; then
		run "memory: $s, 10M keys" -test.bench "^BenchmarkMemory\$/^store=$s\$/^keys=10M\$" -test.benchtime 1x
	fi
done
for s in $STORES; do
	run "get: $s" -test.bench "^BenchmarkGet(Old)?\$/^store=$s\$/" -test.count "$COUNT" -test.benchtime "$GET_TIME"
done
for s in $STORES; do
	run "commit: $s, batch=1000" -test.bench "^BenchmarkCommit\$/^store=$s\$/^batch=1000\$" \
		-test.count "$COUNT" -test.benchtime "${COMMIT_N_1000}x"
	run "commit: $s, batch=10000" -test.bench "^BenchmarkCommit\$/^store=$s\$/^batch=10000\$" \
		-test.count "$COUNT" -test.benchtime "${COMMIT_N_10000}x"
done
log "all benchmarks done in $(((SECONDS - start) / 60)) min; raw output in $OUT"

order=$(echo "$STORES" | tr -s ' ' ' ')
log "benchstat ($BENCHSTAT)"
"$BENCHSTAT" -table .name -col "/store@($order)" "$OUT" | tee "${OUT%.txt}.benchstat.txt"
