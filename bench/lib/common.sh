# common.sh -- shell helpers of bench/run: messages, free loopback ports,
# process bookkeeping (every server is started through `start_server`, and
# `stop_all`, run from the EXIT trap, stops exactly those PIDs) and the
# /proc readings the table reports. Sourced, never run.
# shellcheck disable=SC2034 # variables set here are read by bench/run

say() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

# A port the kernel hands out on 127.0.0.1 right now.
free_port() {
	node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# PIDs of everything this run started, stopped in reverse order.
STARTED_PIDS=()

# start_server NAME URL -- CMD...
# Spawns CMD (stdout/stderr to $WORK/NAME.log), times it from exec to the
# first 2xx answer of URL, and records the PID. Sets SERVER_PID and
# STARTUP_MS. Dies if the server exits or is not up within 30 s.
start_server() {
	local name=$1 url=$2 out
	shift 3
	out=$(node "$BENCH_DIR/lib/spawn.mjs" "$WORK/$name.log" "$url" -- "$@") ||
		{ sed 's/^/    /' "$WORK/$name.log" >&2 || true; die "$name did not start"; }
	SERVER_PID=${out%% *}
	STARTUP_MS=${out#* }
	STARTED_PIDS+=("$SERVER_PID")
	say "$name up: pid $SERVER_PID, first answer after $STARTUP_MS ms"
}

# start_timed NAME URL RUNS -- CMD...
# Start-up time is noisy (the scheduler, the page cache), so CMD is started
# RUNS times, each stopped but the last; STARTUP_MS is the median and
# STARTUP_RUNS all of them (a JSON array). SERVER_PID is the running one.
start_timed() {
	local name=$1 url=$2 runs=$3 i times=()
	shift 4
	for ((i = 1; i <= runs; i++)); do
		start_server "$name" "$url" -- "$@"
		times+=("$STARTUP_MS")
		if [ "$i" -lt "$runs" ]; then stop_server "$SERVER_PID"; fi
	done
	STARTUP_MS=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
	STARTUP_RUNS="[$(IFS=,; echo "${times[*]}")]"
}

# stop_server PID -- stops one server started by start_server.
stop_server() {
	local pid=$1 keep=() p
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	for p in "${STARTED_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
	STARTED_PIDS=("${keep[@]}")
}

stop_all() {
	local i pid
	for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
		pid=${STARTED_PIDS[i]}
		kill -TERM "$pid" 2>/dev/null || continue
	done
	for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
		pid=${STARTED_PIDS[i]}
		# Up to 5 s for a graceful exit, then SIGKILL that PID only.
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
	STARTED_PIDS=()
}

# CPU time (utime + stime) of PID in clock ticks, from /proc/PID/stat.
# Field 2 (comm) may hold spaces, so count from the closing parenthesis.
cpu_ticks() {
	local stat rest
	stat=$(cat "/proc/$1/stat") || return 1
	rest=${stat##*) }
	# rest starts at field 3 (state): utime is field 14, stime field 15.
	# shellcheck disable=SC2086 # split into fields on purpose
	set -- $rest
	echo $(( ${12} + ${13} ))
}

# CPU ticks of several servers, PIDS given as "PID[,PID...]" (the
# instances of one system).
pids_ticks() {
	local pid sum=0 t
	for pid in ${1//,/ }; do
		t=$(cpu_ticks "$pid") || t=0
		sum=$((sum + t))
	done
	echo "$sum"
}

# CPU ticks of PID and its children (PostgreSQL: the postmaster and one
# backend per connection). A child born during a run counts from 0.
tree_ticks() {
	local root=$1 sum=0 stat rest p
	for p in /proc/[0-9]*; do
		stat=$(cat "$p/stat" 2>/dev/null) || continue
		rest=${stat##*) }
		# shellcheck disable=SC2086 # split into fields on purpose
		set -- $rest
		# field 4 (ppid) is $2 here; utime and stime are ${12} and ${13}.
		if [ "${p#/proc/}" = "$root" ] || [ "$2" = "$root" ]; then
			sum=$((sum + ${12} + ${13}))
		fi
	done
	echo "$sum"
}

# "TID TICKS" per thread of PIDS (utime + stime of /proc/PID/task/TID/stat).
thread_ticks() {
	local t stat rest pid
	for pid in ${1//,/ }; do
		for t in /proc/"$pid"/task/*; do
			stat=$(cat "$t/stat" 2>/dev/null) || continue
			rest=${stat##*) }
			# shellcheck disable=SC2086 # split into fields on purpose
			set -- $rest
			echo "${t##*/} $(( ${12} + ${13} ))"
		done
	done
}

# busiest_share BEFORE AFTER TOTAL -- from two thread_ticks snapshots and
# the process's CPU ticks in between, the share its busiest thread took
# (1.000 = all on one thread). "null" when threads that did the work are
# gone (a thread-per-connection server), so the snapshots cannot tell.
busiest_share() {
	awk -v total="$3" 'NR == FNR { b[$1] = $2; next }
	     { d = $2 - b[$1]; t += d; if (d > m) m = d }
	     END { if (total <= 0 || t < 0.5 * total) print "null"; else printf "%.3f", m / t }' \
		<(echo "$1") <(echo "$2")
}

# Busy CPU ticks of the whole machine (all CPUs), from /proc/stat:
# user nice system irq softirq steal.
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# busy_pct -- the busy share of all CPUs over the next 2 s, in percent.
busy_pct() {
	local m0 m1
	m0=$(machine_ticks); sleep 2; m1=$(machine_ticks)
	awk -v d=$((m1 - m0)) -v h="$CLK_TCK" -v n="$NPROC" 'BEGIN { printf "%.0f", 100 * d / h / 2 / n }'
}

# wait_quiet -- waits until other processes use at most 10% of the machine,
# spending at most QUIET_LEFT seconds (a budget for the whole run). Sets
# BUSY_PCT to the last reading.
wait_quiet() {
	BUSY_PCT=$(busy_pct)
	while [ "$BUSY_PCT" -gt 10 ] && [ "$QUIET_LEFT" -gt 0 ]; do
		say "machine busy ($BUSY_PCT% of all CPUs used by other processes); waiting"
		sleep 3
		QUIET_LEFT=$((QUIET_LEFT - 5))
		BUSY_PCT=$(busy_pct)
	done
}

# VmHWM (peak RSS) and VmRSS of PID in kB; of several PIDS ("P,P"), the
# largest.
vm_kb() {
	local pid v max=0
	for pid in ${1//,/ }; do
		v=$(awk -v k="$2:" '$1 == k { print $2 }' "/proc/$pid/status")
		[ "${v:-0}" -gt "$max" ] && max=$v
	done
	echo "$max"
}

CLK_TCK=$(getconf CLK_TCK)
NPROC=$(nproc)
