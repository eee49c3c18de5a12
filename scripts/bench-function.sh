#!/usr/bin/env bash
# Cold start of a Lambda function under the Lambda emulator (`cargo lambda watch`, as
# `make stack` runs it), over moto for S3 and DynamoDB: from the moment the function's process
# starts to its first answer, for a fresh instance each time.
#
# Each run starts a new `cargo lambda watch`, so the function has no instance yet, then sends
# one request to its function URL. The emulator starts the function (with `cargo run`, a no-op
# once built) only when that first request arrives. A cargo runner (target.<host>.runner) takes
# a timestamp just before it execs the function's binary, so the figure is the function's own:
# loading the binary, the Tokio runtime, logging, reading the settings, the SDK configuration
# and the proxy's wiring, asking the emulator's Runtime API for the event, and answering it.
# It does not include the emulator's `cargo run` (reported separately as "request to answer").
#
#   /healthz   the router answers alone: the start-up cost itself.
#   /readyz    also reaches S3 and DynamoDB (moto): the first SDK calls and connections.
#
# Then one more request to the same, now warm, instance for comparison.
#
# The binary is the host's (x86_64 here) built as `make build` builds it for arm64 (which cannot
# run here): the functions' package alone (-p piraeus-functions, so without the features the
# `piraeus` command turns on in shared dependencies) with PROFILE. It is built first, so the
# emulator's own `cargo run`, given the same package and profile, is a no-op.
#
# Usage: scripts/bench-function.sh
# Knobs (environment variables):
#   RUNS=5                  fresh instances per path
#   FUNCTION=piraeus-serve  piraeus-serve or piraeus-prefetch (HTTP functions)
#   PROFILE=lambda-small    cargo profile of the binary (`release` for the CLI's profile)
#   BENCH_PATHS="/healthz /readyz"
#   PIRAEUS_BIN=PATH        a `piraeus` binary to create the bucket and table with (built, debug,
#                           when unset)
#   PIRAEUS_VENV, PIRAEUS_MOTO_SERVER, PIRAEUS_CARGO_LAMBDA, CARGO  the tools, as for make stack
#   KEEP=1                  keep the temp directory (emulator and moto logs)
set -euo pipefail

RUNS=${RUNS:-5}
FUNCTION=${FUNCTION:-piraeus-serve}
PROFILE=${PROFILE:-lambda-small}
BENCH_PATHS=${BENCH_PATHS:-/healthz /readyz}
CARGO=${CARGO:-cargo}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv=${PIRAEUS_VENV:-$root/.venv}
moto_server=${PIRAEUS_MOTO_SERVER:-$root/scripts/moto-server}
cargo_lambda=${PIRAEUS_CARGO_LAMBDA:-$venv/bin/cargo-lambda}
python=$venv/bin/python
for tool in "$moto_server" "$cargo_lambda" "$python"; do
    if [ ! -x "$tool" ]; then
        echo "bench-function: $tool is missing; run 'make deps' first" >&2
        exit 2
    fi
done
case $FUNCTION in
    piraeus-serve | piraeus-prefetch) ;;
    *)
        echo "bench-function: FUNCTION must be piraeus-serve or piraeus-prefetch (the functions with a URL)" >&2
        exit 2
        ;;
esac

scratch=$(mktemp -d "${TMPDIR:-/tmp}/piraeus-bench-function.XXXXXX")
pids=()
stop_group() {
    local pid=$1
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 -- "-$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
}
cleanup() {
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do stop_group "$pid"; done
    if [ "${KEEP:-0}" = 1 ]; then
        echo "bench-function: kept $scratch" >&2
    else
        rm -rf "$scratch"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# Waits until something accepts TCP connections on the port (without sending a request, which
# would start a function instance).
wait_for_port() {
    local port=$1 what=$2 seconds=$3
    if ! "$python" - "$port" "$seconds" <<'EOF'; then
import socket, sys, time
port, deadline = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.02)
sys.exit(1)
EOF
        echo "bench-function: $what did not listen on port $port within ${seconds}s; its log:" >&2
        cat "$scratch/$what.log" >&2 || true
        exit 1
    fi
}

echo "bench-function: building $FUNCTION (profile $PROFILE)" >&2
"$CARGO" build --quiet --profile "$PROFILE" -p piraeus-functions --bin "$FUNCTION" >&2
target_dir=$("$CARGO" metadata --format-version 1 --no-deps | "$python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
profile_dir=$PROFILE
case $PROFILE in dev | test) profile_dir=debug ;; bench) profile_dir=release ;; esac
binary=$target_dir/$profile_dir/$FUNCTION
piraeus=${PIRAEUS_BIN:-}
if [ -z "$piraeus" ]; then
    "$CARGO" build --quiet --bin piraeus >&2
    piraeus=$target_dir/debug/piraeus
fi

moto_port=$(free_port)
setsid "$moto_server" -H 127.0.0.1 -p "$moto_port" >"$scratch/moto.log" 2>&1 &
pids+=($!)
wait_for_port "$moto_port" moto 60

resources=piraeus-bench
# shellcheck source=scripts/local-aws.sh
source "$root/scripts/local-aws.sh"
local_aws_environment "$moto_port" "$resources" "$scratch"
export PIRAEUS_LOG=${PIRAEUS_LOG:-info}
"$piraeus" provision --store "$PIRAEUS_STORE" --index "$PIRAEUS_INDEX" >"$scratch/provision.log" 2>&1 || {
    cat "$scratch/provision.log" >&2
    exit 1
}

# The runner cargo uses for `cargo run` on this host: a timestamp, then the binary itself.
host=$(rustc -vV | sed -n 's/^host: //p')
runner_var=CARGO_TARGET_$(echo "$host" | tr 'a-z-' 'A-Z_')_RUNNER
cat >"$scratch/stamp-runner" <<EOF
#!/bin/sh
date +%s%N >"$scratch/started"
exec "\$@"
EOF
chmod +x "$scratch/stamp-runner"
export "$runner_var=$scratch/stamp-runner"

# One fresh emulator (so a fresh instance) per measurement: prints
# "<process start to first answer ms> <request to first answer ms> <warm request ms> <status>".
measure() {
    local path=$1 run=$2 port
    port=$(free_port)
    rm -f "$scratch/started"
    setsid "$cargo_lambda" lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" \
        --ignore-changes --profile "$PROFILE" -p piraeus-functions >"$scratch/watch-$run.log" 2>&1 &
    local watch=$!
    pids+=("$watch")
    wait_for_port "$port" "watch-$run" 120
    if [ -e "$scratch/started" ]; then
        echo "bench-function: the emulator started a function before the first request" >&2
        exit 1
    fi
    "$python" - "http://127.0.0.1:$port/lambda-url/$FUNCTION$path" "$scratch/started" <<'EOF'
import sys, time, urllib.request, urllib.error
url, stamp = sys.argv[1], sys.argv[2]
def get():
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
sent = time.time_ns()
status = get()
answered = time.time_ns()
started = int(open(stamp).read())
warm_sent = time.time_ns()
get()
warm = time.time_ns() - warm_sent
print(f"{(answered - started) / 1e6:.1f} {(answered - sent) / 1e6:.1f} {warm / 1e6:.1f} {status}")
EOF
    stop_group "$watch"
}

size=$(stat -c %s "$binary")
echo "function   $FUNCTION, profile $PROFILE, $host, $size bytes ($(du -h "$binary" | cut -f1))"
printf '%-9s %-4s %22s %22s %14s %s\n' path run "process start->answer" "request->answer" "warm request" status
for path in $BENCH_PATHS; do
    results=()
    for run in $(seq "$RUNS"); do
        # Not in $(...): the emulator must be started by this shell, so an interrupt stops it.
        measure "$path" "$run" >"$scratch/result"
        read -r start request warm status <"$scratch/result"
        printf '%-9s %-4s %19s ms %19s ms %11s ms %s\n' "$path" "$run" "$start" "$request" "$warm" "$status"
        if [ "$status" != 200 ]; then
            echo "bench-function: $path answered $status; the emulator's log:" >&2
            cat "$scratch/watch-$run.log" >&2
            exit 1
        fi
        results+=("$start")
    done
    printf '%s\n' "${results[@]}" | sort -n | awk -v path="$path" '
        { v[NR] = $1 }
        END {
            median = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%-9s process start to first answer: best %.1f ms, median %.1f ms, worst %.1f ms (n=%d)\n", path, v[1], median, v[NR], NR
        }'
done
