#!/usr/bin/env bash
# Builds the Lambda layer the fetch function runs the Go toolchain from (template.yaml,
# GoToolchainLayer, ContentUri build/layer), for arm64 Amazon Linux 2023 (provided.al2023).
# A layer is unpacked under /opt:
#
#   /opt/go/                the Go distribution          PIRAEUS_GO=/opt/go/bin/go
#   /opt/bin/git            git (a wrapper, see below)   on Lambda's default PATH
#   /opt/libexec/git-core/  git itself and its helpers   GIT_EXEC_PATH (git-remote-https above all)
#   /opt/lib/               libraries git needs beyond glibc (libcurl, libpcre2, ...)
#   /opt/share/git-core/    git's repository templates
#
# /opt/bin/git is a small shell wrapper rather than the git binary: Piraeus runs the go command
# with a cleared environment (src/fetch/go.rs passes PATH, HOME and GIT_* through, not
# LD_LIBRARY_PATH), so git would not find /opt/lib. The wrapper sets LD_LIBRARY_PATH for git
# and every helper it starts.
#
# Lambda's limit is 250 MB unzipped for the function and all its layers together; the function
# binary takes ~20 MB, so the build fails when the layer exceeds LAYER_MAX_MB (default 220).
#
# Needs network access (go.dev and the Amazon Linux package repositories) and docker able to run
# linux/arm64 containers (natively, or on x86-64 through QEMU binfmt emulation).
#
# Settings (environment):
#   GO_VERSION     Go release (default 1.26.1).
#   GO_SHA256      SHA-256 of go${GO_VERSION}.linux-arm64.tar.gz as listed on https://go.dev/dl/.
#                  Pinned here for the default version; required for any other version. There
#                  is no way to skip the check: an unverified toolchain would sign every go.sum
#                  line Piraeus ever serves.
#   LAYER_DIR      Output directory, emptied first (default build/layer under the repository).
#   CACHE_DIR      Where the Go archive is kept between runs (default build/cache).
#   LAYER_MAX_MB   Size above which the build fails (default 220).
#   BUILD_IMAGE    Image git is taken from (default public.ecr.aws/amazonlinux/amazonlinux:2023).
#   RUNTIME_IMAGE  Image the layer is smoke-tested in (default public.ecr.aws/lambda/provided:al2023).
#   SMOKE_TEST     1 (default): download a module over git with the layer inside RUNTIME_IMAGE.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

default_go_version=1.26.1
default_go_sha256=a290581cfe4fe28ddd737dde3095f3dbeb7f2e4065cab4eae44dfc53b760c2f7

go_version=${GO_VERSION:-$default_go_version}
layer_dir=${LAYER_DIR:-build/layer}
cache_dir=${CACHE_DIR:-build/cache}
layer_max_mb=${LAYER_MAX_MB:-220}
build_image=${BUILD_IMAGE:-public.ecr.aws/amazonlinux/amazonlinux:2023}
runtime_image=${RUNTIME_IMAGE:-public.ecr.aws/lambda/provided:al2023}
smoke_test=${SMOKE_TEST:-1}

say() { echo "layer: $*" >&2; }
die() {
    echo "layer: error: $*" >&2
    exit 1
}

# --- Prerequisites ------------------------------------------------------------------------
if [ -n "${GO_SHA256:-}" ]; then
    go_sha256=$GO_SHA256
elif [ "$go_version" = "$default_go_version" ]; then
    go_sha256=$default_go_sha256
else
    die "GO_SHA256 must be set for GO_VERSION=$go_version: the SHA-256 of go${go_version}.linux-arm64.tar.gz from https://go.dev/dl/ (or https://go.dev/dl/?mode=json&include=all)"
fi
[[ $go_sha256 =~ ^[0-9a-f]{64}$ ]] || die "GO_SHA256 must be 64 lower-case hex digits, got '$go_sha256'"
[[ $go_version =~ ^[0-9]+\.[0-9]+(\.[0-9]+)?((rc|beta)[0-9]+)?$ ]] || die "GO_VERSION '$go_version' does not look like a Go release (e.g. $default_go_version)"

command -v curl >/dev/null 2>&1 ||
    die "curl is missing; it downloads the Go toolchain (this script needs network access to go.dev)"
command -v docker >/dev/null 2>&1 ||
    die "docker is missing; git and its libraries are taken from an Amazon Linux 2023 arm64 container"
docker info >/dev/null 2>&1 ||
    die "docker is installed but the daemon does not answer (is it running, and may this user use it?)"
for tool in sha256sum tar du find; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing"
done
case $layer_dir in
    "" | / | . | "$root") die "LAYER_DIR=$layer_dir would empty more than the layer" ;;
esac

# --- Go ------------------------------------------------------------------------------------
archive_name=go${go_version}.linux-arm64.tar.gz
archive=$cache_dir/$archive_name
mkdir -p "$cache_dir"
verify() { echo "$go_sha256  $1" | sha256sum --check --status; }
if [ -f "$archive" ] && ! verify "$archive"; then
    say "cached $archive does not match GO_SHA256; downloading it again"
    rm -f "$archive"
fi
if [ ! -f "$archive" ]; then
    say "downloading https://go.dev/dl/$archive_name"
    curl --fail --silent --show-error --location --proto '=https' --tlsv1.2 --retry 3 \
        --output "$archive.part" "https://go.dev/dl/$archive_name" ||
        die "downloading https://go.dev/dl/$archive_name failed (network access to go.dev is needed)"
    if ! verify "$archive.part"; then
        actual=$(sha256sum "$archive.part" | cut -d' ' -f1)
        rm -f "$archive.part"
        die "$archive_name has SHA-256 $actual, expected $go_sha256; refusing to use it"
    fi
    mv "$archive.part" "$archive"
fi
say "verified $archive_name ($go_sha256)"

rm -rf "$layer_dir"
mkdir -p "$layer_dir"
layer_dir=$(cd "$layer_dir" && pwd)
tar -xzf "$archive" -C "$layer_dir"
go_root=$layer_dir/go
[ -x "$go_root/bin/go" ] || die "$archive_name has no go/bin/go"

# The fetch function only runs `go mod download` and `go list -m`: documentation, tests and the
# profiling/debugging tools are dead weight against the 250 MB limit. pkg/tool must stay (the go
# command locates GOROOT by it), and so do go.env (GOPROXY/GOSUMDB defaults) and VERSION.
rm -rf "$go_root"/{api,doc,misc,test} "$go_root/lib/wasm"
find "$go_root/src" -type d -name testdata -prune -exec rm -rf {} +
find "$go_root/src" -type f -name '*_test.go' -delete
for tool in addr2line covdata doc fix nm objdump pprof preprofile test2json trace; do
    rm -f "$go_root/pkg/tool/linux_arm64/$tool"
done

# --- git -----------------------------------------------------------------------------------
# Runs inside the Amazon Linux 2023 arm64 image with the layer mounted at /opt, so the paths
# baked into the wrapper are the ones Lambda will use.
# shellcheck disable=SC2016 # expanded inside the container
git_script='
set -euo pipefail
# Files made here belong to root; hand them back even when a step fails, so the next run on
# the host can delete them.
trap "chown -R \"\$HOST_UID:\$HOST_GID\" /opt/bin /opt/lib /opt/libexec /opt/share 2>/dev/null || true" EXIT
dnf install -y -q git-core >/dev/null
loader=/lib/ld-linux-aarch64.so.1
[ -e "$loader" ] || loader=/lib64/ld-linux-aarch64.so.1
[ -e "$loader" ] || { echo "no aarch64 dynamic loader: is this an arm64 container?" >&2; exit 1; }

mkdir -p /opt/bin /opt/lib /opt/libexec/git-core /opt/share/git-core
# Dashed built-ins (git-add, ...) are links to git itself, which runs them internally: leave
# them out rather than store a hundred copies of one binary.
for entry in /usr/libexec/git-core/*; do
    [ "$entry" -ef /usr/bin/git ] && continue
    cp -RL "$entry" /opt/libexec/git-core/
done
cp -L /usr/bin/git /opt/libexec/git-core/git
cp -RL /usr/share/git-core/templates /opt/share/git-core/

# Every library an executable here needs, except glibc, which must match the loader Lambda
# runs them with.
for file in /opt/libexec/git-core/*; do
    if [ -f "$file" ] && [ -x "$file" ]; then
        "$loader" --list "$file" 2>/dev/null || true # scripts are not ELF files
    fi
done | awk "\$2 == \"=>\" && \$3 ~ /^\\// { print \$1, \$3 }" | sort -u |
while read -r name path; do
    case $name in
        ld-linux-*|libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|libresolv.so.*|libutil.so.*|libanl.so.*|libmvec.so.*|libnss_*|libBrokenLocale.so.*|libc_malloc_debug.so.*) ;;
        *) cp -L "$path" "/opt/lib/$name" ;;
    esac
done

cat >/opt/bin/git <<'"'"'WRAPPER'"'"'
#!/bin/sh
# git from the Piraeus Go toolchain layer (infra/layer/build.sh). The go command runs git with a
# cleared environment, so the library path is set here, for git and every helper it starts.
LD_LIBRARY_PATH=/opt/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
GIT_EXEC_PATH=${GIT_EXEC_PATH:-/opt/libexec/git-core}
GIT_TEMPLATE_DIR=${GIT_TEMPLATE_DIR:-/opt/share/git-core/templates}
export LD_LIBRARY_PATH GIT_EXEC_PATH GIT_TEMPLATE_DIR
exec /opt/libexec/git-core/git "$@"
WRAPPER
chmod 755 /opt/bin/git
env -i PATH=/opt/bin:/usr/bin /opt/bin/git --version
'
say "collecting git from $build_image (linux/arm64)"
if ! docker run --rm --platform linux/arm64 \
    --env HOST_UID="$(id -u)" --env HOST_GID="$(id -g)" \
    --volume "$layer_dir:/opt" \
    "$build_image" /bin/bash -c "$git_script"; then
    die "the linux/arm64 build container failed. It needs network access to the Amazon Linux repositories; on an x86-64 host, docker also needs arm64 emulation (e.g. docker run --privileged --rm tonistiigi/binfmt --install arm64)"
fi

# SAM zips the layer directory; a symbolic link would not survive the round trip everywhere.
if [ -n "$(find "$layer_dir" -type l -print -quit)" ]; then
    find "$layer_dir" -type l >&2
    die "the layer contains symbolic links (listed above)"
fi

# --- Smoke test ----------------------------------------------------------------------------
# The real runtime image, the environment the fetch function gives the go command, and a
# module fetched straight from its git repository: proves go, git, git-remote-https and the
# copied libraries work where they will run.
if [ "$smoke_test" = 1 ]; then
    say "smoke test in $runtime_image: go mod download over git"
    # shellcheck disable=SC2016 # expanded inside the container
    smoke_script='
set -e
work=$(mktemp -d)
cd "$work"
env -i PATH=/usr/local/bin:/usr/bin:/bin:/opt/bin HOME="$work" GIT_EXEC_PATH=/opt/libexec/git-core \
    GOPATH="$work/gopath" GOMODCACHE="$work/modcache" GOCACHE="$work/cache" GOTOOLCHAIN=local \
    GOENV=off GOFLAGS=-modcacherw GIT_TERMINAL_PROMPT=0 GOPROXY=direct \
    /opt/go/bin/go mod download -json rsc.io/quote@v1.5.2
'
    docker run --rm --platform linux/arm64 --volume "$layer_dir:/opt:ro" \
        --entrypoint /bin/sh "$runtime_image" -c "$smoke_script" >/dev/null ||
        die "the layer does not work in $runtime_image (output above); SMOKE_TEST=0 skips this check"
fi

# --- Size ------------------------------------------------------------------------------------
du -sh "$layer_dir"/* >&2
size_mb=$(du -sm "$layer_dir" | cut -f1)
say "layer $layer_dir: ${size_mb} MB unzipped (Go $go_version)"
if [ "$size_mb" -gt "$layer_max_mb" ]; then
    die "the layer is ${size_mb} MB, over LAYER_MAX_MB=$layer_max_mb: with the function it must stay under Lambda's 250 MB unzipped limit"
fi
