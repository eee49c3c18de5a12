#!/usr/bin/env bash
# `make stack`: the serverless deployment on this machine. moto_server emulates S3 and DynamoDB,
# `piraeus provision` creates the bucket and table as template.yaml declares them,
# `cargo lambda watch` runs the serve, fetch and prefetch functions under the Lambda emulator,
# wired as on AWS (serve and prefetch invoke fetch through the emulator's Invoke API), and
# scripts/edge.mjs stands in for CloudFront in front of them: the template's viewer-request
# function, the bucket first, the serve function on 403/404, Cache-Control honoured.
#
# Prints one line, GOPROXY=http://... (the edge), on stdout once the stack answers; logs go to
# stderr. Runs until interrupted, then stops everything it started and deletes its scratch space.
#
# Passed through to the functions: HOME (git and .netrc credentials), GOPRIVATE, GONOSUMDB,
# GOSUMDB, GOINSECURE, GOFLAGS and PIRAEUS_UPSTREAM, plus any other PIRAEUS_* setting
# (PIRAEUS_DOWNLOAD_MODE, PIRAEUS_WAIT_TIMEOUT, PIRAEUS_GO, ...).
#
# Settings: STACK_EDGE_PORT (the edge, i.e. the GOPROXY, default 9001), STACK_PORT (the Lambda
# emulator: function URLs and Invoke API, default 9000), STACK_MOTO_PORT (default 5055),
# PIRAEUS_GIT_SSH_KEY and PIRAEUS_GITHUB_APP (documents as `piraeus serve` reads them, handed to
# the functions through moto's Secrets Manager, as on AWS), PIRAEUS_AUTH_FILE (client tokens from `piraeus token new NAME --auth-file FILE`: the edge then
# requires them, as ViewerAuth=Enabled does on AWS; unset, no authentication), PIRAEUS_VENV
# (the virtualenv, default .venv), PIRAEUS_MOTO_SERVER and PIRAEUS_CARGO_LAMBDA (the tools,
# default from the virtualenv), PIRAEUS_BIN (a `piraeus` binary to provision with; built when
# unset).
set -euo pipefail

auth_file=${PIRAEUS_AUTH_FILE:+$(realpath -m -- "$PIRAEUS_AUTH_FILE")}
# On AWS the edge checks tokens, never the functions.
unset PIRAEUS_AUTH_FILE

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

edge_port=${STACK_EDGE_PORT:-9001}
port=${STACK_PORT:-9000}
moto_port=${STACK_MOTO_PORT:-5055}
venv=${PIRAEUS_VENV:-$root/.venv}
moto_server=${PIRAEUS_MOTO_SERVER:-$root/scripts/moto-server}
cargo_lambda=${PIRAEUS_CARGO_LAMBDA:-$venv/bin/cargo-lambda}
cargo=${CARGO:-cargo}
concurrency=${STACK_CONCURRENCY:-8}
resources=piraeus-local

for tool in "$moto_server" "$cargo_lambda" "$venv/bin/python"; do
    if [ ! -x "$tool" ]; then
        echo "stack: $tool is missing; run 'make deps' first" >&2
        exit 2
    fi
done
if ! command -v node >/dev/null 2>&1; then
    echo "stack: node is missing (the local edge runs the CloudFront function with it); run 'make deps'" >&2
    exit 2
fi
if [ -n "$auth_file" ] && [ ! -f "$auth_file" ]; then
    echo "stack: PIRAEUS_AUTH_FILE $auth_file does not exist; create a token with 'piraeus token new NAME --auth-file $auth_file'" >&2
    exit 2
fi
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

# shellcheck source=scripts/local-aws.sh
source "$root/scripts/local-aws.sh"
local_aws_environment "$moto_port" "$resources" "$scratch"
export AWS_ENDPOINT_URL_LAMBDA="http://127.0.0.1:$port"
"$piraeus" provision --store "$PIRAEUS_STORE" --index "$PIRAEUS_INDEX" >&2

# Fetch credentials as on AWS: the documents PIRAEUS_GIT_SSH_KEY and PIRAEUS_GITHUB_APP name
# (the files `piraeus serve` reads) are put in moto's Secrets Manager, and the functions read
# them from there (PIRAEUS_GIT_SSH_KEY_SECRET, PIRAEUS_GITHUB_APP_SECRET), as they read the
# secrets GitSshKeySecretArn and GitHubAppSecretArn name.
for setting in PIRAEUS_GIT_SSH_KEY PIRAEUS_GITHUB_APP; do
    file=${!setting:-}
    [ -n "$file" ] || continue
    if [ ! -f "$file" ]; then
        echo "stack: $setting $file does not exist" >&2
        exit 2
    fi
    arn=$("$venv/bin/python" - "$setting" "$file" <<'PYTHON'
import os, sys, boto3
name, path = sys.argv[1], sys.argv[2]
with open(path, encoding="utf-8") as document:
    secret = boto3.client("secretsmanager", region_name=os.environ["AWS_REGION"]).create_secret(Name=f"piraeus-local/{name}", SecretString=document.read())
print(secret["ARN"])
PYTHON
)
    export "${setting}_SECRET=$arn"
    unset "$setting"
done

# Function instances are started with `cargo run --bin <function>` by the emulator; the first
# build above makes that a no-op. --ignore-changes: no rebuilds while the stack runs.
setsid "$cargo_lambda" lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" \
    --ignore-changes --concurrency "$concurrency" >"$scratch/watch.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$port/lambda-url/piraeus-serve/healthz" watch 120

# The viewer-request function as CloudFront gets it: template.yaml's code with ViewerAuth
# filled in (cfn-lint's loader reads the !Sub).
viewer_auth=Disabled
if [ -n "$auth_file" ]; then viewer_auth=Enabled; fi
"$venv/bin/python" - "$root/template.yaml" "$viewer_auth" >"$scratch/viewer-request.js" <<'PYTHON'
import re, sys
from cfnlint.decode import decode
template, problems = decode(sys.argv[1])
if problems or template is None:
    sys.exit("stack: cannot read template.yaml: " + "; ".join(str(p) for p in problems))
functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudFront::Function"]
if len(functions) != 1:
    sys.exit(f"stack: expected one CloudFront function in template.yaml, found {len(functions)}")
code = functions[0]["Properties"]["FunctionCode"]
code = code["Fn::Sub"] if isinstance(code, dict) else code
# !Sub [CODE, {ViewerAuth: !If [TokensRequired, ...]}]: the local edge decides ViewerAuth itself.
code = code[0] if isinstance(code, list) else code
values = {"ViewerAuth": sys.argv[2]}
def substitute(match):
    if match.group(1) not in values:
        sys.exit(f"stack: the function code uses ${{{match.group(1)}}}, which the edge cannot fill in")
    return values[match.group(1)]
print(re.sub(r"\$\{([^}!]+)\}", substitute, code), end="")
PYTHON
setsid node scripts/edge.mjs --listen "127.0.0.1:$edge_port" --function "$scratch/viewer-request.js" \
    --bucket "$AWS_ENDPOINT_URL/$resources" --serve "http://127.0.0.1:$port/lambda-url/piraeus-serve" \
    ${auth_file:+--auth-file "$auth_file"} >"$scratch/edge.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$edge_port/healthz" edge 30
setsid tail -q -n +1 -f "$scratch/watch.log" "$scratch/edge.log" >&2 &
pids+=($!)

echo "stack: S3 and DynamoDB at $AWS_ENDPOINT_URL (bucket and table $resources)" >&2
echo "stack: serve function URL (the edge's origin): http://127.0.0.1:$port/lambda-url/piraeus-serve" >&2
echo "stack: client tokens: ${auth_file:-not required (PIRAEUS_AUTH_FILE is unset)}" >&2
echo "stack: prefetch with: curl --data-binary @go.sum http://127.0.0.1:$port/lambda-url/piraeus-prefetch/prefetch" >&2
echo "GOPROXY=http://127.0.0.1:$edge_port"
wait "${pids[1]}"
