#!/bin/bash
# tests/docs/docs.sh: the documents say what the code does.
#  - every key the configuration parser accepts is in the example
#    netd.conf (commented out, with its default) and in netd.conf(5), and
#    neither names a key the parser does not know;
#  - every man page renders without a groff warning.
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
fail=0

code_keys=$(grep -o 'streq(name, "[a-z_]*")' "$top/netd/conf.c" | sed 's/.*"\(.*\)".*/\1/' | sort -u)
example_keys=$(sed -n 's/^#\([a-z_]*\) =.*/\1/p' "$top/netd.conf" | sort -u)
man_keys=$(sed -n -e 's/^\.B \([a-z_]*\)$/\1/p' -e 's/^\.BR \([a-z_]*\) ", " \([a-z_]*\)$/\1\n\2/p' \
	"$top/man/netd.conf.5" | sort -u)

[ -n "$code_keys" ] || { echo "no keys found in netd/conf.c"; exit 1; }
for k in $code_keys; do
	grep -qx "$k" <<<"$example_keys" || { echo "netd.conf lacks key '$k'"; fail=1; }
	grep -qx "$k" <<<"$man_keys" || { echo "netd.conf(5) lacks key '$k'"; fail=1; }
done
for k in $example_keys; do
	grep -qx "$k" <<<"$code_keys" || { echo "netd.conf names unknown key '$k'"; fail=1; }
done

if command -v groff >/dev/null; then
	for m in "$top"/man/*.[0-9]; do
		w=$(groff -ww -man -Tutf8 "$m" 2>&1 >/dev/null)
		[ -z "$w" ] || { echo "$(basename "$m"): $w"; fail=1; }
	done
else
	echo "groff missing: man pages not checked"
fi

[ $fail = 0 ] && echo "docs: $(wc -w <<<"$code_keys") keys documented, man pages render cleanly"
exit $fail
