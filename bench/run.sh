#!/usr/bin/env bash
# bench/run.sh — the caddy-fitbit benchmark, one command (see bench/README.md).
#
#   bash bench/run.sh                     # default run (~20 min on 2 cores; a smoke run: DURATION=2s ROUNDS=1 LARGE=5000, ~3 min)
#   DURATION=30s ROUNDS=5 bash bench/run.sh
#   SCALE=1 bash bench/run.sh             # also the 1,000,000-connection scale run
#
# Everything listens on 127.0.0.1. Results: bench/results/latest.md,
# bench/results/profile-top.txt; raw wrk output and logs under $BENCH_WORK.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DURATION=${DURATION:-10s}      # each measured wrk run
WARMUP=${WARMUP:-3s}           # one unrecorded wrk run per target before round 1
CONNS=${CONNS:-64}             # wrk -c, the same for every target
THREADS=${THREADS:-2}          # wrk -t
ROUNDS=${ROUNDS:-5}            # interleaved rounds: a b1 b1k b100k c d, a b1 …
LARGE=${LARGE:-100000}         # identities of the large (b) scenario
STORM_N=${STORM_N:-1000}       # refresh storms: concurrent requests / identities
PROFILE=${PROFILE:-1}          # CPU profile of (b) with 1,000 identities
STORM=${STORM:-1}              # refresh storms
LEGACY=${LEGACY:-1}            # legacy OAuth 1.0a signed calls (bench/cmd/legacy)
TRANSLATED=${TRANSLATED:-1}    # Fitbit calls answered from Google Health (bench/cmd/translated)
SCALE=${SCALE:-0}              # 1: include the 1,000,000-connection scale run
SCALE_N=${SCALE_N:-1000000}    # stored connections of that run
BASE_PORT=${BASE_PORT:-18100}  # ports BASE_PORT … BASE_PORT+8
WORK=${BENCH_WORK:-/tmp/caddy-fitbit-bench}
# The benchmark's encryption key (not a secret): the seeded stores are reused
# across runs as long as it does not change.
export FITBIT_BENCH_KEY=${BENCH_KEY:-Y2FkZHktZml0Yml0IGJlbmNobWFyayBrZXkgMzIgQiE=}
TOKEN="eyJhbGciOiJIUzI1NiJ9.static-bench-token.0123456789abcdef0123456789abcdef"

RESULTS=bench/results
BIN=bench/bin
RAW="$WORK/raw"
START_TS=$(date +%s)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

log() { printf '\n[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- tools
need() { command -v "$1" >/dev/null 2>&1; }
missing=()
need wrk || missing+=(wrk)
need nginx || [ -x /usr/sbin/nginx ] || missing+=(nginx)
need curl || missing+=(curl)
need redis-server || missing+=(redis-server) # the legacy OAuth 1.0a run's Redis target
if [ ${#missing[@]} -gt 0 ]; then
	log "installing ${missing[*]} (apt-get)"
	SUDO=""
	[ "$(id -u)" -ne 0 ] && SUDO=sudo
	$SUDO apt-get update -qq
	# The nginx package may try to start the system service; this benchmark
	# never uses it (it runs its own nginx in the foreground).
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# ---------------------------------------------------------------- ports
P_UP=$BASE_PORT
P_A=$((BASE_PORT + 1)); P_B1=$((BASE_PORT + 2)); P_B1K=$((BASE_PORT + 3)); P_BL=$((BASE_PORT + 4))
P_C=$((BASE_PORT + 5)); P_D=$((BASE_PORT + 6)); P_ADMIN=$((BASE_PORT + 7)); P_ADMIN2=$((BASE_PORT + 8))
for p in $P_UP $P_A $P_B1 $P_B1K $P_BL $P_C $P_D $P_ADMIN $P_ADMIN2; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		die "port $p is in use; set BASE_PORT to a free range"
	fi
done

# ---------------------------------------------------------------- build
log "building (go build)"
mkdir -p "$BIN" "$RESULTS" "$WORK" "$RAW" "$WORK/sections"
go build -o "$BIN/caddy" ./cmd/caddy
go build -o "$BIN/" ./bench/cmd/upstream ./bench/cmd/handproxy ./bench/cmd/seed ./bench/cmd/warm \
	./bench/cmd/storm ./bench/cmd/scale ./bench/cmd/report ./bench/cmd/legacy ./bench/cmd/translated
rm -f "$RAW"/*.txt "$WORK/runs.jsonl" "$WORK/sections"/*.md

# ---------------------------------------------------------------- processes
PIDS=()
NGINX_PID=""
cleanup() {
	set +e
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	[ -n "$NGINX_PID" ] && kill -QUIT "$NGINX_PID" 2>/dev/null
	wait 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CMD…: start a background process, logging to $WORK/NAME.log.
start() {
	local name=$1; shift
	"$@" >"$WORK/$name.log" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	eval "PID_${name}=$pid"
}

# wait_ok PORT: until GET / with X-User: u0 answers 200.
wait_ok() {
	local port=$1 i
	for i in $(seq 1 300); do
		if [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'X-User: u0' "http://127.0.0.1:$port/1/user/-/profile.json" || true)" = 200 ]; then
			return 0
		fi
		sleep 0.1
	done
	die "nothing answers 200 on port $port (logs in $WORK)"
}

# seed_store N: a store with N connections under $WORK/store-N (reused).
seed_store() {
	local n=$1 dir="$WORK/store-$1"
	local mark
	mark="$n $(printf '%s' "$FITBIT_BENCH_KEY" | sha256sum | cut -c1-16)"
	if [ -f "$dir/.seeded" ] && [ "$(cat "$dir/.seeded")" = "$mark" ]; then
		log "store with $n connections: reusing $dir"
		return
	fi
	local need_kb=$((n * 5 + 100000))
	local avail_kb
	avail_kb=$(df -Pk "$WORK" | awk 'NR==2 {print $4}')
	[ "$avail_kb" -gt "$need_kb" ] || die "seeding $n connections needs about $((need_kb / 1024)) MiB in $WORK; $((avail_kb / 1024)) MiB free"
	log "seeding $n connections into $dir"
	rm -rf "$dir"
	"$BIN/seed" -root "$dir" -key "$FITBIT_BENCH_KEY" -n "$n"
	echo "$mark" >"$dir/.seeded"
}

# gateway_conf NAME PORT CACHE_SIZE STORE [ADMIN]: the (b) Caddyfile.
gateway_conf() {
	local name=$1 port=$2 cache=$3 store=$4 admin=${5:-off}
	cat >"$WORK/$name.caddyfile" <<EOF
{
	admin $admin
	persist_config off
	auto_https off
	storage file_system $WORK/caddy-$name
	fitbit {
		client_id BENCH1
		client_secret bench-client-secret
		redirect_uri http://127.0.0.1:$port/fitbit/callback
		authorize_url http://127.0.0.1:$P_UP/oauth2/authorize
		token_url http://127.0.0.1:$P_UP/oauth2/token
		revoke_url http://127.0.0.1:$P_UP/oauth2/revoke
		api_base http://127.0.0.1:$P_UP
		encryption_key {env.FITBIT_BENCH_KEY}
		cache_size $cache
		storage file_system {
			root $store
		}
		# One identity makes millions of calls: a budget far above them,
		# so every call still pays for its count (README › Provider budgets).
		budget {
			per_user 1000000000
		}
	}
}

http://:$port {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:$P_UP {
		transport fitbit {
			identity {http.request.header.X-User}
		}
	}
}
EOF
}

seed_store "$LARGE"
seed_store 1000

log "starting upstream, plain Caddy, three gateways, the hand-written proxy and nginx"
start upstream "$BIN/upstream" -addr "127.0.0.1:$P_UP"

cat >"$WORK/a.caddyfile" <<EOF
{
	admin off
	persist_config off
	auto_https off
	storage file_system $WORK/caddy-a
}

http://:$P_A {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:$P_UP {
		header_up Authorization "Bearer $TOKEN"
	}
}
EOF
gateway_conf b1 "$P_B1" 1000 "$WORK/store-$LARGE"
gateway_conf b1k "$P_B1K" 2000 "$WORK/store-$LARGE" "127.0.0.1:$P_ADMIN"
gateway_conf bL "$P_BL" $((LARGE + 10000)) "$WORK/store-$LARGE" "127.0.0.1:$P_ADMIN2"

NG="$WORK/nginx"
mkdir -p "$NG"
NGUSER=""
[ "$(id -u)" -eq 0 ] && NGUSER="user root;"
cat >"$NG/nginx.conf" <<EOF
$NGUSER
worker_processes auto;
daemon off;
master_process on;
pid $NG/nginx.pid;
error_log $NG/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $NG/client_body;
	proxy_temp_path $NG/proxy;
	fastcgi_temp_path $NG/fastcgi;
	uwsgi_temp_path $NG/uwsgi;
	scgi_temp_path $NG/scgi;
	upstream fitbit_api {
		server 127.0.0.1:$P_UP;
		keepalive 128;
	}
	server {
		listen 127.0.0.1:$P_D;
		location / {
			proxy_pass http://fitbit_api;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Authorization "Bearer $TOKEN";
		}
	}
}
EOF
mkdir -p "$RESULTS/configs"
cp "$WORK/a.caddyfile" "$WORK/b1k.caddyfile" "$NG/nginx.conf" "$RESULTS/configs/"

start a "$BIN/caddy" run --adapter caddyfile --config "$WORK/a.caddyfile"
start b1 "$BIN/caddy" run --adapter caddyfile --config "$WORK/b1.caddyfile"
start b1k "$BIN/caddy" run --adapter caddyfile --config "$WORK/b1k.caddyfile"
start bL "$BIN/caddy" run --adapter caddyfile --config "$WORK/bL.caddyfile"
start c "$BIN/handproxy" -listen "127.0.0.1:$P_C" -upstream "http://127.0.0.1:$P_UP" -token "$TOKEN"
"$NGINX" -p "$NG" -c "$NG/nginx.conf" -e "$NG/error.log" >"$WORK/d.log" 2>&1 &
NGINX_PID=$!
for p in $P_A $P_B1 $P_B1K $P_BL $P_C $P_D; do wait_ok "$p"; done

log "warming the gateways' caches (one request per identity)"
"$BIN/warm" -url "http://127.0.0.1:$P_B1K/1/user/-/profile.json" -n 1000 -c 16 | tee "$WORK/warm-b1k.txt"
"$BIN/warm" -url "http://127.0.0.1:$P_BL/1/user/-/profile.json" -n "$LARGE" -c 16 | tee "$WORK/warm-bL.txt"

# scenario table: name port identities pid-variable
SCENARIOS=(a b1 b1k b100k c d)
port_of() { case $1 in a) echo $P_A ;; b1) echo $P_B1 ;; b1k) echo $P_B1K ;; b100k) echo $P_BL ;; c) echo $P_C ;; d) echo $P_D ;; esac; }
ids_of() { case $1 in b1k) echo 1000 ;; b100k) echo "$LARGE" ;; *) echo 1 ;; esac; }
pid_of() { case $1 in a) echo "$PID_a" ;; b1) echo "$PID_b1" ;; b1k) echo "$PID_b1k" ;; b100k) echo "$PID_bL" ;; c) echo "$PID_c" ;; d) echo "$NGINX_PID" ;; esac; }

# rss PID: VmRSS and VmHWM in KiB of PID and its children (nginx workers).
rss() {
	local pid=$1 r=0 h=0 p v
	for p in $pid $(ps -o pid= --ppid "$pid" 2>/dev/null); do
		v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0); r=$((r + ${v:-0}))
		v=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0); h=$((h + ${v:-0}))
	done
	echo "$r $h"
}

# wrk_run SCENARIO ROUND DURATION: one measured (ROUND > 0) or warm-up run.
wrk_run() {
	local s=$1 round=$2 dur=$3 port ids out json load1
	port=$(port_of "$s"); ids=$(ids_of "$s")
	load1=$(cut -d' ' -f1 /proc/loadavg)
	out=$(IDS=$ids wrk -t"$THREADS" -c"$CONNS" -d"$dur" --latency -s bench/wrk/identities.lua \
		"http://127.0.0.1:$port/1/user/-/profile.json")
	[ "$round" -gt 0 ] || return 0
	printf '%s\n' "$out" >"$RAW/$round-$s.txt"
	json=$(printf '%s\n' "$out" | grep '^{"requests"' | tail -1)
	[ -n "$json" ] || die "no result from wrk for $s (see $RAW/$round-$s.txt)"
	read -r r h < <(rss "$(pid_of "$s")")
	printf '{"scenario":"%s","round":%d,"ids":%d,"rss_kib":%d,"hwm_kib":%d,"load1":%s,"wrk":%s}\n' \
		"$s" "$round" "$ids" "$r" "$h" "$load1" "$json" >>"$WORK/runs.jsonl"
	printf '%s\n' "$json" | awk -v s="$s" -v r="$round" -v rss="$r" -F'[:,]' '{
		printf "  round %d %-6s %9.0f req/s  p50 %6.3f ms  p99 %7.3f ms  non-2xx+errors %d  RSS %.1f MiB\n",
		r, s, $2/($4/1e6), $8/1000, $12/1000, $18+$20+$22+$24+$26, rss/1024 }' >&2
}

log "warm-up: $WARMUP per target (not recorded)"
for s in "${SCENARIOS[@]}"; do wrk_run "$s" 0 "$WARMUP"; done

log "measuring: $ROUNDS interleaved rounds × ${#SCENARIOS[@]} targets × $DURATION, wrk -t$THREADS -c$CONNS"
for round in $(seq 1 "$ROUNDS"); do
	for s in "${SCENARIOS[@]}"; do wrk_run "$s" "$round" "$DURATION"; done
done

# ---------------------------------------------------------------- profile
# profile NAME PORT ADMIN IDS: 10 s CPU profile under the same wrk load, and
# a heap profile after it, through Caddy's admin endpoint.
profile() {
	local name=$1 port=$2 admin=$3 ids=$4 wpid
	IDS=$ids wrk -t"$THREADS" -c"$CONNS" -d12s -s bench/wrk/identities.lua \
		"http://127.0.0.1:$port/1/user/-/profile.json" >"$WORK/profile-wrk-$name.txt" &
	wpid=$!
	sleep 1
	curl -sf -o "$WORK/cpu-$name.pprof" "http://127.0.0.1:$admin/debug/pprof/profile?seconds=10"
	wait "$wpid"
	curl -sf -o "$WORK/heap-$name.pprof" "http://127.0.0.1:$admin/debug/pprof/heap?gc=1"
}
# key_lines PROFILE: the -cum lines that say where the gateway's CPU goes.
key_lines() {
	go tool pprof -top -cum "$BIN/caddy" "$1" 2>/dev/null | sed -n '1,/flat%/p' | grep -v '^Showing\|^Dropped\|^File\|^Build\|^Time'
	go tool pprof -top -cum "$BIN/caddy" "$1" 2>/dev/null |
		grep -E 'caddyhttp\.\(\*Server\)\.ServeHTTP$|reverseproxy\.\(\*Handler\)\.ServeHTTP$|module\.\(\*Transport\)\.RoundTrip$|inject\.\(\*Transport\)\.RoundTrip$|tokens\.\(\*Manager\)\.Get$|tokens\.\(\*cache\)\.get$|module\.identityFunc|net/http\.\(\*Transport\)\.roundTrip$|runtime\.gcBgMarkWorker$|runtime\.mallocgc$|linux\.Syscall6$' || true
}
if [ "$PROFILE" = 1 ]; then
	log "CPU profiles of the gateway under load: 1,000 identities, then $LARGE"
	profile b1k "$P_B1K" "$P_ADMIN" 1000
	profile bL "$P_BL" "$P_ADMIN2" "$LARGE"
	{
		echo "# CPU profile of the gateway (scenario b, 1,000 identities, cached tokens) under"
		echo "# wrk -t$THREADS -c$CONNS, 10 s; $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs; raw profile: $WORK/cpu-b1k.pprof"
		echo "# The load generator, upstream and other servers share the machine, so the"
		echo "# gateway's samples cover only its own share of the CPU."
		echo
		echo "## go tool pprof -top -nodecount=45 (by flat)"
		go tool pprof -top -nodecount=45 "$BIN/caddy" "$WORK/cpu-b1k.pprof" 2>/dev/null
		echo
		echo "## go tool pprof -top -cum -nodecount=60 (by cumulative)"
		go tool pprof -top -cum -nodecount=60 "$BIN/caddy" "$WORK/cpu-b1k.pprof" 2>/dev/null
		echo
		echo "## the gateway's own code and everything it calls except the upstream round trip:"
		echo "## go tool pprof -top -cum -focus=caddy-fitbit -ignore='net/http\.\(\*Transport\)|reverseproxy\.\(\*HTTPTransport\)'"
		go tool pprof -top -cum -nodecount=40 -focus=caddy-fitbit -ignore='net/http\.\(\*Transport\)|reverseproxy\.\(\*HTTPTransport\)' "$BIN/caddy" "$WORK/cpu-b1k.pprof" 2>/dev/null
		echo
		echo "## for comparison, $LARGE identities (raw profile: $WORK/cpu-bL.pprof): key lines of -top -cum"
		key_lines "$WORK/cpu-bL.pprof"
		echo
		echo "## heap in use after the $LARGE-identity run (go tool pprof -top -sample_index=inuse_space, $WORK/heap-bL.pprof)"
		go tool pprof -top -nodecount=20 -sample_index=inuse_space "$BIN/caddy" "$WORK/heap-bL.pprof" 2>/dev/null
	} >"$RESULTS/profile-top.txt"
	{
		echo "### CPU profiles"
		echo
		echo "10 s CPU profiles of the gateway under the same wrk load, through Caddy's admin endpoint"
		echo "(full output, with the heap profile at $LARGE identities: [profile-top.txt](profile-top.txt))."
		echo "Key lines of \`go tool pprof -top -cum\` — 1,000 identities:"
		echo
		echo '```'
		key_lines "$WORK/cpu-b1k.pprof"
		echo '```'
		echo
		echo "$LARGE identities:"
		echo
		echo '```'
		key_lines "$WORK/cpu-bL.pprof" | grep -v '^Type\|^Duration\|flat%'
		echo '```'
		echo
		echo "Heap in use after the $LARGE-identity run (after a GC): $(go tool pprof -top -sample_index=inuse_space "$BIN/caddy" "$WORK/heap-bL.pprof" 2>/dev/null | grep -o 'of [0-9.]*[kMG]B total' | head -1 | sed 's/^of //; s/ total//'), of which:"
		echo
		echo '```'
		go tool pprof -top -nodecount=8 -sample_index=inuse_space "$BIN/caddy" "$WORK/heap-bL.pprof" 2>/dev/null | sed -n '/flat%/,$p'
		echo '```'
	} >"$WORK/sections/profile.md"
fi

log "stopping the throughput targets"
for v in PID_a PID_b1 PID_b1k PID_bL PID_c; do kill "${!v}" 2>/dev/null || true; done
kill -QUIT "$NGINX_PID" 2>/dev/null || true
NGINX_PID=""

# ---------------------------------------------------------------- storms
if [ "$STORM" = 1 ]; then
	log "refresh storms ($STORM_N)"
	"$BIN/storm" -caddy "$BIN/caddy" -n "$STORM_N" -dir "$WORK/storm" -out "$WORK/sections/storm.md" ||
		echo "storm: target NOT met (see above)" >&2
fi

# ---------------------------------------------------------------- legacy
if [ "$LEGACY" = 1 ]; then
	log "legacy OAuth 1.0a: signed calls through plain Caddy and the gateway (file system, Redis)"
	"$BIN/legacy" -caddy "$BIN/caddy" -upstream "$BIN/upstream" -n 1000 -c "$CONNS" -d "$DURATION" \
		-rounds "$ROUNDS" -dir "$WORK/legacy" -out "$WORK/sections/legacy.md" >/dev/null
fi

# ---------------------------------------------------------------- translated
if [ "$TRANSLATED" = 1 ]; then
	log "Fitbit calls answered from the Google Health API, beside plain Caddy proxying the same bytes"
	"$BIN/translated" -caddy "$BIN/caddy" -n 100 -c "$CONNS" -d "$DURATION" -rounds "$ROUNDS" \
		-dir "$WORK/translated" -out "$WORK/sections/translated.md" >/dev/null
fi

# ---------------------------------------------------------------- scale
log "scale: start-up, RSS and cache misses over stored connections"
SCALE_MD="$WORK/sections/scale.md"
{
	echo "### Scale"
	echo
	echo "A fresh gateway over a store of N connections (file system, page cache warm from seeding). Start-up is exec → first"
	echo "proxied 200 (which is itself a cache miss). Cache miss/hit: 2,000 identities (fewer for N = 1,000), each requested"
	echo "sequentially once (miss: store read + decrypt + proxy), then again (hit); miss − hit is the store read + decrypt."
	echo "Then the rest of 100,000 identities spread over the store (all of them for N ≤ 100,000) are touched with 16"
	echo "concurrent requests, and RSS is read."
	echo
} >"$SCALE_MD"
hdr=-header
sizes=(1000 "$LARGE")
if [ "$SCALE" = 1 ]; then
	seed_store "$SCALE_N"
	sizes+=("$SCALE_N")
fi
for n in "${sizes[@]}"; do
	# shellcheck disable=SC2086
	"$BIN/scale" -caddy "$BIN/caddy" -store "$WORK/store-$n" -key "$FITBIT_BENCH_KEY" -n "$n" \
		-upstream "127.0.0.1:$P_UP" -touch 100000 -dir "$WORK" -out "$SCALE_MD.rows" $hdr
	hdr=""
done
cat "$SCALE_MD.rows" >>"$SCALE_MD"
rm -f "$SCALE_MD.rows"
if [ "$SCALE" != 1 ]; then
	echo >>"$SCALE_MD"
	echo "(The 1,000,000-connection row needs \`SCALE=1\`.)" >>"$SCALE_MD"
fi

# ---------------------------------------------------------------- report
END_TS=$(date +%s)
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
FACTS="$WORK/facts.md"
{
	echo "Generated by \`bash bench/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); the run took $(((END_TS - START_TS) / 60)) min $(((END_TS - START_TS) % 60)) s."
	echo
	echo "| machine | |"
	echo "|---|---|"
	echo "| CPUs (nproc) | $(nproc) |"
	echo "| CPU model | $(lscpu 2>/dev/null | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2; exit}') |"
	echo "| memory | $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) |"
	echo "| kernel | $(uname -sr) |"
	echo "| Go | $(go version | cut -d' ' -f3-) |"
	echo "| Caddy | $("$BIN/caddy" version 2>/dev/null | cut -d' ' -f1) |"
	echo "| wrk | $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2) |"
	echo "| nginx | $("$NGINX" -v 2>&1 | cut -d/ -f2) |"
	echo "| commit | $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)') |"
	echo "| load average (1/5/15 min) | before: $LOAD_BEFORE; after: $LOAD_AFTER |"
	echo
	echo "Parameters: wrk \`-t$THREADS -c$CONNS -d$DURATION --latency\` with [bench/wrk/identities.lua](../wrk/identities.lua) for every"
	echo "target; $ROUNDS interleaved rounds (a, b1, b1k, b100k, c, d, a, …) after a $WARMUP warm-up run per target; medians over rounds."
	echo "Everything on loopback, on the same $(nproc) CPUs: wrk, the upstream (bench/cmd/upstream, ~1 KiB profile JSON) and the"
	echo "proxy under test compete for them, so the absolute figures are the machine's, the ratios are the point."
	echo "Gateways: \`reverse_proxy\` with \`transport fitbit { identity {http.request.header.X-User} }\`, a file-system store"
	echo "of $LARGE connections (AES-256-GCM records, expiry 8 h), \`cache_size\` ≥ identities, every identity cached before"
	echo "measuring ($(cat "$WORK/warm-bL.txt" | sed 's/^warm: //')). Configs: [configs/](configs/)."
	echo
	awk '{ if (match($0, /"load1":[0-9.]+/)) { v = substr($0, RSTART + 8, RLENGTH - 8) + 0; if (v > m) m = v; s += v; n++ } }
		END { if (n) printf "Load average (1 min) at the start of the measured runs: mean %.2f, max %.2f on %d CPUs", s/n, m, '"$(nproc)"' }' "$WORK/runs.jsonl"
	echo " — the benchmark itself keeps about $(nproc) CPUs busy; more than that means other work was running."
	echo
} >"$FACTS"

SECTIONS=()
for f in storm legacy translated scale profile; do
	[ -f "$WORK/sections/$f.md" ] && SECTIONS+=(-section "$WORK/sections/$f.md")
done
"$BIN/report" -runs "$WORK/runs.jsonl" -facts "$FACTS" "${SECTIONS[@]}" -out "$RESULTS/latest.md" >/dev/null
cp "$WORK/runs.jsonl" "$RESULTS/runs.jsonl"
log "done in $(((END_TS - START_TS) / 60)) min $(((END_TS - START_TS) % 60)) s: $RESULTS/latest.md"
sed -n '/^## Throughput/,/^### Refresh storms/p' "$RESULTS/latest.md" | sed '$d'
# The translated endpoints' table (ratio to plain Caddy, p99, Google calls
# per Fitbit call): see bench/README.md, "Reading the translated table".
if [ -f "$WORK/sections/translated.md" ]; then
	sed -n '/^| endpoint/,/^$/p' "$WORK/sections/translated.md"
fi
