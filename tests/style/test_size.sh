#!/usr/bin/env bash
# lane: parallel (no BPF, no agent: runs beside the probe tests)
# Size limits of the C sources of herdwatch's programs (agent/, bpf/, common/, collector/,
# cli/, tools/): no .c file over 800 lines, no function over 120 lines (from the first line
# of its signature to its closing brace). One case per limit; a case fails naming each file
# or function beyond it. The few that are still beyond are listed below, each with the
# reason; an entry that is no longer needed fails too, so the list only shrinks.
# tests/ and bench/ are not held to the limits: a test's main() is its list of cases.
# Functions are found in the kernel style .clang-format enforces: the body's braces in
# column 0. The last cases run the check on made-up files, to show it can fail.
cd "$(dirname "$0")/../.."
MAX_FILE=800
MAX_FUNC=120
DIRS="agent bpf common collector cli tools"

# Still beyond the limits, with the reason (none now: the list only shrinks). FILE for a file,
# FILE:FUNCTION for a function.
ALLOW=(
)

# sizes FILE...: "FILE LINES" per file and "FILE:FUNCTION LINES" per function
sizes() {
	awk '
	function fname(sig,   s, m) {
		s = sig
		while (match(s, /__attribute__[ \t]*\(\([^()]*(\([^()]*\)[^()]*)*\)\)/))
			s = substr(s, 1, RSTART - 1) substr(s, RSTART + RLENGTH)
		# BPF programs: BPF_PROG(name, ...) and the like name the function in their first argument
		if (match(s, /BPF_[A-Z_]+[ \t]*\([ \t]*[A-Za-z_][A-Za-z0-9_]*/)) {
			m = substr(s, RSTART, RLENGTH); sub(/.*\([ \t]*/, "", m); return m
		}
		if (match(s, /[A-Za-z_][A-Za-z0-9_]*[ \t]*\(/)) {
			m = substr(s, RSTART, RLENGTH); sub(/[ \t]*\($/, "", m); return m
		}
		return "?"
	}
	FNR == 1 { if (file != "") print file, lines; file = FILENAME; sigline = 0; inbody = 0 }
	{ lines = FNR }
	/^[A-Za-z_]/ && !inbody { sigline = FNR; sig = $0; next }
	/^[ \t]/ && !inbody && sigline { sig = sig " " $0; next }
	/^\{/ && !inbody { inbody = 1; name = fname(sig); start = sigline ? sigline : FNR; next }
	/^\}/ && inbody { print FILENAME ":" name, FNR - start + 1; inbody = 0; sigline = 0; next }
	END { if (file != "") print file, lines }
	' "$@"
}

# check OUT: the entries beyond the limits that the allow-list does not name, in OUT.over;
# allow-list entries within the limits (or gone) in OUT.stale
check() {
	local out=$1
	shift
	sizes "$@" | awk -v mf=$MAX_FILE -v mfn=$MAX_FUNC \
		'($1 ~ /:/ && $2 > mfn) || ($1 !~ /:/ && $2 > mf) { print $1 " (" $2 " lines)" }' >"$out.all"
	: >"$out.over"
	: >"$out.stale"
	while read -r what rest; do
		local allowed=0
		for a in "${ALLOW[@]}"; do [ "$a" = "$what" ] && allowed=1; done
		[ $allowed = 1 ] || echo "$what $rest" >>"$out.over"
	done <"$out.all"
	for a in "${ALLOW[@]}"; do
		grep -q "^$a (" "$out.all" || echo "$a" >>"$out.stale"
	done
}

T=$(mktemp -d /tmp/hw-size.XXXXXX)
trap 'rm -rf "$T"' EXIT
files=$(git ls-files --cached --others --exclude-standard $(for d in $DIRS; do echo "$d/*.c"; done))
[ -n "$files" ] || { echo "not ok - size: no C files found"; exit 1; }
# shellcheck disable=SC2086
check "$T/tree" $files
over_files=$(grep -v '^[^ ]*:' "$T/tree.over" | tr '\n' ' ')
over_funcs=$(grep '^[^ ]*:' "$T/tree.over" | tr '\n' ' ')
if [ -z "$over_files" ]; then echo "ok - size files <= $MAX_FILE lines"; else
	echo "not ok - size files <= $MAX_FILE lines: beyond: $over_files(split them, or add to ALLOW in $0 with the reason)"; fi
if [ -z "$over_funcs" ]; then echo "ok - size functions <= $MAX_FUNC lines"; else
	echo "not ok - size functions <= $MAX_FUNC lines: beyond: $over_funcs(split them, or add to ALLOW in $0 with the reason)"; fi
if [ ! -s "$T/tree.stale" ]; then echo "ok - size allow-list current"; else
	echo "not ok - size allow-list current: within the limits now, take off ALLOW: $(tr '\n' ' ' <"$T/tree.stale")"; fi

# the check itself: a file of 801 lines and a function of 121 lines (a multi-line signature
# with an attribute) are found and named; a function of 120 lines is not
mkdir -p "$T/x"
{
	echo "static int __attribute__((noinline)) long_one(int a,"
	echo "	int b)"
	echo "{"
	for _ in $(seq 117); do echo "	a++;"; done
	echo "}"
	echo "int just_right(void)"
	echo "{"
	for _ in $(seq 117); do echo "	;"; done
	echo "}"
	for _ in $(seq $((801 - 121 - 120))); do echo "/* filler */"; done
} >"$T/x/big.c"
ALLOW=()
check "$T/self" "$T/x/big.c"
if grep -q "^$T/x/big.c:long_one (121 lines)" "$T/self.over" && grep -q "^$T/x/big.c (801 lines)" "$T/self.over" &&
	! grep -q just_right "$T/self.over"; then
	echo "ok - size check finds what is beyond"
else
	echo "not ok - size check finds what is beyond: got: $(tr '\n' ' ' <"$T/self.over")"
fi
