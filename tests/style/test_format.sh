#!/usr/bin/env bash
# lane: parallel (no BPF, no agent: runs beside the probe tests)
# The C sources are held to .clang-format: one case per checked directory (Makefile
# FORMAT_DIRS), one clang-format run each; a directory that differs fails, naming its files and
# the command that fixes them.
cd "$(dirname "$0")/../.."
if ! command -v clang-format >/dev/null; then
	echo "not ok - format: clang-format is not installed (scripts/deps.sh installs it)"
	exit 1
fi
files=$(make -s --no-print-directory print-format-files)
[ -n "$files" ] || { echo "not ok - format: no files to check"; exit 1; }
for d in $(make -s --no-print-directory print-format-dirs); do
	mine=()
	for f in $files; do
		case "$f" in "$d"/*) mine+=("$f") ;; esac
	done
	if clang-format --dry-run -Werror "${mine[@]}" >/dev/null 2>&1; then
		echo "ok - format $d/ (${#mine[@]} files)"
		continue
	fi
	bad=""
	for f in "${mine[@]}"; do
		clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad="$bad $f"
	done
	echo "not ok - format $d/: differ from .clang-format:$bad (run: make format)"
done
