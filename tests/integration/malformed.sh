#!/bin/bash
# A table of malformed and unusual inputs, each answered as documented in
# netd(8), while a second client, connected throughout, keeps being served.
. "$(dirname "$0")/lib.sh"

command -v socat >/dev/null || fail "socat is required (apt-get install socat)"
start_netd

# The bystander: one connection held open for the whole test.
coproc HELD { socat - UNIX-CONNECT:"$SOCK"; }
held_status() {
	local reply
	printf '{"method":"io.netd.GetStatus"}\0' >&"${HELD[1]}"
	IFS= read -r -d '' -t 5 reply <&"${HELD[0]}" || fail "bystander got no reply after: $1"
	case $reply in *'"uptime_sec"'*) ;; *) fail "bystander got '$reply' after: $1" ;; esac
}
held_status "nothing yet"

# check NAME EXPECTED_FIRST_LINE_SUBSTRING CLOSED|OPEN  (stdin: the bytes;
# not a pipe into check: bash hides coproc descriptors from subshells)
n=0
check() {
	local name=$1 want=$2 state=$3 out first last
	out=$("$VLCLIENT" raw "$SOCK" 700)
	first=$(printf '%s\n' "$out" | head -n 1)
	last=$(printf '%s\n' "$out" | tail -n 1)
	if [ -n "$want" ]; then
		case $first in *"$want"*) ;; *) fail "$name: reply '$first', want '$want'" ;; esac
	else
		[ "$first" = "$state" ] || fail "$name: expected no reply, got '$first'"
	fi
	[ "$last" = "$state" ] || fail "$name: connection $last, want $state"
	kill -0 "$NETD_PID" || fail "$name: netd died"
	held_status "$name"
	n=$((n + 1))
	ok "$name"
}
PE='"error":"io.netd.ProtocolError"'
IP='"error":"org.varlink.service.InvalidParameter","parameters":{"parameter":'

check "not JSON"              "$PE" CLOSED < <(printf 'not json\0')
check "JSON array"            "$PE,\"parameters\":{\"reason\":\"message is not a JSON object\"}" CLOSED < <(printf '[1,2]\0')
check "JSON string"           "$PE" CLOSED < <(printf '"just a string"\0')
check "empty message"         "$PE,\"parameters\":{\"reason\":\"empty message\"}" CLOSED < <(printf '\0')
check "truncated JSON"        "$PE" CLOSED < <(printf '{"method":\0')
check "duplicate key"        "$PE" CLOSED < <(printf '{"method":"io.netd.GetStatus","method":"x"}\0')
check "invalid UTF-8"         "$PE" CLOSED < <(printf '{"method":"io.netd.G\xff\xfe"}\0')
check "escaped NUL in a string" "$PE" CLOSED < <(printf '{"method":"io.netd.GetStatus","parameters":{"a":"\\u0000"}}\0')
check "raw NUL inside a string" "$PE" CLOSED < <(printf '{"method":"io.netd.Get\0Status"}\0')
check "nothing read after a protocol error" "$PE" CLOSED < <(printf 'garbage\0{"method":"io.netd.GetStatus"}\0')
check "unknown method"        '"error":"org.varlink.service.MethodNotFound","parameters":{"method":"io.netd.Nope"}' OPEN < <(printf '{"method":"io.netd.Nope"}\0')
check "unknown interface"     '"error":"org.varlink.service.InterfaceNotFound","parameters":{"interface":"com.example.Other"}' OPEN < <(printf '{"method":"com.example.Other.Method"}\0')
check "method without interface" "$IP\"method\"}" OPEN < <(printf '{"method":"GetStatus"}\0')
check "method not a string"   "$IP\"method\"}" OPEN < <(printf '{"method":42}\0')
check "no method"             "$IP\"method\"}" OPEN < <(printf '{"parameters":{}}\0')
check "parameters not an object" "$IP\"parameters\"}" OPEN < <(printf '{"method":"io.netd.GetStatus","parameters":[]}\0')
check "unknown parameter" "$IP\"x\"}" OPEN < <(printf '{"method":"io.netd.GetStatus","parameters":{"x":1}}\0')
check "missing parameter" "$IP\"interface\"}" OPEN < <(printf '{"method":"org.varlink.service.GetInterfaceDescription"}\0')
check "mistyped parameter" "$IP\"interface\"}" OPEN < <(printf '{"method":"org.varlink.service.GetInterfaceDescription","parameters":{"interface":5}}\0')
check "mistyped more"        "$IP\"more\"}" OPEN < <(printf '{"method":"io.netd.GetStatus","more":"yes"}\0')
check "upgrade refused"    "$IP\"upgrade\"}" OPEN < <(printf '{"method":"io.netd.GetStatus","upgrade":true}\0')
check "unknown envelope key"  "$IP\"bogus\"}" OPEN < <(printf '{"method":"io.netd.GetStatus","bogus":1}\0')
check "oneway: no reply"    "" OPEN < <(printf '{"method":"io.netd.GetStatus","oneway":true}\0')
check "reply, then the error, in order" '"parameters":{"version"' CLOSED < <(printf '{"method":"io.netd.GetStatus"}\0nonsense\0')

# Nested 100000 deep: refused by the parser's depth limit, no crash.
check "deep nesting" "$PE" CLOSED < <({ head -c 100000 /dev/zero | tr '\0' '['; printf '\0'; })

# Over max_message_size (1 MiB): closed without reading further, whether
# the NUL came or not.
check "oversize message" "" CLOSED < <({ head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' ' '; printf '\0'; })
check "oversize, never terminated" "" CLOSED < <(head -c $((3 * 1024 * 1024)) /dev/zero | tr '\0' ' ')
# Exactly at the limit is still a message (whitespace around JSON is fine).
check "message of exactly 1 MiB" '"parameters":{"version"' OPEN < <({ head -c $((1024 * 1024 - 30)) /dev/zero | tr '\0' ' '; printf '{"method":"io.netd.GetStatus"}\0'; })

[ $n -ge 10 ] || fail "only $n cases"
[ "$(status_field protocol_errors)" -ge 12 ] || fail "protocol_errors not counted"
[ "$(status_field clients_dropped)" -ge 2 ] || fail "oversize drops not counted"

# Bash unsets HELD_PID as soon as the bystander exits, which closing its
# input makes it do: take the pid first.
held_pid=${HELD_PID:-}
[ -n "${HELD[1]:-}" ] && exec {HELD[1]}>&-
[ -n "$held_pid" ] && wait "$held_pid" 2>/dev/null
stop_netd
ok "$n malformed inputs answered as documented; bystander served throughout"
