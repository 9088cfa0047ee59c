#!/usr/bin/env bash
# lane: parallel (no BPF, no agent: reads the built object only)
# The BPF naming grammar (docs/extending.md "Names"): every program and map in the built object
# build/herdwatch.bpf.o has a name of at most 15 characters (the kernel keeps no more), no two
# alike, of the form hw<F>_<event>_<hook> (programs), hw<F>_<what> (family maps) or hw_<what>
# (shared maps, defined in bpf/hw.bpf.h); <F> is a family code and <hook> a hook code of the
# tables in docs/extending.md, and the hook agrees with the program's section. A name beyond
# is printed with the rule it breaks. The last case runs the check on made-up names, to show
# that each rule can fail.
cd "$(dirname "$0")/../.."
OBJ=build/herdwatch.bpf.o
DOC=docs/extending.md
MAX=15

# codes TITLE: the first column of the table that follows the line starting with TITLE in
# the doc, as "code|second column" lines
codes() {
	awk -v t="$1" '
	index($0, t) == 1 { on = 1; next }
	on && /^\|/ {
		n = split($0, c, "|")
		code = c[2]; gsub(/[ `]/, "", code)
		if (code == "code" || code ~ /^-+$/) next
		print code "|" c[3]; seen = 1; next
	}
	on && seen { exit }
	' "$DOC"
}

# objects OBJ: "prog NAME SECTION" per program (a global function outside .text) and
# "map NAME .maps" per map
objects() {
	local secs
	secs=$(readelf -SW "$1" 2>/dev/null | sed -n 's/^ *\[ *\([0-9]*\)\] \([^ ]*\) .*/\1 \2/p')
	readelf -sW "$1" 2>/dev/null | awk -v secs="$secs" '
	BEGIN { n = split(secs, l, "\n"); for (i = 1; i <= n; i++) { split(l[i], f, " "); s[f[1]] = f[2] } }
	$5 == "GLOBAL" && $7 ~ /^[0-9]+$/ {
		sec = s[$7]
		if ($4 == "FUNC" && sec != ".text") print "prog", $8, sec
		else if ($4 == "OBJECT" && sec == ".maps") print "map", $8, sec
	}'
}

# check FAMILIES HOOKS SHARED: reads "prog|map NAME SECTION" lines, prints "NAME: rule" for
# each name beyond the grammar. FAMILIES: the family letters; HOOKS: "code=prefix,prefix ..."
# (a section matches a prefix, or equals it when the prefix has no '/'); SHARED: the maps
# defined in bpf/hw.bpf.h.
check() {
	awk -v fam="$1" -v hooks="$2" -v shared="$3" -v max=$MAX '
	BEGIN {
		n = split(hooks, h, " ")
		for (i = 1; i <= n; i++) { split(h[i], kv, "="); pre[kv[1]] = kv[2] }
		n = split(shared, sh, " "); for (i = 1; i <= n; i++) inhw[sh[i]] = 1
	}
	function bad(name, why) { print name ": " why; return 1 }
	function sec_ok(code, sec,   n, p, i) {
		n = split(pre[code], p, ",")
		for (i = 1; i <= n; i++)
			if (p[i] ~ /\// ? index(sec, p[i]) == 1 : sec == p[i]) return 1
		return 0
	}
	{
		kind = $1; name = $2; sec = $3
		if (length(name) > max) { bad(name, "longer than " max " characters (the kernel keeps " max ")"); next }
		if (name in seen) { bad(name, "a second " kind " of that name"); next }
		seen[name] = 1
		if (kind == "map") {
			if (name ~ /^hw_[a-z0-9_]+$/) {
				if (!(name in inhw)) bad(name, "hw_<what> is for the shared maps of bpf/hw.bpf.h; a family map is hw<F>_<what>")
				next
			}
			if (name !~ /^hw[a-z]_[a-z0-9_]+$/) { bad(name, "a map is hw<F>_<what> or hw_<what> (lower case, digits, _)"); next }
			f = substr(name, 3, 1)
			if (index(fam, f) == 0) bad(name, "family code " f " is not in the table of docs/extending.md")
			next
		}
		if (name !~ /^hw[a-z]_[a-z0-9]+_[a-z]+$/) { bad(name, "a program is hw<F>_<event>_<hook> (event: letters and digits, no _)"); next }
		split(name, part, "_")
		f = substr(part[1], 3, 1); hook = part[3]
		if (index(fam, f) == 0) { bad(name, "family code " f " is not in the table of docs/extending.md"); next }
		if (!(hook in pre)) { bad(name, "hook code " hook " is not in the table of docs/extending.md"); next }
		if (!sec_ok(hook, sec)) bad(name, "hook code " hook " but section " sec " (" hook " is " pre[hook] ")")
	}'
}

fail() { echo "not ok - $1: $2"; }

[ -r "$OBJ" ] || { fail "bpf names" "$OBJ missing (run make)"; exit 1; }
command -v readelf >/dev/null || { fail "bpf names" "readelf missing (binutils)"; exit 1; }
fam=$(codes "Family codes" | cut -d'|' -f1 | tr -d '\n')
hooks=$(codes "Hook codes" | awk -F'|' '{ p = $2; gsub(/[` ]/, "", p); printf "%s=%s ", $1, p }')
shared=$(sed -n 's/^} *\(hw_[a-z0-9_]*\) SEC("\.maps");/\1/p' bpf/hw.bpf.h | tr '\n' ' ')
if [ ${#fam} -lt 5 ] || [ "$(wc -w <<<"$hooks")" -lt 10 ]; then
	fail "bpf names tables" "the family and hook tables of $DOC not found (families: '$fam')"
	exit 1
fi
echo "ok - bpf names tables: ${#fam} families, $(wc -w <<<"$hooks") hooks in $DOC"

list=$(objects "$OBJ")
np=$(grep -c '^prog ' <<<"$list")
nm=$(grep -c '^map ' <<<"$list")
if [ "$np" -lt 50 ] || [ "$nm" -lt 10 ]; then
	fail "bpf names read" "only $np programs and $nm maps read from $OBJ"
	exit 1
fi
for kind in prog map; do
	out=$(grep "^$kind " <<<"$list" | check "$fam" "$hooks" "$shared")
	n=$(grep -c "^$kind " <<<"$list")
	if [ -z "$out" ]; then
		echo "ok - bpf names: $n ${kind}s of $OBJ follow the grammar"
	else
		fail "bpf names: ${kind}s of $OBJ" "$(tr '\n' ';' <<<"$out")"
	fi
done

# the check itself, on made-up names: each rule fails once, the good ones pass
made=$(
	cat <<'EOF'
prog hwv_setuid_en tracepoint/syscalls/sys_enter_setuid
prog hwn_connect_exf tracepoint/syscalls/sys_exit_connect
prog hwf_sys_ex tracepoint
map hwq_allow .maps
map hw_events .maps
prog hwv_setresuid_en tracepoint/syscalls/sys_enter_setresuid
prog hwv_perf_event_open_fe fentry/__x64_sys_perf_event_open
prog hw_clone_btf tp_btf/sched_process_exec
prog hwz_exec_btf tp_btf/sched_process_exec
prog hwp_exec_xyz tp_btf/sched_process_exec
prog hwp_exec_fe tp_btf/sched_process_exec
prog hwv_setuid_en tracepoint/syscalls/sys_enter_setuid
map hw_net_state .maps
map priv_flags .maps
map hw_ignore_cgroups .maps
EOF
)
got=$(check "$fam" "$hooks" "hw_events" <<<"$made")
want=(
	"hwv_setresuid_en: longer than 15"
	"hwv_perf_event_open_fe: longer than 15"
	"hw_clone_btf: a program is hw<F>_<event>_<hook>"
	"hwz_exec_btf: family code z"
	"hwp_exec_xyz: hook code xyz is not"
	"hwp_exec_fe: hook code fe but section tp_btf/sched_process_exec"
	"hwv_setuid_en: a second prog"
	"hw_net_state: hw_<what> is for the shared maps"
	"priv_flags: a map is hw<F>_<what>"
	"hw_ignore_cgroups: longer than 15"
)
missing=""
for w in "${want[@]}"; do grep -qF "$w" <<<"$got" || missing="$missing [$w]"; done
extra=$(grep -E '^(hwn_connect_exf|hwf_sys_ex|hwq_allow|hw_events):' <<<"$got")
if [ -z "$missing" ] && [ -z "$extra" ] && [ "$(wc -l <<<"$got")" -eq ${#want[@]} ]; then
	echo "ok - bpf names check finds each rule broken"
else
	fail "bpf names check finds each rule broken" "missing:$missing extra: $extra got: $(tr '\n' ';' <<<"$got")"
fi
