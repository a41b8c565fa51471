#!/bin/sh
# checksrc.sh -- rejects C functions flyteauth does not use (curl's checksrc
# idea): unbounded copies and formats, non-reentrant or unchecked parsing,
# libc rand(). Run by ctest; prints each offending line and exits 1.
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
echo "checksrc: ok"
