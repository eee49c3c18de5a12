#!/usr/bin/env bash
# Measures Piraeus against a direct `go mod download` of the same module, on loopback only.
#
# A local git repository stands in for the upstream host (git's insteadOf maps
# https://example.test/ to it), holding a Go module with a ~20 MB incompressible file, so the
# numbers measure Piraeus and the go command, not the network. Prints a table of:
#   1. cold `go mod download` with GOPROXY=direct
#   2. the same through Piraeus, cold (empty data directory each run)
#   3. the same through Piraeus, warm (the server has it; the client cache is empty)
#   4. hit latency of .info and .mod (sequential curl requests) and the .zip download
#   5. the server's peak resident memory (VmHWM)
#
# Usage: scripts/bench.sh            (or: make bench)
# Knobs: RUNS=3 HITS=200 ZIP_MB=20 KEEP=1 (keep the temp directory for inspection)
set -euo pipefail

RUNS=${RUNS:-3}
HITS=${HITS:-200}
ZIP_MB=${ZIP_MB:-20}
MODULE=example.test/bench.git
VERSION=v1.0.0
STEP_TIMEOUT=300

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT=$PWD

need() {
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "bench: '$1' is not installed; install it with: $2" >&2
        exit 1
    fi
}
need curl "apt-get install -y curl"
need go "apt-get install -y golang-go (or: make deps)"
need git "apt-get install -y git (or: make deps)"
need timeout "apt-get install -y coreutils"

echo "bench: building the release binary" >&2
cargo build --release --quiet --bin piraeus
BIN=$REPO_ROOT/target/release/piraeus

TMP=$(mktemp -d "${TMPDIR:-/tmp}/piraeus-bench.XXXXXX")
SERVER_PID=""
stop_server() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
cleanup() {
    stop_server
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
mkdir -p "$HOME" "$TMP/repos" "$TMP/work"
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
# The fetcher's git allows only https by default; the bench repository is a file:// URL.
export GIT_ALLOW_PROTOCOL=https:file
export GOSUMDB=off GO111MODULE=on GOTOOLCHAIN=local GOFLAGS=-modcacherw
unset GOPROXY GOPRIVATE GONOPROXY GONOSUMDB GOENV

# --- the module ---------------------------------------------------------------------------
echo "bench: creating $MODULE@$VERSION with a ${ZIP_MB} MB incompressible file" >&2
REPO=$TMP/repos/bench.git
mkdir -p "$REPO/testdata"
(
    cd "$REPO"
    git init -q
    printf 'module %s\n\ngo 1.19\n' "$MODULE" >go.mod
    for i in $(seq 1 40); do
        cat >"file$i.go" <<EOF
package bench

// Value$i returns a number derived from its argument.
func Value$i(x int) int { return x*$i + $i }
EOF
    done
    head -c "${ZIP_MB}M" /dev/urandom >testdata/blob.bin
    git add -A
    git commit -q -m "bench module"
    git tag "$VERSION"
)

# --- helpers ------------------------------------------------------------------------------
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# best and median of the numbers given as arguments
best_median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%s %s", v[1], v[int((NR + 1) / 2)] }'
}

# median and p99 (nearest rank) of the numbers in a file
median_p99() {
    sort -g "$1" | awk '{ v[NR] = $1 } END {
        p = int(NR * 0.99); if (p < NR * 0.99) p++; if (p < 1) p = 1;
        printf "%s %s", v[int((NR + 1) / 2)], v[p] }'
}

CLIENTS=0
# `go mod download -json` of the module with an empty module cache; prints seconds taken and
# leaves the module's Sum in $TMP/last-sum.
client_download() {
    local goproxy=$1 dir started finished
    CLIENTS=$((CLIENTS + 1))
    dir=$TMP/clients/$CLIENTS
    mkdir -p "$dir"
    started=$(now)
    (
        cd "$TMP/work"
        GOPROXY=$goproxy GOMODCACHE=$dir/mod GOPATH=$dir/gopath GOCACHE=$dir/gocache \
            timeout "$STEP_TIMEOUT" go mod download -json "$MODULE@$VERSION" >"$dir/out.json"
    ) || {
        echo "bench: go mod download through $goproxy failed:" >&2
        cat "$dir/out.json" >&2
        exit 1
    }
    finished=$(now)
    grep -o '"Sum": "[^"]*"' "$dir/out.json" >"$TMP/last-sum"
    chmod -R u+w "$dir" && rm -rf "$dir"
    elapsed "$started" "$finished"
}

port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Starts piraeus over a data directory on a free loopback port; sets SERVER_PID and URL.
start_server() {
    local data_dir=$1 port attempt
    for attempt in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 40000))
        port_is_free "$port" || continue
        env -i PATH="$PATH" HOME="$HOME" GOSUMDB=off GIT_CONFIG_NOSYSTEM=1 PIRAEUS_LOG=info \
            PIRAEUS_LOG_FORMAT=json "$BIN" serve --listen "127.0.0.1:$port" --data-dir "$data_dir" --upstream direct \
            >>"$TMP/server.log" 2>&1 &
        SERVER_PID=$!
        URL=http://127.0.0.1:$port
        for _ in $(seq 1 100); do
            if curl -sf --max-time 1 "$URL/healthz" >/dev/null 2>&1; then
                return 0
            fi
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        stop_server
    done
    echo "bench: piraeus did not start; its log:" >&2
    tail -n 20 "$TMP/server.log" >&2
    exit 1
}

ROWS=()
# row LABEL RESULT
row() { ROWS+=("$(printf '%-46s %s' "$1" "$2")"); }
seconds_row() {
    local label=$1 best median
    shift
    read -r best median <<<"$(best_median "$@")"
    row "$label" "$(printf 'best %.2f s, median %.2f s (n=%d)' "$best" "$median" "$#")"
}

# --- 1. direct ----------------------------------------------------------------------------
echo "bench: cold go mod download, GOPROXY=direct" >&2
direct=()
for _ in $(seq 1 "$RUNS"); do direct+=("$(client_download direct)"); done
direct_sum=$(cat "$TMP/last-sum")
seconds_row "cold download, GOPROXY=direct" "${direct[@]}"

# --- 2. through piraeus, cold -------------------------------------------------------------
echo "bench: cold go mod download through piraeus (empty data directory each run)" >&2
cold=()
for run in $(seq 1 "$RUNS"); do
    stop_server
    start_server "$TMP/data-$run"
    cold+=("$(client_download "$URL")")
done
if [[ $(cat "$TMP/last-sum") != "$direct_sum" ]]; then
    echo "bench: the sum through piraeus differs from direct: $(cat "$TMP/last-sum") vs $direct_sum" >&2
    exit 1
fi
seconds_row "cold download through piraeus" "${cold[@]}"
# The server's side of each cold run: go mod download in its scratch GOPATH, hashing, storing.
mapfile -t ingests < <(grep '"message":"fetched and stored"' "$TMP/server.log" |
    sed -n 's/.*"duration_ms":\([0-9]*\).*/\1/p' | awk '{ printf "%.3f\n", $1 / 1000 }')
if ((${#ingests[@]} > 0)); then
    seconds_row "  of which server fetch + hash + store" "${ingests[@]}"
fi

# --- 3. through piraeus, warm -------------------------------------------------------------
echo "bench: warm go mod download through piraeus (empty client cache)" >&2
warm=()
for _ in $(seq 1 "$RUNS"); do warm+=("$(client_download "$URL")"); done
seconds_row "warm download through piraeus" "${warm[@]}"

# --- 4. hit latency -----------------------------------------------------------------------
echo "bench: $HITS sequential requests each for .info and .mod" >&2
for kind in info mod; do
    : >"$TMP/latency-$kind"
    for _ in $(seq 1 "$HITS"); do
        curl -s -o /dev/null --max-time 10 -w '%{time_total}\n' \
            "$URL/$MODULE/@v/$VERSION.$kind" >>"$TMP/latency-$kind"
    done
    read -r median p99 <<<"$(median_p99 "$TMP/latency-$kind")"
    row ".$kind hit latency" "$(awk -v n="$HITS" -v m="$median" -v p="$p99" \
        'BEGIN { printf "median %.2f ms, p99 %.2f ms (n=%d)", m * 1000, p * 1000, n }')"
done

echo "bench: .zip downloads" >&2
cache=$(curl -s -o /dev/null -D - --max-time 60 "$URL/$MODULE/@v/$VERSION.zip" | tr -d '\r' |
    awk -F': ' 'tolower($1) == "x-piraeus-cache" { print $2 }')
if [[ $cache != hit ]]; then
    echo "bench: expected the zip to be a cache hit, got '$cache'" >&2
    exit 1
fi
zip_times=()
zip_bytes=0
for _ in $(seq 1 "$RUNS"); do
    read -r seconds zip_bytes <<<"$(curl -s -o /dev/null --max-time 60 \
        -w '%{time_total} %{size_download}' "$URL/$MODULE/@v/$VERSION.zip")"
    zip_times+=("$seconds")
done
read -r best median <<<"$(best_median "${zip_times[@]}")"
row ".zip hit download" "$(awk -v b="$best" -v m="$median" -v z="$zip_bytes" -v n="$RUNS" \
    'BEGIN { printf "%.1f MiB: best %.1f ms (%.0f MiB/s), median %.1f ms (%.0f MiB/s) (n=%d)",
        z / 1048576, b * 1000, z / 1048576 / b, m * 1000, z / 1048576 / m, n }')"

# --- 5. memory ----------------------------------------------------------------------------
hwm_kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status")
rss_kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status")
# This server ingested the module (cold run) and then served its zip 2 * RUNS + 2 times.
row "server memory (VmHWM, VmRSS)" "$(awk -v h="$hwm_kib" -v r="$rss_kib" -v n=$((2 * RUNS + 2)) \
    'BEGIN { printf "peak %.1f MiB, now %.1f MiB (after one ingest and %d zip downloads)", h / 1024, r / 1024, n }')"

# --- report -------------------------------------------------------------------------------
echo
echo "Piraeus benchmark: $MODULE@$VERSION (${ZIP_MB} MB incompressible file), loopback only"
echo "machine: $(nproc) cores, $(awk '/^MemTotal:/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo), $(go version | awk '{ print $3 }'), $(git --version), piraeus $("$BIN" --version | awk '{ print $2 }')"
echo "runs: $RUNS per download measurement, $HITS per latency measurement"
echo
printf '%-46s %s\n' "measurement" "result"
printf '%s\n' "${ROWS[@]}"
