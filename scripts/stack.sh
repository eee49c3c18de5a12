#!/usr/bin/env bash
# `make stack`: the serverless deployment on this machine. moto_server emulates S3 and DynamoDB,
# `piraeus provision` creates the bucket and table as template.yaml declares them, and
# `cargo lambda watch` runs the serve, fetch and prefetch functions under the Lambda emulator,
# wired as on AWS: serve and prefetch invoke fetch through the emulator's Invoke API.
#
# Prints one line, GOPROXY=http://..., on stdout once the stack answers; logs go to stderr.
# Runs until interrupted, then stops everything it started and deletes its scratch space.
#
# Passed through to the functions: HOME (git and .netrc credentials), GOPRIVATE, GONOSUMDB,
# GOSUMDB, GOINSECURE, GOFLAGS and PIRAEUS_UPSTREAM, plus any other PIRAEUS_* setting
# (PIRAEUS_DOWNLOAD_MODE, PIRAEUS_WAIT_TIMEOUT, PIRAEUS_GO, ...).
#
# Settings: STACK_PORT (emulator, default 9000), STACK_MOTO_PORT (default 5055),
# PIRAEUS_MOTO_SERVER and PIRAEUS_CARGO_LAMBDA (the tools, default from .venv), PIRAEUS_BIN (a
# `piraeus` binary to provision with; built when unset).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

port=${STACK_PORT:-9000}
moto_port=${STACK_MOTO_PORT:-5055}
moto_server=${PIRAEUS_MOTO_SERVER:-$root/scripts/moto-server}
cargo_lambda=${PIRAEUS_CARGO_LAMBDA:-$root/.venv/bin/cargo-lambda}
cargo=${CARGO:-cargo}
concurrency=${STACK_CONCURRENCY:-8}
resources=piraeus-local

for tool in "$moto_server" "$cargo_lambda"; do
    if [ ! -x "$tool" ]; then
        echo "stack: $tool is missing; run 'make deps' first" >&2
        exit 2
    fi
done
if ! command -v go >/dev/null 2>&1 && [ -z "${PIRAEUS_GO:-}" ]; then
    echo "stack: the go command is missing (the fetch function runs it); run 'make deps'" >&2
    exit 2
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/piraeus-stack.XXXXXX")
pids=()
cleanup() {
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do
        # Each service runs in its own process group: this also stops the function instances.
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do
            kill -0 -- "-$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Answers once the URL gives any HTTP status below 500 (the emulator says 5xx while it starts).
wait_for() {
    local url=$1 what=$2 seconds=$3
    for _ in $(seq $((seconds * 10))); do
        if python3 - "$url" <<'EOF' 2>/dev/null; then return 0; fi
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=5)
except urllib.error.HTTPError as error:
    sys.exit(0 if error.code < 500 else 1)
EOF
        sleep 0.1
    done
    echo "stack: $what did not start within ${seconds}s; its log:" >&2
    cat "$scratch/$what.log" >&2 || true
    exit 1
}

echo "stack: building the functions" >&2
# Exactly what `cargo run --bin <function>` builds (the functions' package alone, so the same
# features), which makes the emulator's own builds no-ops. `piraeus` is another package with
# other features (SQLite, clap): built on its own, unless the caller has one.
"$cargo" build --quiet --bin piraeus-serve --bin piraeus-fetch --bin piraeus-prefetch >&2
piraeus=${PIRAEUS_BIN:-}
if [ -z "$piraeus" ]; then
    "$cargo" build --quiet --bin piraeus >&2
    piraeus=$root/target/debug/piraeus
fi

setsid "$moto_server" -H 127.0.0.1 -p "$moto_port" >"$scratch/moto.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$moto_port/" moto 60

export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"
export AWS_ENDPOINT_URL_LAMBDA="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=piraeus-local AWS_SECRET_ACCESS_KEY=piraeus-local
export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export PIRAEUS_STORE="s3://$resources" PIRAEUS_INDEX="dynamodb://$resources"
export PIRAEUS_FETCH_FUNCTION=piraeus-fetch
export PIRAEUS_SCRATCH_DIR="$scratch/fetch"
"$piraeus" provision --store "$PIRAEUS_STORE" --index "$PIRAEUS_INDEX" >&2

# Function instances are started with `cargo run --bin <function>` by the emulator; the first
# build above makes that a no-op. --ignore-changes: no rebuilds while the stack runs.
setsid "$cargo_lambda" lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" \
    --ignore-changes --concurrency "$concurrency" >"$scratch/watch.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$port/lambda-url/piraeus-serve/healthz" watch 120
setsid tail -n +1 -f "$scratch/watch.log" >&2 &
pids+=($!)

echo "stack: S3 and DynamoDB at $AWS_ENDPOINT_URL (bucket and table $resources)" >&2
echo "stack: prefetch with: curl --data-binary @go.sum http://127.0.0.1:$port/lambda-url/piraeus-prefetch/prefetch" >&2
echo "GOPROXY=http://127.0.0.1:$port/lambda-url/piraeus-serve"
wait "${pids[1]}"
