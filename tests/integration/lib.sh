# lib.sh: shared by the integration tests. Each test gets its own network
# namespace and temporary directory, runs netd in that namespace with a
# temporary database and socket, and removes everything on exit, also when
# it fails. Sourced, not run.

set -u

: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
NETD=$top_builddir/netd/netd
NETDCTL=$top_builddir/netd/netdctl
VLCLIENT=$top_builddir/tests/helpers/vlclient
NLVIEW=$top_builddir/tests/helpers/nlview
TEST_NAME=$(basename "$0" .sh)

skip() { echo "SKIP: $*"; exit 77; }
# fail MESSAGE: the message, netd's log and state, and the message once
# more as the last line (a log cut to its end still says what failed).
fail() {
	echo "FAIL: $*" >&2
	[ -n "${NETD_LOG:-}" ] && [ -f "$NETD_LOG" ] && { echo "--- netd log:" >&2; tail -n 30 "$NETD_LOG" >&2; }
	netd_diag >&2
	echo "FAIL (the message above): $(printf '%s' "$*" | head -c 300)" >&2
	exit 1
}

# netd_diag: what a failure leaves to explain it, when netd still runs:
# its status (5 s at most), where netd and its helper processes wait in
# the kernel, and how many links the namespace has.
netd_diag() {
	local p
	[ -n "${NETD_PID:-}" ] && kill -0 "$NETD_PID" 2>/dev/null || return 0
	echo "--- netd status:"
	timeout 5 "$NETDCTL" --socket "$SOCK" status --json 2>&1 | tr -s ' \n' ' ' | cut -c1-4000
	echo
	for p in "$NETD_PID" $(cat /proc/"$NETD_PID"/task/*/children 2>/dev/null); do
		echo "--- pid $p ($(cat /proc/"$p"/comm 2>/dev/null)) $(cut -d' ' -f3 /proc/"$p"/stat 2>/dev/null) wchan $(cat /proc/"$p"/wchan 2>/dev/null):"
		head -n 12 /proc/"$p"/stack 2>/dev/null
	done
	echo "--- links in $NS: $(ip -n "$NS" -o link 2>/dev/null | wc -l)"
}
ok() { echo "ok: $*"; }

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
command -v ip >/dev/null || skip "needs iproute2"

TMP=$(mktemp -d "/tmp/netd-$TEST_NAME.XXXXXX")
chmod 755 "$TMP" # unprivileged clients must reach the socket
NS="netd-$TEST_NAME-$$"
SOCK=$TMP/netd.sock
DB=$TMP/netd.db
CONF=$TMP/netd.conf
NETD_LOG=$TMP/netd.log
NETD_PID=
: > "$CONF"
# Every reply vlclient reads, and every netdctl --json output that ctl()
# prints, is checked against the interfaces netd serves (fetched once per
# test into $VLCLIENT_SCHEMA); a violation is appended to
# $VLCLIENT_VIOLATIONS and fails the test at exit even where the test
# ignores the status. VLCLIENT_NO_SCHEMA=1 turns the check off.
export VLCLIENT_SCHEMA=$TMP/interfaces.varlink
export VLCLIENT_VIOLATIONS=$TMP/schema-violations
: > "$VLCLIENT_VIOLATIONS"
chmod 666 "$VLCLIENT_VIOLATIONS" # vlclient run as an unprivileged uid reports too

# on_cleanup CMD: run CMD too at exit (after netd is stopped).
CLEANUP_EXTRA=
on_cleanup() { CLEANUP_EXTRA="$CLEANUP_EXTRA
$*"; }

cleanup() {
	local rc=$?
	[ -n "$NETD_PID" ] && kill -KILL "$NETD_PID" 2>/dev/null
	eval "$CLEANUP_EXTRA"
	# Anything else this test started in its namespace.
	for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	if [ -s "$VLCLIENT_VIOLATIONS" ]; then
		echo "FAIL: replies that do not conform to the interface netd serves:" >&2
		cat "$VLCLIENT_VIOLATIONS" >&2
		rc=1
	fi
	rm -rf "$TMP"
	exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace"
ip -n "$NS" link set lo up

in_ns() { ip netns exec "$NS" "$@"; }

# start_netd [extra netd options]: start netd in the foreground in the
# namespace with the test's config, socket and database, and wait until it
# answers on $SOCK.
start_netd() { start_netd_with --socket "$SOCK" --db "$DB" "$@"; }

# start_netd_with [netd options]: the same with only --config given.
start_netd_with() {
	# Not through in_ns: $! must be netd itself (ip netns exec execs it).
	ip netns exec "$NS" "$NETD" --foreground --config "$CONF" "$@" >>"$NETD_LOG" 2>&1 &
	NETD_PID=$!
	wait_ready || fail "netd did not start"
	schema_fetch
}

# schema_fetch: the interfaces netd serves, for vlclient's reply checks
# (once per test: the first netd that answers).
schema_fetch() {
	[ -s "$VLCLIENT_SCHEMA" ] && return 0
	"$VLCLIENT" describe "$SOCK" > "$VLCLIENT_SCHEMA" ||
		fail "cannot fetch the interfaces netd serves"
}

# wait_ready: until netdctl status succeeds (60 s at most; at once if
# netd exits). A start waits for the kernel's RTNL lock for its first
# link dump: beside a test deleting 4,096 links, or namespaces being torn
# down, that took over 10 s once.
wait_ready() {
	local i
	for i in $(seq 600); do
		"$NETDCTL" --socket "$SOCK" status >/dev/null 2>&1 && return 0
		[ -n "$NETD_PID" ] && ! kill -0 "$NETD_PID" 2>/dev/null && return 1
		sleep 0.1
	done
	return 1
}

# stop_netd [SIGNAL]: stop netd and require a clean exit (status 0; under
# the sanitizers this also catches leaks and memory errors).
stop_netd() {
	local sig=${1:-TERM} rc
	kill -"$sig" "$NETD_PID" || fail "netd (pid $NETD_PID) is not running"
	wait "$NETD_PID"
	rc=$?
	NETD_PID=
	[ "$rc" = 0 ] || fail "netd exited with status $rc after SIG$sig"
}

# ctl ARGS: netdctl on the test's socket. With --json, what it prints is
# checked against the interface (ctl_method says which method's reply it
# is; monitor and commands it does not know are not checked).
ctl() {
	local method out rc
	method=$(ctl_method "$@")
	if [ -z "$method" ] || [ -n "${VLCLIENT_NO_SCHEMA:-}" ]; then
		"$NETDCTL" --socket "$SOCK" "$@"
		return
	fi
	out=$("$NETDCTL" --socket "$SOCK" "$@")
	rc=$?
	[ -n "$out" ] && printf '%s\n' "$out"
	[ -n "$out" ] && [ -s "$VLCLIENT_SCHEMA" ] &&
		printf '%s' "$out" | "$VLCLIENT" check-reply "$method" >&2
	return $rc
}

# ctl_method ARGS: the method whose reply netdctl ARGS prints as JSON
# (--json, or call), or nothing.
ctl_method() {
	local json='' a cmd='' sub='' skipnext=''
	for a in "$@"; do
		[ -n "$skipnext" ] && { skipnext=; continue; }
		case $a in
		-j|--json) json=1 ;;
		-s|--socket|-t|--timeout) skipnext=1 ;;
		-*) ;;
		*) if [ -z "$cmd" ]; then cmd=$a; elif [ -z "$sub" ]; then sub=$a; fi ;;
		esac
	done
	case $cmd in
	call) echo "$sub"; return ;;
	esac
	[ -n "$json" ] || return 0
	case $cmd/$sub in
	status/*) echo io.netd.GetStatus ;;
	info/*) echo org.varlink.service.GetInfo ;;
	interface/*) echo org.varlink.service.GetInterfaceDescription ;;
	resync/*) echo io.netd.Resync ;;
	link/create) echo io.netd.CreateLinks ;;
	link/delete) echo io.netd.DeleteLinks ;;
	link/list) echo io.netd.ListLinks ;;
	link/show) echo io.netd.GetLink ;;
	link/set) echo io.netd.SetLinks ;;
	filter/bind) echo io.netd.BindFilter ;;
	filter/unbind) echo io.netd.UnbindFilter ;;
	filter/list) echo io.netd.ListBindings ;;
	filter/show) echo io.netd.GetBinding ;;
	filter/defs) echo io.netd.ListFilters ;;
	filter/def) echo io.netd.GetFilter ;;
	filter/import) echo io.netd.DefineFilter ;;
	esac
}

# status_field NAME: one value from GetStatus (a string without its quotes).
status_field() {
	ctl --json status | sed -n "s/^  \"$1\": \\([^,]*\\),\\{0,1\\}$/\\1/p" | sed 's/^"\(.*\)"$/\1/'
}

# raw BYTES [WAIT_MS]: send printf-formatted bytes on a new connection,
# print replies one per line and CLOSED or OPEN.
raw() { printf "$1" | "$VLCLIENT" raw "$SOCK" "${2:-1000}"; }

# make_parent [NAME]: a veth pair in the namespace (NAME and NAME-peer, up)
# to hang macvtap/macvlan links on. The dummy link type is not available.
make_parent() {
	local n=${1:-v0}
	ip -n "$NS" link add "$n" type veth peer name "$n-p" || fail "veth $n"
	ip -n "$NS" link set "$n" up
	ip -n "$NS" link set "$n-p" up
}

# wrap_restore TOOL: a $TMP/bin/TOOL in front of the real one. It reads
# its input into $input, runs the test's lines given on stdin (which may
# refuse, stall or note something), then hands the input to the real TOOL.
# Start netd with PATH=$TMP/bin:$PATH to use it.
wrap_restore() {
	local real
	real=$(command -v "$1") || fail "$1 is required"
	mkdir -p "$TMP/bin"
	{
		printf '#!/bin/bash\ninput=$(cat)\n'
		cat
		printf 'printf "%%s\\n" "$input" | exec %q "$@"\n' "$real"
	} > "$TMP/bin/$1"
	chmod +x "$TMP/bin/$1"
}

# kview ARGS: the kernel's links as libnl-route-3 sees them (not netd).
kview() { in_ns "$NLVIEW" "$@"; }

# db QUERY: the database as an auditor reads it.
db() { sqlite3 "$DB" "$@"; }

# json_names: the "name" values in netdctl --json output, one per line.
json_names() { sed -n 's/^ *"name": "\(.*\)",\{0,1\}$/\1/p'; }

# netd_idle: nothing queued or running in netd's kernel work.
netd_idle() { [ "$(status_field netlink_in_flight)" = 0 ]; }

# links_settled [TENTHS]: until netd has nothing in flight and no link is
# creating or deleting (a repair at start is asynchronous); TENTHS of a
# second at most (default 150).
links_settled() {
	local i
	for i in $(seq "${1:-150}"); do
		[ "$(status_field netlink_in_flight)" = 0 ] &&
			! ctl --json link list | grep -q '"state": "\(creating\|deleting\)"' && return 0
		sleep 0.1
	done
	return 1
}
