# scripts/setup.sh: shared by scripts/check and scripts/demo (sourced).
# Installs the Debian packages netd needs to build, test and run, and
# builds netd in build/ when it is not built yet.

# What each package is for:
#   build-essential autoconf automake libtool pkg-config   the build
#   libmnl-dev libnl-3-dev libnl-route-3-dev                rtnetlink (libnl: tests' independent view)
#   libsqlite3-dev sqlite3                                  the store; the CLI for auditors and tests
#   libjansson-dev libev-dev libinih-dev                    JSON, the event loop, the config file
#   libcmocka-dev                                           unit tests
#   iproute2 iptables ebtables nftables                     namespaces, veths, packet filters (nft: macvtap ports)
#   socat util-linux                                        raw socket tests; runuser/setpriv
#   libssl-dev                                              SHA-256 (libcrypto) for rule hashes
#   libsystemd-dev systemd procps                           sd_notify/socket activation; tests: systemd-analyze,
#                                                           systemd-socket-activate, sysusers/tmpfiles --root, kill
#   libxml2-dev                                             libvirt's nwfilter XML filters (rules/xml.c)
#   libvirt-daemon-config-nwfilter                          tests/rules/libvirt.sh: libvirt's 24 standard filters
#   iputils-ping iputils-arping dnsmasq-base busybox        data-plane tests: ping, spoofed ARP, DHCP
#   python3 gnuplot-nox strace                              bench/run: the harness, its plot, ioctl counts
#   groff-base                                              tests/docs: man pages render without warnings
#   gcovr                                                   make coverage: line coverage per file (configure --enable-coverage)
#   clang libclang-rt-14-dev                                make fuzz: libFuzzer (-fsanitize=fuzzer) and its runtime
NETD_PACKAGES="build-essential autoconf automake libtool pkg-config
libmnl-dev libnl-3-dev libnl-route-3-dev libsqlite3-dev sqlite3
libjansson-dev libev-dev libinih-dev libcmocka-dev
iproute2 iptables ebtables nftables socat util-linux iputils-ping
iputils-arping dnsmasq-base busybox libssl-dev libsystemd-dev systemd procps
python3 gnuplot-nox strace groff-base
gcovr clang libclang-rt-14-dev libxml2-dev libvirt-daemon-config-nwfilter"

netd_install_packages() {
	local missing="" p
	for p in $NETD_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "missing Debian packages:$missing (run as root to install them)" >&2
		return 1
	fi
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# netd_configure DIR [configure options]: a fresh out-of-tree build in DIR.
netd_configure() {
	local dir=$1
	shift
	# An in-tree configure would make every out-of-tree one refuse.
	[ -f "$NETD_TOP/config.status" ] && make -C "$NETD_TOP" distclean >/dev/null
	[ -x "$NETD_TOP/configure" ] || (cd "$NETD_TOP" && autoreconf -fi)
	mkdir -p "$dir"
	(cd "$dir" && "$NETD_TOP/configure" -q "$@")
}

# netd_build_if_needed: make sure build/netd/netd and netdctl exist and are
# current.
netd_build_if_needed() {
	[ -f "$NETD_TOP/build/Makefile" ] || netd_configure "$NETD_TOP/build" --enable-werror
	make -s -C "$NETD_TOP/build" -j2 >/dev/null
}

NETD_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
