/*
 * rules.h: packet filter definitions and their rendering. Owns the model
 * (a filter is a name, rules and references to other filters), the
 * built-in filters (libvirt's clean-traffic family), the custom filter
 * files and their validation, and the translation of a filter bound to a
 * port into ebtables-restore / iptables-restore / ip6tables-restore input,
 * byte for byte as the matching *-save prints it back. Also the few fixed
 * lines (root chains, dispatch, hooks) the daemon's batches need.
 *
 * Pure: libc, jansson and libcrypto (SHA-256) only; no logging; the only
 * I/O is reading the filter files in rules_defs_load_dir(). Nothing taken
 * from input is ever copied into restore text: every value is parsed into
 * binary form and formatted from there.
 */
#ifndef NETD_RULES_H
#define NETD_RULES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define RULES_RENDER_VERSION "netd-rules-1" /* part of every hash */
#define RULES_ROOT_FROM "NETD-FROM"         /* root chain for traffic from guests (direction out) */
#define RULES_ROOT_TO "NETD-TO"             /* root chain for traffic towards guests (direction in) */

#define RULES_PORT_MAX 15 /* longest port name (the kernel's IFNAMSIZ - 1) */
#define RULES_NAME_MAX 64 /* longest filter name */

/* A port's two chains, "N-I-<port>" and "N-O-<port>", into in and out
 * (each of at least 5 + RULES_PORT_MAX bytes; port cut to
 * RULES_PORT_MAX). Without formatting: a start names 10,000 of them. */
static inline void rules_chain_names(const char *port, char *in, char *out)
{
	size_t n = strnlen(port, RULES_PORT_MAX);

	memcpy(in, "N-I-", 4);
	memcpy(out, "N-O-", 4);
	memcpy(in + 4, port, n);
	memcpy(out + 4, port, n);
	in[4 + n] = out[4 + n] = '\0';
}

enum rules_family { RULES_EB, RULES_IP4, RULES_IP6, RULES_FAMILIES };

/* The set of filter definitions: built-ins + custom. */
struct rules_defs;

/* A new set holding the built-in filters only. 0 or -ENOMEM. */
int rules_defs_new(struct rules_defs **ret);

/* A new set without the built-in filters, for checking a set of foreign
 * filters on its own (libvirt's standard filters have the built-ins'
 * names). 0 or -ENOMEM. */
int rules_defs_new_bare(struct rules_defs **ret);

/* Free the set. Accepts NULL; returns NULL. */
struct rules_defs *rules_defs_free(struct rules_defs *d);

/*
 * Load every "*.json" (netd's format) and "*.xml" (libvirt's nwfilter
 * format, see xml.c) regular file in dir (names sorted bytewise; names
 * starting with '.' are skipped, as a shell glob would) as one custom
 * filter each. An XML file's errors are "FILE: line N: why". A bad file is skipped and reported as one malloc'd string
 * "FILE: FIELD: why", e.g. "/etc/netd/filters/x.json: rules[2].src_ip:
 * '10.0.0.300' is not an IPv4 or IPv6 address", appended to *ret_errors
 * (a malloc'd array of *ret_nerrors strings, NULL when there are none;
 * the caller frees both); the other files still load. FIELD is "json" when
 * the file is not a JSON object, "name" for a bad or taken name (a built-in's
 * or one an earlier file defined), "filters" for references, otherwise the
 * path of the offending value ("rules[3].src_port", "rules[0].colour").
 *
 * References are checked after all files are read: a reference to an
 * unknown or refused filter, or a reference cycle (a -> b -> a, also a -> a)
 * refuses the filters involved, each with an error naming its file and
 * "filters". Returns the number of custom filters loaded (a missing
 * directory loads none and is not an error), or -errno if the directory
 * cannot be read (then nothing is loaded and the out-parameters are
 * untouched). May be called once, on a fresh set: a reload builds a new
 * set and swaps.
 */
int rules_defs_load_dir(struct rules_defs *d, const char *dir, char ***ret_errors, size_t *ret_nerrors);

/*
 * Check one filter definition as a file of the filter directory would
 * hold it: libvirt's XML when its first non-blank byte is '<', netd's JSON
 * otherwise; at most 1 MiB. 0 with *ret_name (malloc'd, the filter's
 * name) and *ret_xml; -EINVAL with *ret_error (malloc'd "FIELD: why" or
 * "line N: why"); -ENOMEM. References are not checked here: loading the
 * directory does.
 */
int rules_definition_parse(const char *text, size_t len, char **ret_name, bool *ret_xml, char **ret_error);

/*
 * After a reload into d: carry over from prev (the set in force before)
 * every custom filter that d lacks although its file is still there (the
 * file was refused: a filter that fails to load keeps its previous
 * definition), provided all its references are in d, until none more
 * fits. The names kept go to *ret_names (malloc'd array of *ret_n
 * malloc'd strings; NULL when none). How many, or -ENOMEM (d may then
 * hold some of them). prev is not changed.
 */
int rules_defs_keep_previous(struct rules_defs *d, const struct rules_defs *prev, char ***ret_names,
			     size_t *ret_n);

/* Number of filters: built-ins + custom. */
size_t rules_defs_count(const struct rules_defs *d);

/* The i-th filter's name, in bytewise order of names; NULL if i is out of range. */
const char *rules_defs_name(const struct rules_defs *d, size_t i);

/* Whether a filter of that name exists (NULL: false). */
bool rules_defs_has(const struct rules_defs *d, const char *name);

/* Whether name is a built-in filter. */
bool rules_defs_is_builtin(const struct rules_defs *d, const char *name);

/* The file a custom filter came from (valid as long as d is); NULL for
 * built-ins and unknown names. */
const char *rules_defs_file(const struct rules_defs *d, const char *name);

/* The filter's definition as JSON, in the format of the custom filter
 * files, exactly as it was given (a new reference); NULL if unknown. */
json_t *rules_filter_json(const struct rules_defs *d, const char *name);

/*
 * Check one binding parameter value: key "MAC" (aa:bb:cc:dd:ee:ff, either
 * case, unicast, not all zero), "IP" (an IPv4 or IPv6 address, no prefix),
 * "DHCPSERVER" (an IPv4 or IPv6 address), "GATEWAY_MAC" (as MAC). 0, or -EINVAL for a bad value or an
 * unknown key. The value is parsed, never copied into output: the
 * renderer formats from the parsed binary form.
 */
int rules_param_check(const char *key, const char *value);

/* Port names: 1..15 characters of [A-Za-z0-9_.-], not starting with '-',
 * not "." or "..". NULL is not valid. */
bool rules_port_valid(const char *port);

/* Filter names: the same rules with up to RULES_NAME_MAX characters. */
bool rules_name_valid(const char *name);

struct rules_params {
	const char *mac;                /* required: the port's MAC */
	const char *const *ips;         /* $IP values (IPv4 and/or IPv6), may be 0 */
	size_t n_ips;
	const char *const *dhcpservers; /* $DHCPSERVER values (IPv4 and/or IPv6) */
	size_t n_dhcpservers;
	const char *gateway_mac;        /* $GATEWAY_MAC, optional: without it the rules
					   that use it are left out */
};

struct rules_render {
	/* Per family: this binding's chains, as restore-input lines (each
	 * ending in '\n'): first the chain declarations, then the rules, in
	 * priority order (N-I-<port> before N-O-<port>, as *-save lists them).
	 * NULL when the binding has no rule in that family. No "*filter", no
	 * "COMMIT", no dispatch lines. */
	char *text[RULES_FAMILIES];
	bool has_in[RULES_FAMILIES];  /* chain N-I-<port> exists in that family */
	bool has_out[RULES_FAMILIES]; /* chain N-O-<port> exists in that family */
	char in_chain[32];            /* "N-I-<port>" */
	char out_chain[32];           /* "N-O-<port>" */
	char hash[65];                /* hex SHA-256 of RULES_RENDER_VERSION, then for each
	                                 family its index and text (or "-" when NULL),
	                                 length-prefixed so that it is unambiguous */
};

/*
 * Render filter bound to port with params into *ret (released with
 * rules_render_done()). -EINVAL with *ret_error (malloc'd "FIELD: why",
 * the caller frees) for an unknown filter ("filter"), a bad port ("port"),
 * a missing or bad MAC ("MAC"), a bad IP ("IP") or DHCPSERVER
 * ("DHCPSERVER"); every parameter value is checked, used or not. -ENOMEM
 * (then *ret_error is untouched). Deterministic: the same input gives
 * byte-identical output.
 *
 * Rules are taken from the filter and, recursively, from the filters it
 * references (its own rules first, then each reference in order; a filter
 * reached twice contributes its rules once, at its first place), then
 * stable-sorted by priority per chain. A rule using $IP or $DHCPSERVER is
 * rendered once per value of its address family, in list order (a
 * variable used in several fields takes the same value in all of them;
 * two different variables give the cross product, the one used first in
 * src_ip, dst_ip, arp_src_ip, arp_dst_ip order varying slowest) and
 * omitted when a variable has no such value.
 */
int rules_render(const struct rules_defs *d, const char *filter, const char *port,
		 const struct rules_params *p, struct rules_render *ret, char **ret_error);

/* Free the texts of a render and zero it. Accepts a zeroed render. */
void rules_render_done(struct rules_render *r);

/*
 * Address learning (learn.c): render the rules a port holds while netd
 * learns its address, instead of its filter's: DHCP only (any false), or
 * DHCP, ARP and IPv4 from any source address (any true); frames from
 * another MAC than p->mac dropped, everything else dropped; DHCP replies
 * only from p->dhcpservers when there are any. As rules_render(), with
 * the same errors; ebtables rules only.
 */
int rules_render_learning(bool any, const char *port, const struct rules_params *p,
			  struct rules_render *ret, char **ret_error);

/* Does filter, or a filter it references, use $IP (so that a binding of
 * it has an address to learn)? false for an unknown filter. */
bool rules_filter_uses_ip(const struct rules_defs *d, const char *filter);

/*
 * A digest of everything the renderings of filter depend on besides a
 * binding's port and parameters (digest.c): the renderer's version
 * (RULES_RENDER_VERSION, or RULES_NFT_VERSION when nft), the definitions
 * of filter and of every filter it references, as given, and its
 * rendering with fixed parameters. Two sets of definitions that give
 * filter the same digest render every binding of it alike. 0 and out
 * (64 hex digits and a NUL), -ENOENT for an unknown filter, -ENOMEM.
 * Kept in d once computed (d must not change meanwhile:
 * rules_defs_digests_forget() after a change).
 */
int rules_filter_digest(struct rules_defs *d, const char *filter, bool nft, char out[65]);

/* Forget the digests d keeps (its filters changed). */
void rules_defs_digests_forget(struct rules_defs *d);

/* Hex SHA-256 (64 lowercase digits and a NUL) of n bytes at p: the hash
 * of renderings, and of saved chains for the daemon's fingerprints.
 * -ENOMEM if libcrypto fails; out is then untouched. */
int rules_sha256_hex(const void *p, size_t n, char out[65]);

/*
 * Restore-input helpers for the daemon's batches. Each writes one or more
 * complete lines and a NUL into buf (n bytes) and returns the bytes
 * written excluding the NUL, -ENOBUFS if n is too small, -EINVAL for a
 * bad family, chain or port name; buf is untouched on failure.
 *
 * Declaration of a chain: eb ":NETD-FROM RETURN\n", ip ":NETD-FROM - [0:0]\n".
 */
int rules_chain_decl(enum rules_family f, const char *chain, char *buf, size_t n);

/* Lines that remove a chain: eb ":C RETURN\n-X C\n", ip "-F C\n-X C\n"
 * (the caller writes the root chains' declarations BEFORE these, so no
 * reference to C remains). */
int rules_chain_delete(enum rules_family f, const char *chain, char *buf, size_t n);

/*
 * One dispatch line in a root chain:
 *   eb:     from guest "-A NETD-FROM -i PORT -j N-O-PORT\n"
 *           to guest   "-A NETD-TO -o PORT -j N-I-PORT\n"
 *   ip/ip6: from guest "-A NETD-FROM -m physdev --physdev-in PORT -j N-O-PORT\n"
 *           to guest   "-A NETD-TO -m physdev --physdev-out PORT --physdev-is-bridged -j N-I-PORT\n"
 */
int rules_dispatch_line(enum rules_family f, bool to_guest, const char *port, char *buf, size_t n);

/* The lines that hook the root chains into the built-in chains, one per
 * line, the same for every family and exactly as *-save prints them:
 * "-A INPUT -j NETD-FROM\n-A FORWARD -j NETD-FROM\n-A FORWARD -j NETD-TO\n
 * -A OUTPUT -j NETD-TO\n". Static text. */
const char *rules_hook_lines(enum rules_family f);

/* --- the nftables netdev target (render-nft.c) --- */

#define RULES_NFT_VERSION "netd-nft-1" /* part of every nft hash */
#define RULES_NFT_TABLE "netd"         /* netd's table: "table netdev netd" */
#define RULES_NFT_CHAIN_MAX 32         /* "N-O-" + port + "-l2" and a NUL fit */

struct strbuf;

struct rules_nft {
	/* This binding's part of an `nft -f` input: per direction (N-I-<port>
	 * on the device's ingress hook: frames to the guest; N-O-<port> on its
	 * egress hook: frames the guest wrote to its tap), the base chain
	 * declared and flushed, its -l2 chain declared and flushed when it
	 * has rules of both levels, then the rules. Lines end in '\n'; the
	 * table itself is not declared. Never NULL after a render. */
	char *text;
	bool has_in, has_out;         /* a direction has rules */
	char in_chain[RULES_NFT_CHAIN_MAX];  /* "N-I-<port>" */
	char out_chain[RULES_NFT_CHAIN_MAX]; /* "N-O-<port>" */
	char hash[65];                /* hex SHA-256 of RULES_NFT_VERSION and the text */
};

/*
 * Render filter bound to port with params for table netdev netd into
 * *ret (released with rules_nft_done()): the same model, references,
 * priorities and variable expansion as rules_render(), and the same
 * errors (-EINVAL with *ret_error "FIELD: why", -ENOMEM); and -EINVAL
 * with "filter: 'NAME'...: ... is not supported by the nftables netdev
 * backend ..." when the filter or one it references has what only
 * libvirt's XML filters have and this target cannot express (rules in a
 * sub-chain, <filterref> parameters, sctp/udplite/esp/ah/igmp/all/vlan,
 * vlan, icmp code, arp hwtype/protocoltype/gratuitous, address ranges,
 * dscp, tcp flags, state): never a rendering with such rules left out.
 * ebtables-level rules come first in each direction, iptables-level ones
 * after them. Deterministic.
 */
int rules_render_nft(const struct rules_defs *d, const char *filter, const char *port,
		     const struct rules_params *p, struct rules_nft *ret, char **ret_error);

/* Free a nft render's text and zero it. Accepts a zeroed one. */
void rules_nft_done(struct rules_nft *r);

/* Append to b the lines that remove port's chains from table netdev netd,
 * whether they exist or not (each is added, then deleted). 0, -EINVAL for
 * a bad port name (b untouched), -ENOMEM. */
int rules_nft_remove(const char *port, struct strbuf *b);

/* Append r's text to b; when fresh (the caller knows none of the port's
 * chains exists in the kernel: a new binding), without its "flush chain"
 * lines, which only a chain that exists needs: two lines of the ~20 of a
 * clean-traffic port. The hash stays the one of the full text. */
void rules_nft_put(const struct rules_nft *r, bool fresh, struct strbuf *b);

#endif
