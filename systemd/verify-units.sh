#!/bin/sh
# verify-units.sh SYSTEMD_ANALYZE TMPFILES_CONF SYSUSERS_CONF UNIT.verify...
#
# Runs `systemd-analyze verify` on the units (copied under their real names,
# without the .verify suffix, so Service=vigil.service resolves), and, when
# the tools are there and we are root, applies the tmpfiles.d and sysusers.d
# snippets to a scratch root. Exit 77 (skipped) without systemd-analyze.
set -eu

analyze=$1 tmpfiles_conf=$2 sysusers_conf=$3
shift 3
if [ -z "$analyze" ] || ! [ -x "$analyze" ]; then
	echo "systemd-analyze not found: skipped"
	exit 77
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/vigil-verify.XXXXXX")
trap 'rm -rf "$dir"' EXIT
units=
for f in "$@"; do
	name=$(basename "$f" .verify)
	cp "$f" "$dir/$name"
	units="$units $dir/$name"
done

# verify prints nothing for clean units; any warning about our units counts
# as a failure (it exits 0 for some of them). Lines about other units
# (e.g. a host's own broken units pulled in as dependencies) are ignored.
out=$("$analyze" verify --man=no $units 2>&1) || {
	echo "$out"
	echo "systemd-analyze verify failed"
	exit 1
}
[ -n "$out" ] && echo "$out"
if echo "$out" | grep -E "(^|/)vigil\.(service|socket)" >/dev/null; then
	echo "systemd-analyze verify warned about the vigil units"
	exit 1
fi
echo "systemd-analyze verify: ok ($(echo $units | xargs -n1 basename | tr '\n' ' '))"

if [ "$(id -u)" = 0 ] && command -v systemd-sysusers >/dev/null && command -v systemd-tmpfiles >/dev/null; then
	root=$dir/root
	mkdir -p "$root/etc" "$root/run"
	: >"$root/etc/passwd"; : >"$root/etc/group"
	echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
	echo "root:x:0:" >"$root/etc/group"
	systemd-sysusers --root="$root" "$sysusers_conf"
	grep -q '^vigil:' "$root/etc/group" || { echo "sysusers: group vigil not created"; exit 1; }
	systemd-tmpfiles --root="$root" --create "$tmpfiles_conf"
	mode=$(stat -c '%a %U %G' "$root/run/vigil")
	[ "$mode" = "755 root root" ] || { echo "tmpfiles: /run/vigil is '$mode', want '755 root root'"; exit 1; }
	echo "sysusers.d and tmpfiles.d snippets: ok"
fi
