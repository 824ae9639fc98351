#!/bin/bash
# man.sh - `cmake --install` into a prefix puts every executable in bin/, a man page per executable
# in share/man/man1 (made from --help by help2man), the units and the compose files; every option
# of each executable's --help appears in its man page, and the page carries its --version.
TEST_NAME=deploy_man
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

P=$T/prefix
cmake --install "$VMF_BUILD" --prefix "$P" >"$T/install.log" 2>&1 || fail "cmake --install: $(tail -3 "$T/install.log")"
n=0
for exe in "$VMF_BUILD"/*/vmfabric-*; do
	if [ ! -f "$exe" ] || [ ! -x "$exe" ]; then continue; fi
	name=$(basename "$exe")
	[ -x "$P/bin/$name" ] || fail "$name not installed in bin/"
	page=$P/share/man/man1/$name.1
	[ -f "$page" ] || fail "no man page for $name"
	LC_ALL=C MANWIDTH=1000 man -l "$page" 2>"$T/man-$name.err" | col -b >"$T/man-$name.txt"
	[ -s "$T/man-$name.txt" ] || fail "$name.1 does not render: $(cat "$T/man-$name.err")"
	"$P/bin/$name" --help >"$T/help-$name.txt" 2>&1 || fail "$name --help exits non-zero"
	opts=$(grep -oE -- '(^|[][ ,(|])--?[A-Za-z][A-Za-z0-9-]*' "$T/help-$name.txt" | sed 's/^[][ ,(|]//' | sort -u)
	[ -n "$opts" ] || fail "$name --help lists no option"
	missing=""
	for o in $opts; do
		grep -qE -- "(^|[^A-Za-z0-9-])$o([^A-Za-z0-9-]|$)" "$T/man-$name.txt" || missing="$missing $o"
	done
	[ -z "$missing" ] || fail "$name.1 lacks options of --help:$missing"
	ver=$("$P/bin/$name" --version) || fail "$name --version"
	grep -qF "$ver" "$T/man-$name.txt" || fail "$name.1 does not carry '$ver'"
	pass "$name: installed, man page has all $(echo "$opts" | wc -l) options of --help and '$ver'"
	n=$((n + 1))
done
[ "$n" -ge 5 ] || fail "only $n executables found in $VMF_BUILD"
for f in lib/systemd/system/vmfabric-switch.service lib/systemd/system/vmfabric-nic@.service \
	lib/systemd/system/vmfabric-gateway@.service share/vmfabric/compose/lab.yml \
	share/vmfabric/compose/hub.yml share/vmfabric/compose/site.yml share/vmfabric/container/Dockerfile \
	share/vmfabric/examples/switch.conf share/vmfabric/systemd/vmfabric-nic-netns.conf; do
	[ -f "$P/$f" ] || fail "not installed: $f"
done
pass "units, compose files, container definition and examples installed"
