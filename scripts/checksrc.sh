#!/bin/sh
# checksrc.sh -- rejects C functions flyteauth does not use (curl's checksrc
# idea): unbounded copies and formats, non-reentrant or unchecked parsing,
# libc rand(); plain comparisons of secrets; TLS verification turned off
# outside the command-line client; and a module graph that differs from what
# CMakeLists.txt declares. Run by ctest; prints each offending
# line and exits 1.
set -u
root=${1:-$(dirname "$0")/..}
banned='\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|atoll|gets|rand|srand|strtol|strtoul|strtoll|strtoull)[[:space:]]*\('
hits=$(grep -rnE "$banned" "$root/src" --include='*.c' --include='*.h' | grep -vE '^\S+:[0-9]+:\s*(/\*|\*)' || true)
if [ -n "$hits" ]; then
	echo "banned functions (see STYLE.md):"
	echo "$hits"
	exit 1
fi
# memcmp/strcmp on a secret, token, code, hash or state: use fa_ct_eq.
# String literals are blanked first: comparing against "refresh_token" is fine.
ct=$(grep -rnE '\b(memcmp|strcmp)\s*\(' "$root/src" --include='*.c' | grep -v '/\* not secret' |
	sed 's/"[^"]*"/""/g' | grep -E '\b(memcmp|strcmp)\s*\([^;]*(secret|token|verifier|password|csrf|state|hash)' || true)
if [ -n "$ct" ]; then
	echo "plain comparison near a secret (use fa_ct_eq / fa_ct_streq, or mark the line /* not secret */):"
	echo "$ct"
	exit 1
fi
# authz's protocol logic sees no HTTP: only its endpoint files (ep_*.c) and
# authz.c, which wires the module into the HTTP layer, include the endpoint
# header, the public header (it names HTTP types) or http.h.
web=$(grep -lE '#include "(authz/authz_ep_int|authz/authz|http/http)\.h"' "$root"/src/authz/*.c |
	grep -vE '/(ep_[a-z_]+|authz)\.c$' || true)
if [ -n "$web" ]; then
	echo "authz logic files that include an HTTP header (move the HTTP part to an ep_*.c):"
	echo "$web"
	exit 1
fi
# TLS verification is off only where the command-line client's user asked
# for it (flytectl's insecureSkipVerify): no other code sets remote's switch.
tls=$(grep -rnE 'insecure_skip_verify\s*=' "$root/src" --include='*.c' |
	grep -vE '/src/(client/client|remote/http)\.c:' || true)
if [ -n "$tls" ]; then
	echo "only the command-line client may turn TLS verification off:"
	echo "$tls"
	exit 1
fi
# The module graph: src/<m> may include the header of module X only when
# FA_DEPS_<m> in CMakeLists.txt lists fa_X, and a library's headers only
# when it lists that library; and everything listed must be used, so the
# list is the graph.
deps=$(awk '
	/^set\(FA_DEPS_/ { collecting = 1; line = "" }
	collecting { line = line " " $0 }
	collecting && /\)/ {
		sub(/^ *set\(FA_DEPS_/, "", line); sub(/\).*/, "", line)
		gsub(/[ \t]+/, " ", line); print line; collecting = 0
	}' "$root/CMakeLists.txt")
# library target -> the include that shows it is used
libs='OpenSSL::Crypto=<openssl/
OpenSSL::SSL=<openssl/ssl.h>
PkgConfig::JANSSON=<jansson.h>
PkgConfig::YAML=<yaml.h>
PkgConfig::CURL=<curl/
PkgConfig::SQLITE=<sqlite3.h>
PkgConfig::PQ=<libpq-fe.h>
PkgConfig::CRYPT=<crypt.h>
PkgConfig::QRENCODE=<qrencode.h>
PkgConfig::MHD=<microhttpd.h>
Threads::Threads=<pthread.h>'
graph=""
for dir in "$root"/src/*/; do
	m=$(basename "$dir")
	line=$(printf '%s\n' "$deps" | awk -v m="$m" '$1 == m')
	if [ -z "$line" ]; then
		graph="$graph
src/$m: no FA_DEPS_$m in CMakeLists.txt"
		continue
	fi
	declared=" $(printf '%s' "$line" | cut -d' ' -f2-) "
	included=$(grep -ho '#include "[a-z_]*/' "$dir"*.[ch] | sed 's/#include "//; s/\///' | sort -u)
	for x in $included; do
		[ "$x" = "$m" ] && continue
		case "$declared" in
		*" fa_$x "*) ;;
		*) graph="$graph
src/$m includes $x/ but FA_DEPS_$m does not list fa_$x" ;;
		esac
	done
	for d in $declared; do
		case "$d" in
		fa_*)
			printf '%s\n' "$included" | grep -qx "${d#fa_}" ||
				graph="$graph
FA_DEPS_$m lists $d but src/$m includes no ${d#fa_}/ header" ;;
		*)
			pat=$(printf '%s\n' "$libs" | awk -F= -v t="$d" '$1 == t { print $2 }')
			if [ -z "$pat" ]; then
				graph="$graph
FA_DEPS_$m lists $d, which checksrc.sh does not know"
			elif ! grep -qF "#include $pat" "$dir"*.[ch]; then
				graph="$graph
FA_DEPS_$m lists $d but src/$m includes no $pat header"
			fi ;;
		esac
	done
	printf '%s\n' "$libs" | while IFS= read -r pair; do
		t=${pair%%=*}
		pat=${pair#*=}
		if grep -qF "#include $pat" "$dir"*.[ch]; then
			case "$declared" in
			*" $t "*) ;;
			*) echo "src/$m includes $pat but FA_DEPS_$m does not list $t" ;;
			esac
		fi
	done > "${TMPDIR:-/tmp}/checksrc.$$"
	if [ -s "${TMPDIR:-/tmp}/checksrc.$$" ]; then
		graph="$graph
$(cat "${TMPDIR:-/tmp}/checksrc.$$")"
	fi
	rm -f "${TMPDIR:-/tmp}/checksrc.$$"
done
if [ -n "$graph" ]; then
	echo "module graph differs from CMakeLists.txt's FA_DEPS (fix the include or the list):$graph"
	exit 1
fi
echo "checksrc: ok"
