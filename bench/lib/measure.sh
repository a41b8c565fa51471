# measure.sh -- one scenario of bench/run: a warm-up, then $REPS timed runs
# of $DURATION seconds, each appended to $RESULTS as one JSON line with the
# loader's numbers, the server's CPU seconds (utime+stime delta from
# /proc/PID/stat) and peak RSS (VmHWM), the loader's own CPU seconds, and
# the CPU seconds everything else on the machine took meanwhile (busy
# ticks of /proc/stat minus those two): a busy neighbour shows there
# instead of silently lowering the numbers. It also records which share of
# the server's CPU its busiest thread took: a server whose connections all
# landed on one worker thread shows ~100% there. A system of several
# instances is measured as one: PIDS is "PID,PID,..." and its CPU is the
# sum. With BENCH_DB_PID set (the PostgreSQL postmaster), the database's
# CPU seconds (postmaster and backends) are recorded too. For one
# flyteauth process it also records how many requests each HTTP worker
# served in the run, and how many connections each held halfway through
# it (the server logs both on SIGUSR1: "http: requests per worker: ...;
# open connections: ..."). Sourced, never run.

# Loaders: called as LOADER SECONDS ARGS...; print a "BENCH_RESULT {json}"
# line. wrk takes its request shape from BENCH_METHOD/BENCH_BODY/BENCH_AUTH
# (wrk/request.lua), which the caller puts in front of `measure`.
load_wrk() {
	wrk -t1 -c"$WRK_CONNS" -d"${1}s" --timeout 10s -s "$BENCH_DIR/wrk/request.lua" "$2"
}
# Several instances, as a load balancer spreads connections: one wrk thread
# per address of BENCH_ADDRS (wrk/request.lua), WRK_CONNS connections in all.
load_wrk_spread() { # SECONDS URL (BENCH_ADDRS set)
	local n
	n=$(tr ',' '\n' <<<"$BENCH_ADDRS" | grep -c .)
	wrk -t"$n" -c"$WRK_CONNS" -d"${1}s" --timeout 10s -s "$BENCH_DIR/wrk/request.lua" "$2"
}
# load_wrk_rate SECONDS URL RATE -- the same, paced at RATE requests/s.
load_wrk_rate() {
	BENCH_RATE=$3 load_wrk "$1" "$2"
}
# load_wrk_rate_flood SECONDS URL RATE MODE -- load_wrk_rate while
# bench/lib/flood.mjs floods the same server (MODE secret: wrong client
# secrets; login: wrong passwords) from FLOOD_LOOPS connections on as many
# loopback addresses. The flood starts first and ends after wrk; its own
# answers are merged into the BENCH_RESULT line as "flood". Its CPU is
# the loader's (bash's `time` counts the waited-for child).
load_wrk_rate_flood() {
	local ready="$WORK/flood.ready" fpid i out
	rm -f "$ready"
	FLOOD_CLIENT=bench-victim FLOOD_USER=$USER10_NAME \
		node "$BENCH_DIR/lib/flood.mjs" "$2" "$4" "$(($1 + 2))" "$FLOOD_LOOPS" "$ready" \
		>"$WORK/flood.out" 2>"$WORK/flood.err" &
	fpid=$!
	for ((i = 0; i < 300; i++)); do
		[ -e "$ready" ] && break
		kill -0 "$fpid" 2>/dev/null || break
		sleep 0.05
	done
	[ -e "$ready" ] || { wait "$fpid" || true; echo "flood did not start: $(head -c 300 "$WORK/flood.err")" >&2; return 1; }
	# Let the flood reach its steady state before wrk starts.
	sleep 1
	out=$(BENCH_RATE=$3 load_wrk "$1" "$2")
	wait "$fpid" || { echo "flood failed: $(head -c 300 "$WORK/flood.err")" >&2; return 1; }
	grep -v '^BENCH_RESULT ' <<<"$out" || true
	jq -c --argjson f "$(cat "$WORK/flood.out")" '. + {flood: $f}' \
		<<<"$(sed -n 's/^BENCH_RESULT //p' <<<"$out")" | sed 's/^/BENCH_RESULT /'
}
load_flow() { # SECONDS MODE URL (FLOW_USER: another local user)
	BENCH_USER=${FLOW_USER:-$USER_NAME} BENCH_PASSWORD=$USER_PASSWORD BENCH_PUBLIC_CLIENT=flytectl \
		BENCH_REDIRECT_URI=$REDIRECT_URI "$WORK/flows" "$2" "$3" "$1" "$FLOW_WORKERS"
}

# worker_line SYSTEM PID -- asks one flyteauth process for its per-worker
# counts (SIGUSR1) and prints them as JSON, {"requests":[..],"conns":[..]}
# (totals since start; open connections now); "null" for other systems or
# when no line comes within 2 s.
worker_line() {
	local log="$WORK/$1.log" before line i
	# One flyteauth process (not several instances, "PID,PID,..."); the
	# first of several instances logs to NAME-1.log.
	case $1/$2 in flyteauth*/*,*) echo null; return 0 ;; flyteauth*) ;; *) echo null; return 0 ;; esac
	[ -f "$log" ] || log="$WORK/$1-1.log"
	[ -f "$log" ] || { echo null; return 0; }
	before=$(grep -c 'http: requests per worker:' "$log" || true)
	kill -USR1 "$2" 2>/dev/null || { echo null; return 0; }
	for ((i = 0; i < 100; i++)); do
		line=$(grep 'http: requests per worker:' "$log" | tail -n +"$((before + 1))" | tail -1 || true)
		[ -n "$line" ] && break
		sleep 0.02
	done
	[ -n "$line" ] || { echo null; return 0; }
	sed -E 's/.*requests per worker:([ 0-9]*); open connections:([ 0-9]*).*/\1|\2/' <<<"$line" |
		awk -F'|' '{ n = split($1, r, " "); m = split($2, c, " ");
			printf "{\"requests\":["; for (i = 1; i <= n; i++) printf "%s%s", (i > 1 ? "," : ""), r[i];
			printf "],\"conns\":["; for (i = 1; i <= m; i++) printf "%s%s", (i > 1 ? "," : ""), c[i];
			printf "]}\n" }'
}

# peak_rate SYSTEM SCENARIO PCT -- PCT% of the median rate of the runs of
# SYSTEM/SCENARIO recorded so far, in whole requests per second.
peak_rate() {
	jq -s --arg s "$1" --arg c "$2" --argjson p "$3" '
		[.[] | select(.system == $s and .scenario == $c and .requests != null)
		 | .requests * 1e6 / .duration_us] | sort
		| if length == 0 then 1 else .[(length - 1) / 2 | floor] * $p / 100 | floor end' "$RESULTS"
}

# measure_bcrypt NAME HASH_B64 -- the login ceiling: $REPS runs of
# $DURATION seconds of bench/lib/bcrypt.c checking the user's password
# against HASH_B64 (a config's passwordHash) on $NPROC threads, each run
# one line {system: "bcrypt", scenario: NAME, checks, duration_us, cpu_s}.
measure_bcrypt() {
	local rep=1 hash line
	hash=$(base64 -d <<<"$2")
	say "bcrypt / $1: $REPS x ${DURATION}s on $NPROC threads"
	while [ "$rep" -le "$REPS" ]; do
		line=$(BENCH_PASSWORD=$USER_PASSWORD BENCH_HASH=$hash "$WORK/bcrypt" "$NPROC" "$DURATION" |
			sed -n 's/^BENCH_RESULT //p')
		[ -n "$line" ] || die "bench/lib/bcrypt.c failed"
		jq -cn --arg c "$1" --argjson rep "$rep" --argjson r "$line" \
			'{system: "bcrypt", scenario: $c, rep: $rep, checks: $r.checks,
			  duration_us: $r.duration_us, cpu_s: ($r.cpu_us / 1e6), threads: $r.threads}' >>"$RESULTS"
		rep=$((rep + 1))
	done
	tail -n "$REPS" "$RESULTS" | jq -r '"    \(.checks * 1e6 / .duration_us | floor)/s, \(.checks / .cpu_s | floor) per CPU-s"' >&2
}

# unavailable SYSTEM SCENARIO REASON -- records a scenario that cannot run.
unavailable() {
	say "$1 / $2: not available ($3)"
	jq -cn --arg s "$1" --arg c "$2" --arg r "$3" \
		'{system: $s, scenario: $c, unavailable: $r}' >>"$RESULTS"
}

# measure SYSTEM SCENARIO PIDS LOADER ARGS...
# A run with any failed request (non-2xx, socket error, timeout) is recorded
# with its errors; the report does not rank such a scenario.
measure() {
	local system=$1 scenario=$2 pid=$3 loader=$4 rep=1 t0 t1 m0 m1 line cpu machine loader_cpu other
	local th0 th1 d0=0 d1=0 db=null p w0 w1 wmid workers midpid
	local TIMEFORMAT='%U %S'
	shift 4
	say "$system / $scenario: warm-up ${WARMUP}s, then $REPS x ${DURATION}s"
	"$loader" "$WARMUP" "$@" >"$WORK/load.out" 2>&1 || true
	while [ "$rep" -le "$REPS" ]; do
		for p in ${pid//,/ }; do
			kill -0 "$p" 2>/dev/null || { unavailable "$system" "$scenario" "server exited"; return 0; }
		done
		w0=$(worker_line "$system" "$pid")
		[ -n "${BENCH_DB_PID:-}" ] && d0=$(tree_ticks "$BENCH_DB_PID")
		t0=$(pids_ticks "$pid") m0=$(machine_ticks) th0=$(thread_ticks "$pid")
		# Halfway through, the connections each worker holds.
		( sleep "$(awk -v d="$DURATION" 'BEGIN { print d / 2 }')"
		  worker_line "$system" "$pid" >"$WORK/workers.mid" ) &
		midpid=$!
		# The loader's own CPU (user sys) comes from bash's `time`.
		{ time "$loader" "$DURATION" "$@" >"$WORK/load.out" 2>"$WORK/load.err"; } 2>"$WORK/load.time" || true
		t1=$(pids_ticks "$pid") m1=$(machine_ticks) th1=$(thread_ticks "$pid")
		[ -n "${BENCH_DB_PID:-}" ] && d1=$(tree_ticks "$BENCH_DB_PID")
		wait "$midpid"
		w1=$(worker_line "$system" "$pid")
		wmid=$(cat "$WORK/workers.mid" 2>/dev/null || echo null)
		# Requests each worker served in this run; connections at half time.
		workers=$(jq -cn --argjson a "$w0" --argjson b "$w1" --argjson m "${wmid:-null}" '
			if $a == null or $b == null then null else
			{requests: [range(0; $b.requests | length) as $i | $b.requests[$i] - $a.requests[$i]],
			 conns_mid_run: (if $m == null then null else $m.conns end)} end')
		line=$(sed -n 's/^BENCH_RESULT //p' "$WORK/load.out")
		if [ -z "$line" ]; then
			unavailable "$system" "$scenario" "load generator failed: $(head -c 300 "$WORK/load.err")"
			return 0
		fi
		[ -s "$WORK/load.err" ] && sed 's/^/    /' "$WORK/load.err" | head -3 >&2
		cpu=$(awk -v d=$((t1 - t0)) -v h="$CLK_TCK" 'BEGIN { printf "%.3f", d / h }')
		machine=$(awk -v d=$((m1 - m0)) -v h="$CLK_TCK" 'BEGIN { printf "%.3f", d / h }')
		loader_cpu=$(awk '{ printf "%.3f", $1 + $2 }' "$WORK/load.time")
		[ -n "${BENCH_DB_PID:-}" ] &&
			db=$(awk -v d=$((d1 - d0)) -v h="$CLK_TCK" 'BEGIN { printf "%.3f", d / h }')
		# The database works for the server: it is not "other".
		other=$(awk -v m="$machine" -v c="$cpu" -v l="$loader_cpu" -v db="${db/null/0}" \
			'BEGIN { o = m - c - l - db; printf "%.3f", (o < 0 ? 0 : o) }')
		# Another process took more than 10% of the machine: redo the run
		# once it is quiet again, while the wait budget lasts.
		if awk -v o="$other" -v d="$DURATION" -v n="$NPROC" 'BEGIN { exit !(o > 0.1 * d * n) }' &&
			[ "$QUIET_LEFT" -gt 0 ]; then
			say "    run disturbed (other processes: ${other} CPU-s); redoing it when the machine is quiet"
			wait_quiet
			continue
		fi
		jq -cn --arg s "$system" --arg c "$scenario" --argjson rep "$rep" --argjson cpu "$cpu" \
			--argjson loader "$loader_cpu" --argjson other "$other" --argjson db "$db" \
			--argjson busiest "$(busiest_share "$th0" "$th1" $((t1 - t0)))" \
			--argjson hwm "$(vm_kb "$pid" VmHWM)" --argjson r "$line" \
			--argjson workers "$workers" --argjson rate "${BENCH_RATE_TARGET:-null}" \
			'{system: $s, scenario: $c, rep: $rep, cpu_s: $cpu, loader_cpu_s: $loader,
			  other_cpu_s: $other, db_cpu_s: $db, busiest_thread_share: $busiest,
			  hwm_kb: $hwm, workers: $workers, target_rate: $rate} + $r' >>"$RESULTS"
		rep=$((rep + 1))
	done
	tail -n "$REPS" "$RESULTS" | jq -r '"    \(.requests * 1e6 / .duration_us | floor)/s p50 \(.p50_us)us p99 \(.p99_us)us cpu \(.cpu_s)s\(if .db_cpu_s then " db \(.db_cpu_s)s" else "" end) (busiest thread \(if .busiest_thread_share then "\(.busiest_thread_share * 100 | floor)%" else "n/a" end)) other \(.other_cpu_s)s errors \(.errors | add)\(if .workers then " workers \(.workers.requests) conns \(.workers.conns_mid_run)" else "" end)"' >&2
}
