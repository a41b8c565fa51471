# zsh_complete.zsh -- prints, one a line, the candidates zsh's completion
# system offers for a command line, the way a user pressing Tab gets them:
#   zsh -f zsh_complete.zsh FPATH_DIR 'flyteauth secrets r'
# It runs an interactive `zsh -f` on a pseudo-terminal (zsh/zpty), loads
# compinit with FPATH_DIR first in $fpath, wraps compadd so that every match
# a completion function adds is printed (prefixed CAND:) instead of
# inserted, types the line and a Tab, waits for the beep that ends a
# completion without matches, and reads until a marker comes back.
zmodload zsh/zpty || exit 2
dir=$1 line=$2
out=
# Reads the pty until `want` has been seen after offset `from` of what was
# read, or about 15 seconds pass.
drain() {
	local chunk
	integer i
	for (( i = 0; i < 300; i++ )); do
		while zpty -rt z chunk; do out+=$chunk; done
		[[ ${out:${2:-0}} == *$1* ]] && return 0
		sleep 0.05
	done
	return 1
}
zpty z zsh -f -i
# The markers are split in the typed text ('READY''1') so the echo of the
# command line never matches them.
zpty -w z "PS1=''; fpath=(${(q)dir} \$fpath); autoload -U compinit; compinit -u -D; print READY''1"
drain READY1 || exit 3
zpty -w z 'compadd() { local -a hits; if (( ${@[(I)-[OAD]]} )); then builtin compadd "$@"; return; fi; builtin compadd -O hits "$@"; local mk=CAND; (( $#hits )) && print -rl -- "${mk}:"${^hits}; return 1; }; print READY''2'
drain READY2 || exit 3
# The wrapper adds no match, so every completion ends in a beep: wait for
# it before killing the line (typed-ahead input can cut a completion short).
integer mark=${#out}
zpty -wn z "$line"$'\t'
drain $'\a' $mark || exit 3
zpty -w z $'\C-u'"print DONE''MARK"
drain DONEMARK || exit 3
zpty -d z
print -r -- "$out" | tr -d '\r' | sed -n 's/^.*CAND://p'
