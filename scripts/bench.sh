#!/usr/bin/env bash
# Measures Piraeus side by side with reference servers in one run, on loopback only, and prints
# each ratio next to its goal (issue 10):
#
#   stored .info / .mod hits  req/s under wrk at 32 keep-alive connections, with p50/p99
#                             latency, against nginx serving the same data directory as static
#                             files (the data directory is a GOPROXY tree). Goal: >= 1.0x nginx.
#   stored .zip hits          the same at 8 connections, for the 7 MB module's zip.
#                             Goal: >= 0.9x nginx.
#   hits with a client token  the .info load on a second Piraeus with --auth-file and Basic
#                             credentials, alternating with the same load on one without.
#                             Goal: >= 0.95x (issue 8).
#   unloaded hit latency      sequential curl requests, a new connection each (no goal).
#   cold go mod download      of a 7 MB and a 20 MB module through Piraeus, started on an empty
#                             data directory each run, against GOPROXY=direct. Goal: <= 1.1x.
#   warm go mod download      empty client cache, Piraeus has the version; against the go
#                             command reading the same tree from nginx (no goal).
#   server memory             Piraeus's peak resident set (VmHWM) after all the load above,
#                             against nginx's master and workers together (no goal).
#
# A local git repository stands in for the upstream host (git's insteadOf maps
# https://example.test/ to it), so the numbers measure Piraeus and the go command, not the
# network. Both servers log every request to a file in the temp directory, so neither is spared
# that cost. The script reports: a missed goal does not make it fail, only something it could
# not measure does.
#
# Usage: scripts/bench.sh   (or `make bench`, which first installs what is missing: wrk,
#        nginx, go, git, curl)
# Knobs (environment variables):
#   DURATION=10      seconds of each wrk run (each side, each of .info, .mod, .zip)
#   LOAD_RUNS=3      wrk runs per side and path, alternating Piraeus and nginx (and which goes
#                    first); medians reported
#   RUNS=3           go mod download runs per module and proxy, cold and warm; medians reported
#   HITS=200         sequential requests per path for the unloaded latency
#   SMALL_MB=7       size of the first bench module's incompressible file (its zip is the one
#                    the .zip load fetches)
#   LARGE_MB=20      size of the second bench module's file
#   META_CONNS=32 ZIP_CONNS=8 WRK_THREADS=2    wrk's load
#   KEEP=1           keep the temp directory (logs, wrk output, data) for inspection
#   NGINX=PATH       the nginx binary (default: nginx on PATH, else /usr/sbin/nginx)
#   CARGO=cargo      the cargo that builds the release binary
# With the defaults the measuring takes about 6 minutes once the release binary is built.
set -euo pipefail

DURATION=${DURATION:-10}
LOAD_RUNS=${LOAD_RUNS:-3}
RUNS=${RUNS:-3}
HITS=${HITS:-200}
SMALL_MB=${SMALL_MB:-7}
LARGE_MB=${LARGE_MB:-20}
META_CONNS=${META_CONNS:-32}
ZIP_CONNS=${ZIP_CONNS:-8}
WRK_THREADS=${WRK_THREADS:-2}
CARGO=${CARGO:-cargo}
VERSION=v1.0.0
SMALL=example.test/bench-small.git
LARGE=example.test/bench-large.git
# Bounds: the first release build on a 2-core machine takes about 10 minutes; anything else
# taking longer than STEP_TIMEOUT is stuck.
BUILD_TIMEOUT=3600
STEP_TIMEOUT=300

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT=$PWD
# Debian puts nginx in /usr/sbin, which is not on a normal user's PATH.
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

need() {
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "bench: '$1' is not installed; install it with: $2 (or run: make bench)" >&2
        exit 1
    fi
}
need curl "apt-get install -y curl"
need go "apt-get install -y golang-go"
need git "apt-get install -y git"
need wrk "apt-get install -y wrk"
need timeout "apt-get install -y coreutils"
need "$NGINX" "apt-get install -y nginx"

echo "bench: building the release binary" >&2
timeout "$BUILD_TIMEOUT" "$CARGO" build --release --quiet --bin piraeus
BIN=$REPO_ROOT/target/release/piraeus

TMP=$(mktemp -d "${TMPDIR:-/tmp}/piraeus-bench.XXXXXX")
mkdir -p "$TMP/logs" "$TMP/wrk" "$TMP/clients" "$TMP/work"
SERVER_PID=""
NGINX_PID=""
NGINX_WORKERS=()

# Stops one process we started: TERM, then KILL if it is still there after 10 s.
stop_pid() {
    local pid=$1
    [[ -n $pid ]] || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
stop_server() {
    stop_pid "$SERVER_PID"
    SERVER_PID=""
}
stop_nginx() {
    stop_pid "$NGINX_PID"
    NGINX_PID=""
    # The master takes its workers down with it on TERM, but not if it had to be killed.
    local pid
    for pid in "${NGINX_WORKERS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    NGINX_WORKERS=()
}
cleanup() {
    stop_server
    stop_pid "${PLAIN_PID:-}"
    stop_nginx
    if [[ ${KEEP:-0} == 1 ]]; then
        echo "bench: kept $TMP" >&2
    else
        chmod -R u+w "$TMP" 2>/dev/null || true
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A private HOME: git maps https://example.test/ to the local repositories, and nothing from
# the user's own git or go configuration applies.
export HOME=$TMP/home
mkdir -p "$HOME" "$TMP/repos"
cat >"$HOME/.gitconfig" <<EOF
[url "file://$TMP/repos/"]
	insteadOf = https://example.test/
[user]
	name = Piraeus Bench
	email = bench@example.test
[init]
	defaultBranch = main
[advice]
	detachedHead = false
[protocol "file"]
	allow = always
EOF
export GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
# The fetcher's git allows only https by default; the bench repositories are file:// URLs.
export GIT_ALLOW_PROTOCOL=https:file
export GOSUMDB=off GO111MODULE=on GOTOOLCHAIN=local GOFLAGS=-modcacherw
unset GOPROXY GOPRIVATE GONOPROXY GONOSUMDB GOENV

# --- the modules --------------------------------------------------------------------------
# make_module MODULE MB: a repository with a go.mod, 40 small Go files and MB megabytes of
# random bytes, so that its zip does not compress and its size is known.
make_module() {
    local module=$1 mb=$2 repo
    echo "bench: creating $module@$VERSION with a $mb MB incompressible file" >&2
    repo=$TMP/repos/${module#example.test/}
    mkdir -p "$repo/testdata"
    (
        cd "$repo"
        git init -q
        printf 'module %s\n\ngo 1.19\n' "$module" >go.mod
        for i in $(seq 1 40); do
            cat >"file$i.go" <<EOF
package bench

// Value$i returns a number derived from its argument.
func Value$i(x int) int { return x*$i + $i }
EOF
        done
        head -c "${mb}M" /dev/urandom >testdata/blob.bin
        git add -A
        git commit -q -m "bench module"
        git tag "$VERSION"
    )
}
make_module "$SMALL" "$SMALL_MB"
make_module "$LARGE" "$LARGE_MB"
# Other work on the machine (a build sharing the cores) skews every figure: the report shows
# the load average before and after.
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$SECONDS

# --- helpers ------------------------------------------------------------------------------
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# The median (the lower one for an even count) of the numbers given as arguments.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# Median and p99 (nearest rank) of the numbers in a file.
median_p99() {
    sort -g "$1" | awk '{ v[NR] = $1 } END {
        p = int(NR * 0.99); if (p < NR * 0.99) p++; if (p < 1) p = 1;
        printf "%s %s", v[int((NR + 1) / 2)], v[p] }'
}

CLIENTS=0
# client_download GOPROXY MODULE: `go mod download -json` with an empty module cache; prints the
# seconds taken and leaves the module's Sum in $TMP/last-sum.
client_download() {
    local goproxy=$1 module=$2 dir started finished
    CLIENTS=$((CLIENTS + 1))
    dir=$TMP/clients/$CLIENTS
    mkdir -p "$dir"
    started=$(now)
    (
        cd "$TMP/work"
        GOPROXY=$goproxy GOMODCACHE=$dir/mod GOPATH=$dir/gopath GOCACHE=$dir/gocache \
            timeout "$STEP_TIMEOUT" go mod download -json "$module@$VERSION" >"$dir/out.json"
    ) || {
        echo "bench: go mod download of $module through $goproxy failed:" >&2
        cat "$dir/out.json" >&2
        exit 1
    }
    finished=$(now)
    grep -o '"Sum": "[^"]*"' "$dir/out.json" >"$TMP/last-sum"
    chmod -R u+w "$dir" && rm -rf "$dir"
    elapsed "$started" "$finished"
}

port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
random_port() { echo $((20000 + RANDOM % 40000)); }

# wait_up URL PID [CURL_FLAGS]: true once URL answers, false if PID died or 10 s passed.
wait_up() {
    local url=$1 pid=$2 flags=${3:--s}
    for _ in $(seq 1 100); do
        if curl "$flags" -o /dev/null --max-time 1 "$url" 2>/dev/null; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# start_server DATA_DIR LOG [FLAG...]: piraeus over DATA_DIR on a free loopback port, logging
# (JSON, one line per request among others) to LOG; sets SERVER_PID and URL.
start_server() {
    local data_dir=$1 log=$2 port
    shift 2
    for _ in 1 2 3 4 5; do
        port=$(random_port)
        port_is_free "$port" || continue
        env -i PATH="$PATH" HOME="$HOME" GOSUMDB=off GIT_CONFIG_NOSYSTEM=1 GIT_ALLOW_PROTOCOL=https:file \
            PIRAEUS_LOG=info PIRAEUS_LOG_FORMAT=json \
            "$BIN" serve --listen "127.0.0.1:$port" --data-dir "$data_dir" --upstream direct "$@" \
            >>"$log" 2>&1 &
        SERVER_PID=$!
        URL=http://127.0.0.1:$port
        wait_up "$URL/healthz" "$SERVER_PID" -sf && return 0
        stop_server
    done
    echo "bench: piraeus did not start; its log:" >&2
    tail -n 20 "$log" >&2
    exit 1
}

# start_nginx ROOT: nginx serving ROOT as static files on a free loopback port, with its own
# configuration, pid file, temp paths and logs under $TMP/nginx (nothing from /etc/nginx or
# /var); sets NGINX_PID, NGINX_WORKERS and NGINX_URL.
start_nginx() {
    local root=$1 dir=$TMP/nginx port user_line="" temp_paths="" name
    mkdir -p "$dir/temp"
    # nginx started as root hands its workers to nobody, who cannot enter our 0700 temp dir.
    [[ $(id -u) == 0 ]] && user_line="user root;"
    # Every temp path nginx was built with points into /var/lib/nginx unless set here; a
    # directive for a module that was left out (nginx-light) would be an error.
    for name in client_body proxy fastcgi uwsgi scgi; do
        if [[ $name == client_body ]] || ! "$NGINX" -V 2>&1 | grep -q -- "--without-http_${name}_module"; then
            temp_paths+="    ${name}_temp_path $dir/temp/$name;"$'\n'
        fi
    done
    for _ in 1 2 3 4 5; do
        port=$(random_port)
        port_is_free "$port" || continue
        cat >"$dir/nginx.conf" <<EOF
# Written by scripts/bench.sh for one run.
daemon off;
master_process on;
worker_processes auto;
$user_line
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {
    worker_connections 1024;
}
http {
    types {
        application/json info;
        text/plain mod;
        application/zip zip;
    }
    default_type application/octet-stream;
    access_log $dir/access.log;
    sendfile on;
    tcp_nopush on;
    # wrk holds each connection for the whole run, as it does with Piraeus; nginx's default
    # (1000 requests) would make it reconnect and understate it.
    keepalive_requests 1000000;
$temp_paths
    server {
        listen 127.0.0.1:$port;
        root $root;
        # For wait_up, as Piraeus's /healthz.
        location = /healthz {
            access_log off;
            return 200 "ok\n";
        }
    }
}
EOF
        "$NGINX" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" >>"$dir/stderr.log" 2>&1 &
        NGINX_PID=$!
        NGINX_URL=http://127.0.0.1:$port
        if wait_up "$NGINX_URL/healthz" "$NGINX_PID" -sf; then
            find_nginx_workers
            return 0
        fi
        stop_nginx
    done
    echo "bench: nginx did not start; its log:" >&2
    tail -n 20 "$dir/error.log" "$dir/stderr.log" >&2
    exit 1
}

# The nginx master's children, found through /proc (ps is not always installed).
find_nginx_workers() {
    mapfile -t NGINX_WORKERS < <(grep -l "^PPid:[[:space:]]*$NGINX_PID\$" /proc/[0-9]*/status 2>/dev/null | cut -d/ -f3)
}

# cpu_ticks PID...: the user and system clock ticks the processes (all their threads) have used.
cpu_ticks() {
    local pid total=0
    for pid in "$@"; do
        total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
    done
    echo "$total"
}
CLOCK_TICKS=$(getconf CLK_TCK)

# wrk_run NAME URL CONNS: one wrk run (after a 1 s warm-up that is not counted); prints
# "req/s p50_ms p99_ms requests errors cpu_us", errors counting non-2xx answers and socket
# errors, cpu_us the CPU time the processes in CPU_PIDS spent per request during the run (the
# steadier comparison on a shared machine: throughput moves with whatever else runs).
CPU_PIDS=()
wrk_run() {
    local name=$1 url=$2 conns=$3 out=$TMP/wrk/$1.txt ticks_before ticks_after
    shift 3
    timeout 60 wrk -t"$WRK_THREADS" -c"$conns" -d1s --timeout 10s "$@" "$url" >/dev/null 2>&1 || true
    ticks_before=$(cpu_ticks "${CPU_PIDS[@]}")
    if ! timeout $((DURATION + 60)) wrk -t"$WRK_THREADS" -c"$conns" -d"${DURATION}s" --timeout 10s \
        --latency "$@" "$url" >"$out" 2>&1; then
        echo "bench: wrk against $url failed:" >&2
        cat "$out" >&2
        exit 1
    fi
    ticks_after=$(cpu_ticks "${CPU_PIDS[@]}")
    awk -v ticks=$((ticks_after - ticks_before)) -v hz="$CLOCK_TICKS" '
        function ms(v) {
            if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000;
            if (v ~ /m$/) return v * 60000; return v * 3600000
        }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        $1 == "Requests/sec:" { rps = $2 }
        / requests in / { n = $1 }
        /Non-2xx or 3xx responses:/ { errors += $NF }
        /Socket errors:/ { gsub(",", ""); errors += $4 + $6 + $8 + $10 }
        END { printf "%s %s %s %s %d %.1f", rps, p50, p99, n, errors, (n > 0 ? ticks / hz * 1e6 / n : 0) }' "$out"
}

# A row of the final table: measurement, Piraeus, reference, ratio, goal, met?
ROWS=()
row() { ROWS+=("$(printf '%s\t' "$@")"); }
DETAILS=()
detail() { DETAILS+=("$*"); }
NOTES=()
note() { NOTES+=("$*"); }

# ratio A B: A / B as printed in the table ("-" when either is missing).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "-" && b > 0) printf "%.2f", a / b; else print "-" }'; }
# verdict RATIO OP GOAL: judged on the printed ratio, so the table never contradicts itself.
verdict() {
    awk -v r="$1" -v op="$2" -v g="$3" 'BEGIN {
        if (r == "-") { print "no"; exit }
        print ((op == ">=" ? r + 0 >= g : r + 0 <= g) ? "yes" : "no") }'
}
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "-") print v; else printf f, v }'; }
mib_of_kib() { fmt "$(awk -v k="$1" 'BEGIN { print k / 1024 }')" '%.1f'; }

# --- 1. cold downloads: GOPROXY=direct against Piraeus on an empty data directory ---------
# Alternating the two per run spreads any drift of the machine over both sides.
declare -A COLD_DIRECT COLD_PIRAEUS INGEST
for module in "$SMALL" "$LARGE"; do
    echo "bench: cold go mod download of $module, GOPROXY=direct and through piraeus ($RUNS runs)" >&2
    direct=() through=() ingest=()
    for run in $(seq 1 "$RUNS"); do
        direct+=("$(client_download direct "$module")")
        direct_sum=$(cat "$TMP/last-sum")
        log=$TMP/logs/cold-${module#example.test/}-$run.log
        start_server "$TMP/data-cold-${module#example.test/}-$run" "$log"
        through+=("$(client_download "$URL" "$module")")
        stop_server
        if [[ $(cat "$TMP/last-sum") != "$direct_sum" ]]; then
            echo "bench: the sum of $module through piraeus differs from direct: $(cat "$TMP/last-sum") vs $direct_sum" >&2
            exit 1
        fi
        # The server's side: its own go mod download in scratch space, hashing, storing.
        ms=$(grep '"fetched and stored"' "$log" | sed -n 's/.*"duration_ms":\([0-9]*\).*/\1/p' | head -n 1)
        if [[ -n $ms ]]; then
            ingest+=("$(awk -v ms="$ms" 'BEGIN { printf "%.3f", ms / 1000 }')")
        fi
    done
    COLD_DIRECT[$module]=$(median "${direct[@]}")
    COLD_PIRAEUS[$module]=$(median "${through[@]}")
    INGEST[$module]=-
    if ((${#ingest[@]} > 0)); then
        INGEST[$module]=$(median "${ingest[@]}")
    else
        note "no 'fetched and stored' line in piraeus's log for $module"
    fi
    detail "cold $module: direct ${direct[*]} s; through piraeus ${through[*]} s; server fetch + hash + store ${ingest[*]:-?} s"
done

# --- 2. the hit server, and nginx over the same data directory ----------------------------
# One Piraeus serves everything from here on, so its peak memory covers ingesting both
# modules, the warm downloads and all the load.
echo "bench: storing both modules in a fresh piraeus for the hit measurements" >&2
HIT_DATA=$TMP/data-hits
HIT_LOG=$TMP/logs/piraeus-hits.log
start_server "$HIT_DATA" "$HIT_LOG"
for module in "$SMALL" "$LARGE"; do client_download "$URL" "$module" >/dev/null; done
start_nginx "$HIT_DATA"

# Both servers must answer the same bytes, and Piraeus from its store, or the comparison
# means nothing.
for kind in info mod zip; do
    path=/$SMALL/@v/$VERSION.$kind
    cache=$(curl -s --max-time 60 -o "$TMP/piraeus.$kind" -D - "$URL$path" | tr -d '\r' |
        awk -F': ' 'tolower($1) == "x-piraeus-cache" { print $2 }')
    curl -sf --max-time 60 -o "$TMP/nginx.$kind" "$NGINX_URL$path" || {
        echo "bench: nginx does not serve $path from $HIT_DATA" >&2
        exit 1
    }
    if ! cmp -s "$TMP/piraeus.$kind" "$TMP/nginx.$kind"; then
        echo "bench: piraeus and nginx answer $path differently" >&2
        exit 1
    fi
    [[ $cache == hit ]] || note "piraeus answered $path with x-piraeus-cache '$cache', not 'hit'"
done
ZIP_MIB=$(awk -v b="$(stat -c %s "$TMP/nginx.zip")" 'BEGIN { printf "%.1f", b / 1048576 }')

# --- 3. warm downloads: client cache empty, the proxy has the version -----------------------
# nginx serving the same tree is what the go command pays at best: the rest is Piraeus.
declare -A WARM_PIRAEUS WARM_NGINX
for module in "$SMALL" "$LARGE"; do
    echo "bench: warm go mod download of $module through piraeus and from nginx ($RUNS runs)" >&2
    through=() static=()
    for _ in $(seq 1 "$RUNS"); do
        through+=("$(client_download "$URL" "$module")")
        static+=("$(client_download "$NGINX_URL" "$module")")
    done
    WARM_PIRAEUS[$module]=$(median "${through[@]}")
    WARM_NGINX[$module]=$(median "${static[@]}")
    detail "warm $module: through piraeus ${through[*]} s; from nginx ${static[*]} s"
done

# --- 4. unloaded hit latency: one request at a time, a new connection each ----------------
declare -A LAT
for kind in info mod; do
    echo "bench: $HITS sequential .$kind requests to each server" >&2
    for side in piraeus nginx; do
        base=$URL
        [[ $side == nginx ]] && base=$NGINX_URL
        : >"$TMP/latency-$side-$kind"
        for _ in $(seq 1 "$HITS"); do
            curl -s -o /dev/null --max-time 10 -w '%{time_total}\n' \
                "$base/$SMALL/@v/$VERSION.$kind" >>"$TMP/latency-$side-$kind"
        done
        LAT[$side,$kind]=$(median_p99 "$TMP/latency-$side-$kind")
    done
done

# --- 5. load: wrk against each server in turn ---------------------------------------------
declare -A LOAD
load() {
    local kind=$1 conns=$2 side base r result out what order
    for r in $(seq 1 "$LOAD_RUNS"); do
        # Who goes first alternates, so a machine that drifts within a pair favours neither.
        order="piraeus nginx"
        ((r % 2 == 0)) && order="nginx piraeus"
        for side in $order; do
            base=$URL CPU_PIDS=("$SERVER_PID")
            [[ $side == nginx ]] && base=$NGINX_URL CPU_PIDS=("$NGINX_PID" "${NGINX_WORKERS[@]}")
            echo "bench: wrk ${DURATION}s, $conns connections, .$kind from $side (run $r of $LOAD_RUNS)" >&2
            result=$(wrk_run "$kind-$side-$r" "$base/$SMALL/@v/$VERSION.$kind" "$conns")
            read -r -a out <<<"$result"
            LOAD[$side,$kind,rps]+=" ${out[0]}"
            LOAD[$side,$kind,p50]+=" ${out[1]}"
            LOAD[$side,$kind,p99]+=" ${out[2]}"
            LOAD[$side,$kind,cpu]+=" ${out[5]}"
            LOAD[$side,$kind,requests]=$((${LOAD[$side,$kind,requests]:-0} + out[3]))
            LOAD[$side,$kind,errors]=$((${LOAD[$side,$kind,errors]:-0} + out[4]))
        done
    done
    # Each run of Piraeus is next to a run of nginx: the ratio within each pair, beside the
    # ratio of the medians, shows how much of a difference is the machine drifting.
    # shellcheck disable=SC2086 # lists of numbers
    detail ".$kind req/s: piraeus${LOAD[piraeus,$kind,rps]}; nginx${LOAD[nginx,$kind,rps]}; per pair $(paste -d' ' \
        <(printf '%s\n' ${LOAD[piraeus,$kind,rps]}) <(printf '%s\n' ${LOAD[nginx,$kind,rps]}) |
        awk '{ printf "%s%.2fx", (NR > 1 ? " " : ""), $1 / $2 }')"
    for side in piraeus nginx; do
        for what in rps p50 p99 cpu; do
            # shellcheck disable=SC2086 # a list of numbers
            LOAD[$side,$kind,$what]=$(median ${LOAD[$side,$kind,$what]})
        done
        if [[ ${LOAD[$side,$kind,errors]} != 0 ]]; then
            note "$side: ${LOAD[$side,$kind,errors]} non-2xx answers or socket errors under the .$kind load (see $TMP/wrk, KEEP=1)"
        fi
    done
}
load info "$META_CONNS"
load mod "$META_CONNS"
load zip "$ZIP_CONNS"

# --- 6. memory, after all of the above ----------------------------------------------------
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
PIRAEUS_HWM=$(hwm "$SERVER_PID")
PIRAEUS_RSS=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status")
NGINX_HWM=$(hwm "$NGINX_PID")
find_nginx_workers
NGINX_WORKER_COUNT=${#NGINX_WORKERS[@]}
for pid in "${NGINX_WORKERS[@]}"; do NGINX_HWM=$((NGINX_HWM + $(hwm "$pid"))); done
detail "piraeus memory after the load: peak $(mib_of_kib "$PIRAEUS_HWM") MiB, now $(mib_of_kib "$PIRAEUS_RSS") MiB; nginx (the reference): master + $NGINX_WORKER_COUNT workers, VmHWM added up"

# Both sides logged every request: the lines in each log against the requests wrk counted
# (plus warm-ups, latency probes and downloads, so a little more).
stop_nginx
piraeus_lines=$(grep -c '"piraeus::request"' "$HIT_LOG" || true)
nginx_lines=$(wc -l <"$TMP/nginx/access.log")
detail "request log lines: piraeus $piraeus_lines, nginx $nginx_lines"

# --- 6b. a client token on every hit ------------------------------------------------------
# Checking a token must not slow a hit measurably (issue 8): a second Piraeus over the same data
# directory with --auth-file, its .info load with Basic credentials alternating with the same
# load on the first (no token), as the other comparisons alternate.
TOKENS=$TMP/tokens
SECRET=$("$BIN" token new bench --auth-file "$TOKENS" | tail -n 1)
CREDENTIALS=$(printf 'bench:%s' "$SECRET" | base64 -w0)
PLAIN_PID=$SERVER_PID PLAIN_URL=$URL
start_server "$HIT_DATA" "$TMP/logs/piraeus-token.log" --auth-file "$TOKENS"
TOKEN_PID=$SERVER_PID TOKEN_URL=$URL
TOKEN_RPS=() PLAIN_RPS=() TOKEN_CPU=() PLAIN_CPU=()
for r in $(seq 1 "$LOAD_RUNS"); do
    echo "bench: wrk ${DURATION}s, $META_CONNS connections, .info from piraeus with and without a client token (run $r of $LOAD_RUNS)" >&2
    order="plain token"
    ((r % 2 == 0)) && order="token plain"
    for side in $order; do
        if [[ $side == plain ]]; then
            CPU_PIDS=("$PLAIN_PID")
            read -r -a out <<<"$(wrk_run "info-plain-$r" "$PLAIN_URL/$SMALL/@v/$VERSION.info" "$META_CONNS")"
            PLAIN_RPS+=("${out[0]}") PLAIN_CPU+=("${out[5]}")
        else
            CPU_PIDS=("$TOKEN_PID")
            read -r -a out <<<"$(wrk_run "info-token-$r" "$TOKEN_URL/$SMALL/@v/$VERSION.info" "$META_CONNS" \
                -H "Authorization: Basic $CREDENTIALS")"
            TOKEN_RPS+=("${out[0]}") TOKEN_CPU+=("${out[5]}")
            [[ ${out[4]} == 0 ]] || note "piraeus with a token: ${out[4]} non-2xx answers or socket errors"
        fi
    done
done
detail ".info with a token: req/s ${TOKEN_RPS[*]}, CPU us per request ${TOKEN_CPU[*]}; without: req/s ${PLAIN_RPS[*]}, CPU us per request ${PLAIN_CPU[*]}"
TOKEN_RPS=$(median "${TOKEN_RPS[@]}")
PLAIN_RPS=$(median "${PLAIN_RPS[@]}")
TOKEN_CPU=$(median "${TOKEN_CPU[@]}")
PLAIN_CPU=$(median "${PLAIN_CPU[@]}")
stop_pid "$TOKEN_PID"
SERVER_PID=$PLAIN_PID
stop_server

# --- 7. (reserved) the serve function --------------------------------------------------------
# A later section goes here: the Lambda serve function (piraeus-serve), e.g. its stripped
# binary size, adding its own rows to ROWS before the report.

# --- report -------------------------------------------------------------------------------
for kind in info mod zip; do
    if [[ $kind == zip ]]; then
        label=".zip hits ($ZIP_MIB MiB), $ZIP_CONNS conns" goal=0.9
    else
        label=".$kind hits, $META_CONNS conns" goal=1.0
    fi
    r=$(ratio "${LOAD[piraeus,$kind,rps]}" "${LOAD[nginx,$kind,rps]}")
    met=$(verdict "$r" ">=" "$goal")
    [[ ${LOAD[piraeus,$kind,errors]} == 0 && ${LOAD[nginx,$kind,errors]} == 0 ]] || met="no (errors)"
    row "$label: req/s" "$(fmt "${LOAD[piraeus,$kind,rps]}" '%.0f')" \
        "$(fmt "${LOAD[nginx,$kind,rps]}" '%.0f') nginx" "${r}x" ">= ${goal}x" "$met"
    row "$label: p50 / p99 ms" \
        "$(fmt "${LOAD[piraeus,$kind,p50]}" '%.2f') / $(fmt "${LOAD[piraeus,$kind,p99]}" '%.2f')" \
        "$(fmt "${LOAD[nginx,$kind,p50]}" '%.2f') / $(fmt "${LOAD[nginx,$kind,p99]}" '%.2f')" \
        "$(ratio "${LOAD[piraeus,$kind,p99]}" "${LOAD[nginx,$kind,p99]}")x p99" "-" "-"
    row "$label: CPU us per request" "$(fmt "${LOAD[piraeus,$kind,cpu]}" '%.1f')" \
        "$(fmt "${LOAD[nginx,$kind,cpu]}" '%.1f') nginx" \
        "$(ratio "${LOAD[piraeus,$kind,cpu]}" "${LOAD[nginx,$kind,cpu]}")x" "-" "-"
done
for kind in info mod; do
    read -r pm pp <<<"${LAT[piraeus,$kind]}"
    read -r nm np <<<"${LAT[nginx,$kind]}"
    row ".$kind hit, 1 request, new conn: p50 / p99 ms" \
        "$(awk -v m="$pm" -v p="$pp" 'BEGIN { printf "%.2f / %.2f", m * 1000, p * 1000 }')" \
        "$(awk -v m="$nm" -v p="$np" 'BEGIN { printf "%.2f / %.2f", m * 1000, p * 1000 }')" \
        "$(ratio "$pm" "$nm")x p50" "-" "-"
done
for module in "$SMALL" "$LARGE"; do
    mb=$SMALL_MB
    [[ $module == "$LARGE" ]] && mb=$LARGE_MB
    r=$(ratio "${COLD_PIRAEUS[$module]}" "${COLD_DIRECT[$module]}")
    row "cold download, $mb MB module: s" "$(fmt "${COLD_PIRAEUS[$module]}" '%.2f')" \
        "$(fmt "${COLD_DIRECT[$module]}" '%.2f') direct" "${r}x" "<= 1.1x" "$(verdict "$r" "<=" 1.1)"
    row "  of which server fetch + hash + store: s" "$(fmt "${INGEST[$module]}" '%.2f')" "-" \
        "$(ratio "${INGEST[$module]}" "${COLD_DIRECT[$module]}")x" "-" "-"
done
for module in "$SMALL" "$LARGE"; do
    mb=$SMALL_MB
    [[ $module == "$LARGE" ]] && mb=$LARGE_MB
    row "warm download, $mb MB module: s" "$(fmt "${WARM_PIRAEUS[$module]}" '%.2f')" \
        "$(fmt "${WARM_NGINX[$module]}" '%.2f') nginx" \
        "$(ratio "${WARM_PIRAEUS[$module]}" "${WARM_NGINX[$module]}")x" "-" "-"
done
r=$(ratio "$TOKEN_RPS" "$PLAIN_RPS")
row ".info hits with a client token: req/s" "$(fmt "$TOKEN_RPS" '%.0f')" \
    "$(fmt "$PLAIN_RPS" '%.0f') no token" "${r}x" ">= 0.95x" "$(verdict "$r" ">=" 0.95)"
row ".info hits with a client token: CPU us per request" "$(fmt "$TOKEN_CPU" '%.1f')" \
    "$(fmt "$PLAIN_CPU" '%.1f') no token" "$(ratio "$TOKEN_CPU" "$PLAIN_CPU")x" "-" "-"
row "server peak RSS after the load: MiB" "$(mib_of_kib "$PIRAEUS_HWM")" \
    "$(mib_of_kib "$NGINX_HWM") nginx" "$(ratio "$PIRAEUS_HWM" "$NGINX_HWM")x" "-" "-"

echo
echo "Piraeus benchmark, loopback only: $SMALL and $LARGE @$VERSION (${SMALL_MB} MB and ${LARGE_MB} MB incompressible files)"
echo "machine: $(nproc) cores, $(awk '/^MemTotal:/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo), $(go version | awk '{ print $3 }'), $(git --version), $("$NGINX" -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | awk 'NR == 1 { print "wrk " $2 }'), piraeus $("$BIN" --version | awk '{ print $2 }')"
echo "references: nginx serving the same data directory (sendfile, $NGINX_WORKER_COUNT workers, access log on); GOPROXY=direct for cold downloads"
echo "load average: $LOAD_BEFORE before, $(cut -d' ' -f1-3 /proc/loadavg) after; measuring took $((SECONDS - STARTED)) s"
echo "runs: wrk ${DURATION}s x $LOAD_RUNS per side (-t$WRK_THREADS, keep-alive, after a 1 s warm-up); $RUNS per download (medians); $HITS per unloaded latency"
echo
{
    printf 'measurement\tPiraeus\treference\tratio\tgoal\tmet?\t\n'
    printf '%s\n' "${ROWS[@]}"
} | awk -F'\t' '
    { for (i = 1; i < NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR; cols = NF - 1 }
    END {
        for (r = 1; r <= n; r++) {
            line = ""
            for (i = 1; i <= cols; i++) line = line sprintf(i < cols ? "%-" w[i] "s | " : "%s", cell[r, i])
            print line
            if (r == 1) { sep = ""; for (i = 1; i <= cols; i++) { s = sprintf("%" w[i] "s", ""); gsub(/ /, "-", s); sep = sep s (i < cols ? "-|-" : "") } print sep }
        }
    }'
echo
printf '%s\n' "${DETAILS[@]}"
if ((${#NOTES[@]} > 0)); then
    echo
    printf 'note: %s\n' "${NOTES[@]}"
fi
