#!/bin/sh
# Installs the Debian packages flyteauth builds and tests with. Idempotent:
# does nothing when all are present. As root it runs apt-get; otherwise it
# prints the exact command to run.
#   install-deps.sh            build dependencies
#   install-deps.sh --test     build and test dependencies
#   install-deps.sh --runtime  what the built binary needs to run (the
#                              container image installs exactly this)
#   install-deps.sh --fuzz     build dependencies and clang with libFuzzer
#                              (`make fuzz`)
#   add --list to print the packages, one a line, instead of installing
set -eu

BUILD="build-essential cmake pkg-config libssl-dev libmicrohttpd-dev libjansson-dev
libyaml-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev libcrypt-dev libqrencode-dev"
# postgresql: the server binaries (initdb, postgres) for the store's tests
# and the several-instances black-box test, which run throwaway clusters.
# glewlwyd: a second upstream OpenID Provider nobody here wrote, for the
# relying-party tests (tests/bb/lib/glewlwyd.mjs); sqlite3: the CLI that
# makes its database from the schema the package ships, and with which the
# abuse tests read a running server's live row counts
# (tests/bb/abuse_store.test.mjs) and the IdP tests show that a refused
# /callback writes nothing.
# chromium: the real browser of the browser tests, driven by npm
# playwright-core (which downloads none of its own; tests/bb/lib/chromium.mjs).
# nginx: the real reverse proxy in front of /auth/verify (auth_request) and
# behind which the trusted-proxy tests run (tests/bb/lib/nginx.mjs).
TEST="libcmocka-dev nodejs npm curl postgresql zsh man-db groff-base glewlwyd sqlite3 chromium
nginx"
# clang and its runtime libraries (libFuzzer, ASan, UBSan) for the
# libFuzzer targets of tests/fuzz (`make fuzz`; gcc has no libFuzzer).
FUZZ="clang libclang-rt-dev"
# The packages of the binary's shared libraries (tests/bb/packaging.test.mjs
# checks this list against the libraries the binary links), CA certificates
# for TLS to an IdP, and curl for the container's HEALTHCHECK.
RUNTIME="libc6 libcrypt1 libssl3 libmicrohttpd12 libjansson4 libyaml-0-2 libsqlite3-0
libpq5 libcurl4 libqrencode4 ca-certificates curl"

want="$BUILD"
list=false
for arg in "$@"; do
	case "$arg" in
	--test) want="$BUILD $TEST" ;;
	--runtime) want="$RUNTIME" ;;
	--fuzz) want="$BUILD $FUZZ" ;;
	--list) list=true ;;
	*) echo "install-deps.sh: unknown argument $arg" >&2; exit 2 ;;
	esac
done
if $list; then
	for p in $want; do echo "$p"; done
	exit 0
fi

missing=""
for p in $want; do
	# nodejs from another repository may ship npm itself.
	if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
	if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in *"ok installed") ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "flyteauth needs these Debian packages; run:" >&2
	echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null
