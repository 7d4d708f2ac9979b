#!/usr/bin/env bash
# install-ollama.sh: build the Ollama server the inference tests run against, once, outside the
# repository, and print its path.
#
#   scripts/install-ollama.sh            # builds ~/.cache/metis/ollama-v0.6.8/bin/ollama
#   METIS_OLLAMA=/opt/ollama scripts/install-ollama.sh   # use (or build into) that path
#
# Ollama is built from the Go module proxy with cgo (llama.cpp is C/C++, so gcc and g++ are
# needed). v0.6.8 is pinned: newer tags do not build from the module proxy because their module
# zips omit vendored headers. The build takes several minutes on 2 cores, so an existing binary
# is reused; delete it to rebuild. The last line of output is the binary's path.
set -euo pipefail

version="${OLLAMA_VERSION:-v0.6.8}"
bin="${METIS_OLLAMA:-$HOME/.cache/metis/ollama-$version/bin/ollama}"

if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi

if [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi

if ! command -v gcc >/dev/null 2>&1 || ! command -v g++ >/dev/null 2>&1; then
	echo "install-ollama: installing gcc and g++ (Ollama's llama.cpp is built with cgo)" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc g++ >/dev/null
fi

# go install names the binary after the module ("ollama") and writes it into GOBIN, so build
# into a temporary directory next to the target and rename: a build interrupted half-way never
# leaves a truncated binary that the next run would take for a finished one.
dir="$(dirname "$bin")"
mkdir -p "$dir"
tmp="$(mktemp -d "$dir/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "install-ollama: building github.com/ollama/ollama@$version into $bin (several minutes)" >&2
start=$(date +%s)
CGO_ENABLED=1 GOBIN="$tmp" go install "github.com/ollama/ollama@$version" >&2
mv "$tmp/ollama" "$bin"
echo "install-ollama: built in $(($(date +%s) - start))s" >&2
echo "$bin"
