#!/bin/sh
# fuzz.sh BUILD_DIR SECONDS -- runs every libFuzzer target built in
# BUILD_DIR (cmake -DFA_FUZZ=ON with clang: `make fuzz`) for SECONDS each,
# one after the other, starting from its seed corpus in
# tests/fuzz/corpus/<target>. New inputs go to a scratch corpus under
# BUILD_DIR/fuzz-corpus (the seeds stay as committed); a crash, leak,
# sanitizer report or trap stops the run, leaves the input in
# BUILD_DIR/fuzz-artifacts and exits 1 naming the target.
# SECONDS may be "runs=N" instead: N inputs per target (a smoke run).
set -u

build=${1:?usage: fuzz.sh BUILD_DIR SECONDS|runs=N}
budget=${2:?usage: fuzz.sh BUILD_DIR SECONDS|runs=N}
root=$(cd "$(dirname "$0")/.." && pwd)
case $budget in
runs=*) limit="-runs=${budget#runs=}" ;;
*) limit="-max_total_time=$budget" ;;
esac
mkdir -p "$build/fuzz-artifacts"
n=0
failed=""
for src in "$root"/tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	bin="$build/$name"
	if [ ! -x "$bin" ]; then
		echo "fuzz: $bin was not built (clang and -DFA_FUZZ=ON are needed)" >&2
		exit 2
	fi
	work="$build/fuzz-corpus/$name"
	mkdir -p "$work"
	echo "fuzz: $name ($budget)"
	if ! "$bin" "$limit" -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$build/fuzz-artifacts/$name-" "$work" "$root/tests/fuzz/corpus/$name" \
		>"$build/fuzz-artifacts/$name.log" 2>&1; then
		tail -n 30 "$build/fuzz-artifacts/$name.log" >&2
		failed="$failed $name"
		continue
	fi
	grep -E '^stat::number_of_executed_units|^#[0-9]+[[:space:]]+DONE' "$build/fuzz-artifacts/$name.log" | tail -n 1
	n=$((n + 1))
done
if [ -n "$failed" ]; then
	echo "fuzz: failed:$failed (inputs in $build/fuzz-artifacts)" >&2
	exit 1
fi
echo "fuzz: $n targets ran clean"
