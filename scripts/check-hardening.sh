#!/bin/sh
# check-hardening.sh BINARY -- checks that a release build of flyteauth
# carries the hardening CMakeLists.txt asks for, by reading the ELF file
# (readelf and objdump, from binutils), as checksec would:
#   PIE           ELF type DYN (a position-independent executable)
#   full RELRO    a GNU_RELRO segment and BIND_NOW (FLAGS BIND_NOW or
#                 FLAGS_1 NOW): the GOT is read-only after start
#   NX stack      GNU_STACK without the execute flag
#   canaries      __stack_chk_fail is imported (-fstack-protector-strong)
#   FORTIFY       glibc's checked functions (__*_chk) are imported
#   CET           (-fcf-protection=full; x86-64 only) our functions start
#                 with ENDBR64 (IBT landing pads; objdump). The binary's
#                 .note.gnu.property is the AND over every object linked,
#                 and Debian's start files carry no CET marks, so that
#                 note cannot show it.
# Prints one line per check; exits 1 naming every check that failed.
set -u

bin=${1:?usage: check-hardening.sh BINARY}
[ -f "$bin" ] || { echo "check-hardening: no such file: $bin" >&2; exit 2; }
for t in readelf objdump; do
	command -v $t >/dev/null 2>&1 || { echo "check-hardening: $t (binutils) is missing" >&2; exit 2; }
done

header=$(readelf -h -W "$bin") || exit 2
segments=$(readelf -l -W "$bin")
dynamic=$(readelf -d -W "$bin")
symbols=$(readelf --dyn-syms -W "$bin")
failed=""

check() {   # name, then a shell test that is true when it holds
	name=$1
	shift
	if "$@"; then
		echo "ok   $name"
	else
		echo "FAIL $name"
		failed="$failed $name"
	fi
}

has() {   # text, extended regex
	printf '%s\n' "$1" | grep -Eq -- "$2"
}

check PIE has "$header" 'Type:[[:space:]]+DYN'
check RELRO has "$segments" 'GNU_RELRO'
check BIND_NOW has "$dynamic" '\((FLAGS|FLAGS_1)\).*NOW'
check NX-stack sh -c 'printf "%s\n" "$1" | grep -E "GNU_STACK" | grep -Eqv "RWE"' _ "$segments"
check stack-protector has "$symbols" '__stack_chk_fail'
check FORTIFY has "$symbols" '__[a-z0-9_]+_chk(@|$| )'
# The count of distinct checked functions, for the record.
n_chk=$(printf '%s\n' "$symbols" | grep -Eo '__[a-z0-9_]+_chk' | grep -v __stack_chk | sort -u | wc -l)
echo "     ($n_chk fortified functions imported)"
case $(printf '%s\n' "$header" | sed -n 's/.*Machine:[[:space:]]*//p') in
*X86-64*)
	# Two functions of ours from two modules; a stripped binary has no
	# symbols to look them up by, so that is a failure too.
	for fn in fa_url_parse fa_http_page_begin; do
		first=$(objdump -d --no-show-raw-insn --disassemble="$fn" "$bin" 2>/dev/null |
			sed -n "/<$fn>:/{n;p;q}")
		check "CET-IBT($fn)" has "$first" 'endbr64'
	done
	;;
esac

if [ -n "$failed" ]; then
	echo "check-hardening: $bin lacks:$failed" >&2
	exit 1
fi
echo "check-hardening: $bin is hardened"
