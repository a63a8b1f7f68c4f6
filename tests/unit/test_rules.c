/*
 * test_rules.c: the filter module: every built-in and the custom filters
 * of tests/rules/custom/ rendered and compared with the golden files of
 * tests/rules/golden/ (UPDATE_GOLDEN=1 rewrites them instead), the load
 * errors of that directory and of one bad file per validation rule,
 * reference checks, priority order and variable expansion, determinism and
 * the hash, injection attempts through parameters and port names, and the
 * restore-input helpers. Needs no firewall tool: tests/rules/roundtrip.sh
 * checks the golden files against the real ones.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules/rules.h"

#define MAC "52:54:00:12:34:56"

static const char *const std_ips[] = { "192.168.122.10", "2001:db8::10" };
static const char *const std_dhcp[] = { "192.168.122.1" };
static const struct rules_params std_params = {
	.mac = MAC,
	.ips = std_ips,
	.n_ips = 2,
	.dhcpservers = std_dhcp,
	.n_dhcpservers = 1,
	.gateway_mac = "52:54:00:00:00:fe",
};

static const char *const fam_ext[RULES_FAMILIES] = { "eb", "ip4", "ip6" };

static const char *const builtins[] = {
	"allow-arp", "allow-dhcp", "allow-dhcp-server", "allow-dhcpv6", "allow-dhcpv6-server",
	"allow-incoming-ipv4", "allow-incoming-ipv6", "allow-ipv4", "allow-ipv6", "clean-traffic",
	"clean-traffic-gateway", "no-arp-ip-spoofing", "no-arp-mac-spoofing", "no-arp-spoofing",
	"no-ip-multicast", "no-ip-spoofing", "no-ipv6-multicast", "no-ipv6-spoofing", "no-mac-broadcast",
	"no-mac-spoofing", "no-other-l2-traffic", "no-other-rarp-traffic", "qemu-announce-self",
	"qemu-announce-self-rarp",
};
#define N_BUILTINS (sizeof(builtins) / sizeof(builtins[0]))

/* --- helpers --- */

/* The source tree: $top_srcdir, else what __FILE__ says lies above
 * tests/unit/, else ".". */
static const char *srcdir(void)
{
	static char dir[4096];
	const char *env = getenv("top_srcdir");
	const char *file = __FILE__, *suffix = "tests/unit/test_rules.c";
	size_t n = strlen(file), k = strlen(suffix);

	if (env && *env)
		return env;
	if (n > k && file[n - k - 1] == '/' && strcmp(file + n - k, suffix) == 0 && n - k < sizeof(dir)) {
		memcpy(dir, file, n - k - 1); /* without the '/' */
		dir[n - k - 1] = '\0';
		if (dir[0])
			return dir;
		return "/";
	}
	return ".";
}

static char *path_of(const char *rel)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", srcdir(), rel) > 0);
	return p;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;
	FILE *m;
	int c;

	if (!f)
		return NULL;
	m = open_memstream(&buf, &len);
	assert_non_null(m);
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(m);
	fclose(f);
	return buf;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f)
		fail_msg("cannot write %s", path);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static bool updating(void)
{
	const char *u = getenv("UPDATE_GOLDEN");

	return u && strcmp(u, "1") == 0;
}

/* Compare every family of r with golden/<name>.<family>; a NULL family
 * must have no file. With UPDATE_GOLDEN=1, write them instead. */
static void check_golden(const char *name, const struct rules_render *r)
{
	for (int f = 0; f < RULES_FAMILIES; f++) {
		char *rel, *path, *want;

		assert_true(asprintf(&rel, "tests/rules/golden/%s.%s", name, fam_ext[f]) > 0);
		path = path_of(rel);
		if (updating()) {
			if (r->text[f])
				write_file(path, r->text[f]);
			else
				unlink(path);
		} else {
			want = read_file(path);
			if (!r->text[f] && want)
				fail_msg("%s: the golden file exists but %s renders nothing there", rel, name);
			if (r->text[f] && !want)
				fail_msg("%s: missing; %s renders:\n%s(run with UPDATE_GOLDEN=1 to write it)", rel,
					 name, r->text[f]);
			if (want && strcmp(want, r->text[f]) != 0)
				fail_msg("%s differs; rendered:\n%s", rel, r->text[f]);
			free(want);
		}
		assert_int_equal(r->has_in[f] || r->has_out[f], r->text[f] != NULL);
		free(path);
		free(rel);
	}
}

static void render_ok(const struct rules_defs *d, const char *filter, const char *port,
		      const struct rules_params *p, struct rules_render *r)
{
	char *err = NULL;
	int ret = rules_render(d, filter, port, p, r, &err);

	if (ret != 0)
		fail_msg("rendering %s on %s: %d %s", filter, port, ret, err ? err : "");
	assert_null(err);
}

static void render_fails(const struct rules_defs *d, const char *filter, const char *port,
			 const struct rules_params *p, const char *field)
{
	struct rules_render r;
	char *err = NULL;
	size_t n = strlen(field);

	memset(&r, 0x5a, sizeof(r));
	assert_int_equal(rules_render(d, filter, port, p, &r, &err), -EINVAL);
	assert_non_null(err);
	if (strncmp(err, field, n) != 0 || strncmp(err + n, ": ", 2) != 0)
		fail_msg("expected an error about %s, got \"%s\"", field, err);
	/* Nothing leaks through the message: it is one line. */
	assert_null(strchr(err, '\n'));
	/* *ret untouched. */
	for (size_t i = 0; i < sizeof(r); i++)
		assert_int_equal(((unsigned char *)&r)[i], 0x5a);
	free(err);
}

static struct rules_defs *defs_builtin(void)
{
	struct rules_defs *d = NULL;

	assert_int_equal(rules_defs_new(&d), 0);
	assert_non_null(d);
	return d;
}

static void free_errors(char **errors, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(errors[i]);
	free(errors);
}

/* A temporary directory of filter files. */
struct tmpdir {
	char path[64];
};

static void tmpdir_new(struct tmpdir *t)
{
	snprintf(t->path, sizeof(t->path), "/tmp/test_rules.XXXXXX");
	assert_non_null(mkdtemp(t->path));
}

static void tmpdir_put(struct tmpdir *t, const char *name, const char *text)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", t->path, name) > 0);
	write_file(p, text);
	free(p);
}

static void tmpdir_free(struct tmpdir *t)
{
	char *cmd;

	/* Only ever a directory mkdtemp() made above. */
	assert_true(asprintf(&cmd, "rm -rf '%s'", t->path) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

/* defs with the built-ins and the files of dir; errors returned. */
static struct rules_defs *defs_dir(const char *dir, int want_loaded, char ***ret_errors, size_t *ret_n)
{
	struct rules_defs *d = defs_builtin();
	char **errors = NULL;
	size_t n = 0;
	int r = rules_defs_load_dir(d, dir, &errors, &n);

	if (r != want_loaded) {
		for (size_t i = 0; i < n; i++)
			print_message("error: %s\n", errors[i]);
		fail_msg("loading %s: %d filters, expected %d", dir, r, want_loaded);
	}
	*ret_errors = errors;
	*ret_n = n;
	return d;
}

/* The lines of the chain (without the declaration) as one string. */
static char *chain_lines(const char *text, const char *chain)
{
	char *buf = NULL, prefix[64];
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	snprintf(prefix, sizeof(prefix), "-A %s ", chain);
	for (const char *p = text; p && *p;) {
		const char *eol = strchr(p, '\n');

		assert_non_null(eol);
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			fwrite(p + strlen(prefix), 1, (size_t)(eol - p) - strlen(prefix) + 1, m);
		p = eol + 1;
	}
	fclose(m);
	return buf;
}

/* --- tests --- */

static void test_builtins(void **state)
{
	struct rules_defs *d = defs_builtin();

	assert_int_equal(rules_defs_count(d), N_BUILTINS);
	for (size_t i = 0; i < N_BUILTINS; i++) {
		struct rules_render r;

		assert_string_equal(rules_defs_name(d, i), builtins[i]);
		assert_true(rules_defs_has(d, builtins[i]));
		assert_true(rules_defs_is_builtin(d, builtins[i]));
		assert_null(rules_defs_file(d, builtins[i]));
		render_ok(d, builtins[i], "vnet0", &std_params, &r);
		assert_string_equal(r.in_chain, "N-I-vnet0");
		assert_string_equal(r.out_chain, "N-O-vnet0");
		check_golden(builtins[i], &r);
		/* Built-ins are ebtables only. */
		assert_null(r.text[RULES_IP4]);
		assert_null(r.text[RULES_IP6]);
		rules_render_done(&r);
	}
	assert_null(rules_defs_name(d, N_BUILTINS));
	assert_false(rules_defs_has(d, "nope"));
	assert_false(rules_defs_has(d, NULL));
	assert_false(rules_defs_is_builtin(d, "nope"));
	rules_defs_free(d);
	assert_null(rules_defs_free(NULL));
}

/* The behaviour the brief describes, spelled out for clean-traffic. */
static void test_clean_traffic(void **state)
{
	struct rules_defs *d = defs_builtin();
	struct rules_render r;
	char *in, *out;

	render_ok(d, "clean-traffic", "vnet0", &std_params, &r);
	assert_true(r.has_in[RULES_EB]);
	assert_true(r.has_out[RULES_EB]);
	assert_false(r.has_in[RULES_IP4] || r.has_out[RULES_IP4] || r.has_in[RULES_IP6] || r.has_out[RULES_IP6]);
	in = chain_lines(r.text[RULES_EB], "N-I-vnet0");
	out = chain_lines(r.text[RULES_EB], "N-O-vnet0");
	/* The RARP announcement of a migrated guest passes both ways
	 * (qemu-announce-self), other RARP does not. */
	assert_string_equal(in,
			    "-p RARP -d Broadcast --arp-op Request_Reverse --arp-ip-src 0.0.0.0 --arp-ip-dst 0.0.0.0 "
			    "--arp-mac-src 52:54:00:12:34:56 --arp-mac-dst 52:54:00:12:34:56 -j ACCEPT\n"
			    "-p RARP -j DROP\n"
			    "-p ARP -j ACCEPT\n"
			    "-p IPv4 -j ACCEPT\n"
			    "-j DROP\n");
	assert_string_equal(out,
			    "-s ! 52:54:00:12:34:56 -j DROP\n"
			    "-p IPv4 --ip-src 0.0.0.0 --ip-dst 255.255.255.255 --ip-proto udp --ip-sport 68 --ip-dport 67 -j RETURN\n"
			    "-p IPv4 --ip-src 192.168.122.10 -j RETURN\n"
			    "-p IPv4 -j DROP\n"
			    "-p ARP --arp-mac-src ! 52:54:00:12:34:56 -j DROP\n"
			    "-p ARP --arp-ip-src 192.168.122.10 -j RETURN\n"
			    "-p ARP --arp-ip-src 0.0.0.0 -j RETURN\n"
			    "-p ARP -j DROP\n"
			    "-p RARP -s 52:54:00:12:34:56 -d Broadcast --arp-op Request_Reverse --arp-ip-src 0.0.0.0 "
			    "--arp-ip-dst 0.0.0.0 --arp-mac-src 52:54:00:12:34:56 --arp-mac-dst 52:54:00:12:34:56 -j ACCEPT\n"
			    "-p RARP -j DROP\n"
			    "-p ARP -j ACCEPT\n"
			    "-p 0x835 -j ACCEPT\n"
			    "-j DROP\n");
	assert_true(strncmp(r.text[RULES_EB], ":N-I-vnet0 RETURN\n:N-O-vnet0 RETURN\n-A N-I-vnet0 ", 47) == 0);
	free(in);
	free(out);
	rules_render_done(&r);
	rules_render_done(&r); /* a done render is zeroed */

	/* Without any IP, IPv4 and ARP from the guest are dropped but for
	 * the DHCP discover and ARP probes. */
	{
		struct rules_params p = { .mac = "02:00:00:00:00:01" };

		render_ok(d, "clean-traffic", "tap-1.x_y", &p, &r);
		out = chain_lines(r.text[RULES_EB], "N-O-tap-1.x_y");
		assert_string_equal(out,
				    "-s ! 02:00:00:00:00:01 -j DROP\n"
				    "-p IPv4 --ip-src 0.0.0.0 --ip-dst 255.255.255.255 --ip-proto udp --ip-sport 68 --ip-dport 67 -j RETURN\n"
				    "-p IPv4 -j DROP\n"
				    "-p ARP --arp-mac-src ! 02:00:00:00:00:01 -j DROP\n"
				    "-p ARP --arp-ip-src 0.0.0.0 -j RETURN\n"
				    "-p ARP -j DROP\n"
				    "-p RARP -s 02:00:00:00:00:01 -d Broadcast --arp-op Request_Reverse --arp-ip-src 0.0.0.0 "
				    "--arp-ip-dst 0.0.0.0 --arp-mac-src 02:00:00:00:00:01 --arp-mac-dst 02:00:00:00:00:01 -j ACCEPT\n"
				    "-p RARP -j DROP\n"
				    "-p ARP -j ACCEPT\n"
				    "-p 0x835 -j ACCEPT\n"
				    "-j DROP\n");
		free(out);
		rules_render_done(&r);
	}
	rules_defs_free(d);
}

static const char *const custom_good[] = { "edge-forms", "l2-custom", "my-ssh", "with-refs" };

static void test_custom_dir(void **state)
{
	static const struct {
		const char *file, *field, *text; /* text: the whole message after "FILE: " or NULL */
	} want[] = {
		{ "bad-field.json", "rules[0].colour", "rules[0].colour: unknown field" },
		{ "bad-ip.json", "rules[2].src_ip", "rules[2].src_ip: '10.0.0.300' is not an IPv4 or IPv6 address" },
		{ "dup-builtin.json", "name", "name: 'clean-traffic' is the name of a built-in filter" },
		{ "not-json.json", "json", NULL },
		{ "zz-dup-name.json", "name", NULL },
		{ "unknown-ref.json", "filters", "filters: unknown filter 'no-such-filter'" },
		{ "cycle-a.json", "filters", "filters: reference cycle cycle-a -> cycle-b -> cycle-a" },
		{ "cycle-b.json", "filters", "filters: reference cycle cycle-b -> cycle-a -> cycle-b" },
		{ "self-ref.json", "filters", "filters: reference cycle self-ref -> self-ref" },
		{ "refs-cycle.json", "filters", "filters: filter 'cycle-a' was refused" },
	};
	char *dir = path_of("tests/rules/custom");
	char **errors;
	size_t n;
	struct rules_defs *d = defs_dir(dir, 4, &errors, &n);

	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++) {
		char *prefix;

		assert_true(asprintf(&prefix, "%s/%s: %s: ", dir, want[i].file, want[i].field) > 0);
		if (strncmp(errors[i], prefix, strlen(prefix)) != 0)
			fail_msg("error %zu: expected \"%s...\", got \"%s\"", i, prefix, errors[i]);
		if (want[i].text)
			assert_string_equal(errors[i] + strlen(dir) + 1 + strlen(want[i].file) + 2, want[i].text);
		assert_null(strchr(errors[i], '\n'));
		free(prefix);
	}
	free_errors(errors, n);

	assert_int_equal(rules_defs_count(d), N_BUILTINS + 4);
	/* Sorted by name, built-ins and custom together. */
	for (size_t i = 1; i < rules_defs_count(d); i++)
		assert_true(strcmp(rules_defs_name(d, i - 1), rules_defs_name(d, i)) < 0);
	for (size_t i = 0; i < sizeof(custom_good) / sizeof(custom_good[0]); i++) {
		struct rules_render r;
		char *file, *rel;
		json_t *def, *orig;

		assert_true(rules_defs_has(d, custom_good[i]));
		assert_false(rules_defs_is_builtin(d, custom_good[i]));
		assert_true(asprintf(&rel, "tests/rules/custom/%s.json", custom_good[i]) > 0);
		file = path_of(rel);
		assert_string_equal(rules_defs_file(d, custom_good[i]), file);
		/* The definition comes back as it was written. */
		def = rules_filter_json(d, custom_good[i]);
		orig = json_load_file(file, 0, NULL);
		assert_non_null(def);
		assert_non_null(orig);
		assert_true(json_equal(def, orig));
		json_decref(def);
		json_decref(orig);
		render_ok(d, custom_good[i], "vnet0", &std_params, &r);
		check_golden(custom_good[i], &r);
		rules_render_done(&r);
		free(file);
		free(rel);
	}
	for (const char *const *p = (const char *const[]) { "bad-field", "bad-ip", "cycle-a", "cycle-b",
							     "self-ref", "refs-cycle", "unknown-ref", NULL };
	     *p; p++)
		assert_false(rules_defs_has(d, *p));
	/* The built-in won over the file of the same name. */
	assert_true(rules_defs_is_builtin(d, "clean-traffic"));
	rules_defs_free(d);
	free(dir);
}

static void test_filter_json(void **state)
{
	struct rules_defs *d = defs_builtin();
	json_t *j = rules_filter_json(d, "clean-traffic"), *refs;

	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "name")), "clean-traffic");
	refs = json_object_get(j, "filters");
	assert_int_equal(json_array_size(refs), 7);
	assert_string_equal(json_string_value(json_array_get(refs, 0)), "no-mac-spoofing");
	assert_string_equal(json_string_value(json_array_get(refs, 5)), "no-other-l2-traffic");
	assert_string_equal(json_string_value(json_array_get(refs, 6)), "qemu-announce-self");
	json_decref(j);

	j = rules_filter_json(d, "no-ip-spoofing");
	assert_int_equal(json_array_size(json_object_get(j, "rules")), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(j, "rules"), 1),
							    "priority")), -700);
	/* A new reference: changing it changes nothing in d. */
	json_object_set_new(j, "name", json_string("changed"));
	json_decref(j);
	j = rules_filter_json(d, "no-ip-spoofing");
	assert_string_equal(json_string_value(json_object_get(j, "name")), "no-ip-spoofing");
	json_decref(j);

	assert_null(rules_filter_json(d, "nope"));
	rules_defs_free(d);
}

/* One bad file at a time: the error names the right field. */
static void test_validation(void **state)
{
#define R(x) "{\"name\": \"t\", \"rules\": [" x "]}"
#define IN_TCP "\"direction\": \"in\", \"protocol\": \"tcp\", \"action\": \"accept\""
#define OUT_V4 "\"direction\": \"out\", \"protocol\": \"ipv4\", \"action\": \"drop\""
#define OUT_ARP "\"direction\": \"out\", \"protocol\": \"arp\", \"action\": \"drop\""
#define OUT_MAC "\"direction\": \"out\", \"protocol\": \"mac\", \"action\": \"drop\""
	static const struct {
		const char *json, *field;
	} bad[] = {
		{ "[1, 2]", "json" },
		{ "{\"name\": \"t\", \"name\": \"u\"}", "json" },
		{ "", "json" },
		{ "{\"name\": \"t\", \"colour\": 1}", "colour" },
		{ "{\"rules\": []}", "name" },
		{ "{\"name\": 5}", "name" },
		{ "{\"name\": \"-t\"}", "name" },
		{ "{\"name\": \".\"}", "name" },
		{ "{\"name\": \"a/b\"}", "name" },
		{ "{\"name\": \"a b\"}", "name" },
		{ "{\"name\": \"t\\u0000x\"}", "json" }, /* jansson refuses NUL without JSON_ALLOW_NUL */
		{ "{\"name\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", "name" }, /* 65 */
		{ "{\"name\": \"t\", \"rules\": {}}", "rules" },
		{ "{\"name\": \"t\", \"filters\": \"clean-traffic\"}", "filters" },
		{ "{\"name\": \"t\", \"filters\": [\"ok\", 3]}", "filters[1]" },
		{ "{\"name\": \"t\", \"filters\": [\"ok\", \"x y\"]}", "filters[1]" },
		{ R("3"), "rules[0]" },
		{ R("{" IN_TCP "}, {\"protocol\": \"tcp\", \"action\": \"accept\"}"), "rules[1].direction" },
		{ R("{\"direction\": \"up\", \"protocol\": \"tcp\", \"action\": \"accept\"}"), "rules[0].direction" },
		{ R("{\"direction\": \"in\", \"action\": \"accept\"}"), "rules[0].protocol" },
		{ R("{\"direction\": \"in\", \"protocol\": \"TCP\", \"action\": \"accept\"}"), "rules[0].protocol" },
		{ R("{\"direction\": \"in\", \"protocol\": \"sctp\", \"action\": \"accept\"}"), "rules[0].protocol" },
		{ R("{\"direction\": \"in\", \"protocol\": \"tcp\"}"), "rules[0].action" },
		{ R("{\"direction\": \"in\", \"protocol\": \"tcp\", \"action\": \"continue\"}"), "rules[0].action" },
		{ R("{" IN_TCP ", \"priority\": 1001}"), "rules[0].priority" },
		{ R("{" IN_TCP ", \"priority\": -1001}"), "rules[0].priority" },
		{ R("{" IN_TCP ", \"priority\": \"5\"}"), "rules[0].priority" },
		{ R("{" IN_TCP ", \"priority\": 1.5}"), "rules[0].priority" },
		{ R("{" IN_TCP ", \"match\": \"no\"}"), "rules[0].match" },
		{ R("{" IN_TCP ", \"Direction\": \"in\"}"), "rules[0].Direction" },
		/* fields on the wrong protocol */
		{ R("{" IN_TCP ", \"src_mac\": \"$MAC\"}"), "rules[0].src_mac" },
		{ R("{" OUT_V4 ", \"ethertype\": \"0x0800\"}"), "rules[0].ethertype" },
		{ R("{" OUT_ARP ", \"src_ip\": \"10.0.0.1\"}"), "rules[0].src_ip" },
		{ R("{" OUT_MAC ", \"dst_ip\": \"10.0.0.1\"}"), "rules[0].dst_ip" },
		{ R("{" IN_TCP ", \"ip_protocol\": \"tcp\"}"), "rules[0].ip_protocol" },
		{ R("{" OUT_ARP ", \"dst_port\": \"1\"}"), "rules[0].dst_port" },
		{ R("{" OUT_V4 ", \"arp_op\": \"reply\"}"), "rules[0].arp_op" },
		{ R("{" OUT_V4 ", \"arp_src_ip\": \"$IP\"}"), "rules[0].arp_src_ip" },
		{ R("{" IN_TCP ", \"icmp_type\": 8}"), "rules[0].icmp_type" },
		{ R("{\"direction\": \"in\", \"protocol\": \"all\", \"action\": \"drop\", \"src_ip\": \"$IP\"}"),
		  "rules[0].src_ip" },
		/* ports need tcp or udp on ipv4/ipv6 */
		{ R("{" OUT_V4 ", \"dst_port\": \"53\"}"), "rules[0].dst_port" },
		{ R("{" OUT_V4 ", \"ip_protocol\": \"icmp\", \"src_port\": \"53\"}"), "rules[0].src_port" },
		/* bad values */
		{ R("{" OUT_MAC ", \"src_mac\": \"52:54:00:12:34\"}"), "rules[0].src_mac" },
		{ R("{" OUT_MAC ", \"src_mac\": \"52:54:00:12:34:56 \"}"), "rules[0].src_mac" },
		{ R("{" OUT_MAC ", \"src_mac\": \"52:54:00:12:34:5g\"}"), "rules[0].src_mac" },
		{ R("{" OUT_MAC ", \"src_mac\": \"52-54-00-12-34-56\"}"), "rules[0].src_mac" },
		{ R("{" OUT_MAC ", \"src_mac\": \"52:54:00:12:34:56/00:00:00:00:00:00\"}"), "rules[0].src_mac" },
		{ R("{" OUT_MAC ", \"src_mac\": \"52:54:00:12:34:56/24\"}"), "rules[0].src_mac" },
		{ R("{" OUT_MAC ", \"src_mac\": \"$IP\"}"), "rules[0].src_mac" },
		{ R("{" OUT_MAC ", \"src_mac\": 5}"), "rules[0].src_mac" },
		{ R("{" OUT_ARP ", \"arp_dst_mac\": \"$GATEWAY_MAC\"}"), "rules[0].arp_dst_mac" },
		{ R("{" OUT_ARP ", \"arp_src_mac\": \"$GATEWAY_MAC\"}"), "rules[0].arp_src_mac" },
		{ R("{" OUT_ARP ", \"arp_src_mac\": \"52:54:00:12:34:56/ff:ff:ff:ff:ff:ff\"}"), "rules[0].arp_src_mac" },
		{ R("{" OUT_MAC ", \"ethertype\": \"0800\"}"), "rules[0].ethertype" },
		{ R("{" OUT_MAC ", \"ethertype\": \"0x0600\"}"), "rules[0].ethertype" },
		{ R("{" OUT_MAC ", \"ethertype\": \"0x10000\"}"), "rules[0].ethertype" },
		{ R("{" OUT_MAC ", \"ethertype\": \"0x08g0\"}"), "rules[0].ethertype" },
		{ R("{" OUT_MAC ", \"ethertype\": 2048}"), "rules[0].ethertype" },
		{ R("{" OUT_V4 ", \"src_ip\": \"10.0.0.300\"}"), "rules[0].src_ip" },
		{ R("{" OUT_V4 ", \"src_ip\": \"2001:db8::1\"}"), "rules[0].src_ip" },
		{ R("{" OUT_V4 ", \"src_ip\": \"10.0.0.1 \"}"), "rules[0].src_ip" },
		{ R("{" OUT_V4 ", \"src_ip\": \"10.0.0.01\"}"), "rules[0].src_ip" },
		{ R("{" OUT_V4 ", \"src_ip\": \"10.0.0.0/0\"}"), "rules[0].src_ip" },
		{ R("{" OUT_V4 ", \"src_ip\": \"10.0.0.0/33\"}"), "rules[0].src_ip" },
		{ R("{" OUT_V4 ", \"src_ip\": \"10.0.0.0/08\"}"), "rules[0].src_ip" },
		{ R("{" OUT_V4 ", \"src_ip\": \"10.0.0.0/\"}"), "rules[0].src_ip" },
		{ R("{" OUT_V4 ", \"src_ip\": \"10.0.0.1\\u0000junk\"}"), "json" },
		{ R("{" OUT_V4 ", \"src_ip\": \"$ip\"}"), "rules[0].src_ip" },
		{ R("{" OUT_V4 ", \"dst_ip\": \"$MAC\"}"), "rules[0].dst_ip" },
		{ R("{\"direction\": \"out\", \"protocol\": \"ipv6\", \"action\": \"drop\", \"src_ip\": \"::/129\"}"),
		  "rules[0].src_ip" },
		{ R("{\"direction\": \"out\", \"protocol\": \"icmpv6\", \"action\": \"drop\", \"dst_ip\": \"10.0.0.1\"}"),
		  "rules[0].dst_ip" },
		{ R("{\"direction\": \"out\", \"protocol\": \"tcp-ipv6\", \"action\": \"drop\", \"dst_ip\": \"fe80::1%eth0\"}"),
		  "rules[0].dst_ip" },
		{ R("{" OUT_ARP ", \"arp_src_ip\": \"2001:db8::1\"}"), "rules[0].arp_src_ip" },
		{ R("{" OUT_V4 ", \"ip_protocol\": \"gre\"}"), "rules[0].ip_protocol" },
		{ R("{" OUT_V4 ", \"ip_protocol\": 256}"), "rules[0].ip_protocol" },
		{ R("{" OUT_V4 ", \"ip_protocol\": -1}"), "rules[0].ip_protocol" },
		{ R("{" OUT_V4 ", \"ip_protocol\": \"06\"}"), "rules[0].ip_protocol" },
		{ R("{" IN_TCP ", \"dst_port\": \"0\"}"), "rules[0].dst_port" },
		{ R("{" IN_TCP ", \"dst_port\": \"65536\"}"), "rules[0].dst_port" },
		{ R("{" IN_TCP ", \"dst_port\": \"20-10\"}"), "rules[0].dst_port" },
		{ R("{" IN_TCP ", \"dst_port\": \"10-\"}"), "rules[0].dst_port" },
		{ R("{" IN_TCP ", \"dst_port\": \"-10\"}"), "rules[0].dst_port" },
		{ R("{" IN_TCP ", \"dst_port\": \"10:20\"}"), "rules[0].dst_port" },
		{ R("{" IN_TCP ", \"dst_port\": \"22 \"}"), "rules[0].dst_port" },
		{ R("{" IN_TCP ", \"dst_port\": \"022\"}"), "rules[0].dst_port" },
		{ R("{" IN_TCP ", \"dst_port\": \"+22\"}"), "rules[0].dst_port" },
		{ R("{" IN_TCP ", \"dst_port\": 0}"), "rules[0].dst_port" },
		{ R("{" IN_TCP ", \"src_port\": true}"), "rules[0].src_port" },
		{ R("{" OUT_ARP ", \"arp_op\": 0}"), "rules[0].arp_op" },
		{ R("{" OUT_ARP ", \"arp_op\": \"Reply\"}"), "rules[0].arp_op" },
		{ R("{" OUT_ARP ", \"arp_op\": 65536}"), "rules[0].arp_op" },
		{ R("{\"direction\": \"in\", \"protocol\": \"icmp\", \"action\": \"drop\", \"icmp_type\": 256}"),
		  "rules[0].icmp_type" },
		{ R("{\"direction\": \"in\", \"protocol\": \"icmp\", \"action\": \"drop\", \"icmp_type\": \"8\\n\"}"),
		  "rules[0].icmp_type" },
		{ R("{" IN_TCP "}, {" IN_TCP "}, {" IN_TCP ", \"src_ip\": \"1.2.3.4\\n-A INPUT -j ACCEPT\"}"),
		  "rules[2].src_ip" },
	};
	struct tmpdir t;
	char *dir_file;

	tmpdir_new(&t);
	assert_true(asprintf(&dir_file, "%s/t.json", t.path) > 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rules_defs *d;
		char **errors;
		size_t n, k = strlen(dir_file) + 2, m = strlen(bad[i].field);

		tmpdir_put(&t, "t.json", bad[i].json);
		d = defs_dir(t.path, 0, &errors, &n);
		if (n != 1)
			fail_msg("case %zu (%s): %zu errors", i, bad[i].json, n);
		if (strncmp(errors[0], dir_file, k - 2) != 0 || strncmp(errors[0] + k, bad[i].field, m) != 0 ||
		    strncmp(errors[0] + k + m, ": ", 2) != 0)
			fail_msg("case %zu (%s): expected field %s, got \"%s\"", i, bad[i].json, bad[i].field,
				 errors[0]);
		assert_null(strchr(errors[0], '\n'));
		assert_false(rules_defs_has(d, "t"));
		free_errors(errors, n);
		rules_defs_free(d);
	}

	/* And what is accepted at the edges. */
	{
		static const char *const good[] = {
			R("{" IN_TCP ", \"dst_port\": \"1-65535\", \"src_port\": 65535, \"priority\": -1000}"),
			R("{" IN_TCP ", \"dst_port\": \"7-7\", \"priority\": 1000, \"match\": true}"),
			R("{" OUT_MAC ", \"ethertype\": \"0xFFFF\", \"src_mac\": \"AA:bb:CC:dd:EE:ff/FF:00:00:00:00:00\"}"),
			R("{" OUT_MAC ", \"ethertype\": \"0x601\"}"),
			R("{" OUT_V4 ", \"ip_protocol\": 0, \"dst_ip\": \"0.0.0.0/1\"}"),
			R("{" OUT_V4 ", \"ip_protocol\": \"255\", \"src_ip\": \"255.255.255.255/32\"}"),
			R("{" OUT_V4 ", \"ip_protocol\": 6, \"src_port\": 1}"),
			R("{" OUT_ARP ", \"arp_op\": 65535}"),
			R("{" OUT_ARP ", \"arp_op\": \"request_reverse\"}"),
			"{\"name\": \"" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "\"}", /* 64 */
			"{\"name\": \"t\"}",
			"{\"name\": \"t\", \"rules\": [], \"filters\": []}",
		};

		for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
			struct rules_defs *d;
			char **errors;
			size_t n;

			tmpdir_put(&t, "t.json", good[i]);
			d = defs_dir(t.path, 1, &errors, &n);
			assert_int_equal(n, 0);
			assert_null(errors);
			rules_defs_free(d);
		}
	}
	free(dir_file);
	tmpdir_free(&t);
#undef R
#undef IN_TCP
#undef OUT_V4
#undef OUT_ARP
#undef OUT_MAC
}

static void test_load_dir(void **state)
{
	struct rules_defs *d;
	struct tmpdir t;
	char **errors = (char **)&errors;
	size_t n = 12345;
	char *sub;

	/* A missing directory loads nothing and is no error. */
	d = defs_dir("/nonexistent/netd-filters", 0, &errors, &n);
	assert_null(errors);
	assert_int_equal(n, 0);
	assert_int_equal(rules_defs_count(d), N_BUILTINS);
	rules_defs_free(d);

	tmpdir_new(&t);
	/* Only *.json regular files, no dot files; a subdirectory, another
	 * suffix and ".json" itself are ignored. */
	tmpdir_put(&t, "b.json", "{\"name\": \"b\", \"filters\": [\"a\"]}");
	tmpdir_put(&t, "a.json", "{\"name\": \"a\", \"filters\": [\"allow-arp\"]}");
	tmpdir_put(&t, "c.json~", "garbage");
	tmpdir_put(&t, ".d.json", "garbage");
	tmpdir_put(&t, ".json", "garbage");
	tmpdir_put(&t, "e.JSON", "garbage");
	assert_true(asprintf(&sub, "%s/sub.json", t.path) > 0);
	assert_int_equal(mkdir(sub, 0700), 0);
	d = defs_dir(t.path, 2, &errors, &n);
	assert_int_equal(n, 0);
	assert_null(errors);
	assert_true(rules_defs_has(d, "a"));
	assert_true(rules_defs_has(d, "b")); /* refers to a file sorted before it */
	rules_defs_free(d);

	/* A trailing slash does not double in file names. */
	{
		char *slashed, *want;

		assert_true(asprintf(&slashed, "%s/", t.path) > 0);
		assert_true(asprintf(&want, "%s/a.json", t.path) > 0);
		d = defs_dir(slashed, 2, &errors, &n);
		assert_string_equal(rules_defs_file(d, "a"), want);
		rules_defs_free(d);
		free(slashed);
		free(want);
	}

	/* A reference to a filter that only appears later in sort order,
	 * and a chain of references through a refused one. */
	tmpdir_put(&t, "0.json", "{\"name\": \"first\", \"filters\": [\"z-last\"]}");
	tmpdir_put(&t, "y.json", "{\"name\": \"z-last\", \"filters\": [\"clean-traffic\"]}");
	tmpdir_put(&t, "x1.json", "{\"name\": \"x1\", \"filters\": [\"x2\"]}");
	tmpdir_put(&t, "x2.json", "{\"name\": \"x2\", \"filters\": [\"x3\"]}");
	tmpdir_put(&t, "x3.json", "{\"name\": \"x3\", \"filters\": [\"gone\"]}");
	d = defs_dir(t.path, 4, &errors, &n);
	assert_int_equal(n, 3);
	assert_true(strstr(errors[0], "/x3.json: filters: unknown filter 'gone'") != NULL);
	assert_true(strstr(errors[1], "/x1.json: filters: filter 'x2' was refused") != NULL ||
		    strstr(errors[1], "/x2.json: filters: filter 'x3' was refused") != NULL);
	assert_true(rules_defs_has(d, "first"));
	assert_true(rules_defs_has(d, "z-last"));
	assert_false(rules_defs_has(d, "x1") || rules_defs_has(d, "x2") || rules_defs_has(d, "x3"));
	free_errors(errors, n);
	rules_defs_free(d);

	/* Not a directory. */
	{
		char *file;

		assert_true(asprintf(&file, "%s/a.json", t.path) > 0);
		d = defs_builtin();
		errors = (char **)&errors;
		n = 12345;
		assert_int_equal(rules_defs_load_dir(d, file, &errors, &n), -ENOTDIR);
		assert_ptr_equal(errors, (char **)&errors);
		assert_int_equal(n, 12345);
		rules_defs_free(d);
		free(file);
	}
	free(sub);
	tmpdir_free(&t);
}

/* Priorities, ties in definition order (own rules, then references),
 * expansion of list variables, each filter once. */
static void test_order(void **state)
{
	static const char *const ips[] = { "10.1.0.1", "2001:db8::1", "10.1.0.2" };
	static const char *const dhcp[] = { "10.9.0.1", "10.9.0.2" };
	const struct rules_params p = { .mac = "02:00:00:00:00:01", .ips = ips, .n_ips = 3,
					.dhcpservers = dhcp, .n_dhcpservers = 2 };
	struct rules_defs *d;
	struct rules_render r;
	struct tmpdir t;
	char **errors;
	size_t n;
	char *out, *in;

#define V4(act, prio, extra) \
	"{\"direction\": \"out\", \"protocol\": \"ipv4\", \"action\": \"" act "\", \"priority\": " #prio extra "}"
	tmpdir_new(&t);
	tmpdir_put(&t, "base.json",
		   "{\"name\": \"order-base\", \"rules\": ["
		   V4("accept", 10, ", \"dst_ip\": \"10.0.0.1\"") ","
		   V4("drop", -5, ", \"dst_ip\": \"10.0.0.2\"") ","
		   V4("return", 10, ", \"src_ip\": \"$IP\"") ","
		   "{\"direction\": \"out\", \"protocol\": \"ipv4\", \"action\": \"accept\", \"dst_ip\": \"10.0.0.3\"},"
		   V4("drop", 20, ", \"src_ip\": \"$IP\", \"dst_ip\": \"$DHCPSERVER\"") ","
		   V4("drop", 30, ", \"src_ip\": \"$DHCPSERVER\", \"dst_ip\": \"$IP\"") ","
		   V4("drop", 40, ", \"src_ip\": \"$IP\", \"dst_ip\": \"$IP\"") ","
		   "{\"direction\": \"inout\", \"protocol\": \"arp\", \"action\": \"reject\", \"priority\": 10}"
		   "], \"filters\": [\"order-ref\", \"order-ref2\"]}");
	tmpdir_put(&t, "ref.json",
		   "{\"name\": \"order-ref\", \"rules\": ["
		   V4("drop", 10, ", \"dst_ip\": \"10.0.0.4\"") ","
		   V4("drop", -5, ", \"dst_ip\": \"10.0.0.5\"") ","
		   "{\"direction\": \"in\", \"protocol\": \"arp\", \"action\": \"accept\", \"priority\": -1000}"
		   "], \"filters\": [\"order-ref2\"]}");
	tmpdir_put(&t, "ref2.json",
		   "{\"name\": \"order-ref2\", \"rules\": [" V4("drop", 10, ", \"dst_ip\": \"10.0.0.6\"") "]}");
	d = defs_dir(t.path, 3, &errors, &n);
	render_ok(d, "order-base", "p0", &p, &r);
	out = chain_lines(r.text[RULES_EB], "N-O-p0");
	assert_string_equal(out,
			    "-p IPv4 --ip-dst 10.0.0.2 -j DROP\n"
			    "-p IPv4 --ip-dst 10.0.0.5 -j DROP\n"
			    "-p IPv4 --ip-dst 10.0.0.1 -j ACCEPT\n"
			    "-p IPv4 --ip-src 10.1.0.1 -j RETURN\n"
			    "-p IPv4 --ip-src 10.1.0.2 -j RETURN\n"
			    "-p ARP -j DROP\n"
			    "-p IPv4 --ip-dst 10.0.0.4 -j DROP\n"
			    "-p IPv4 --ip-dst 10.0.0.6 -j DROP\n" /* order-ref2 once, at its first place */
			    "-p IPv4 --ip-src 10.1.0.1 --ip-dst 10.9.0.1 -j DROP\n"
			    "-p IPv4 --ip-src 10.1.0.1 --ip-dst 10.9.0.2 -j DROP\n"
			    "-p IPv4 --ip-src 10.1.0.2 --ip-dst 10.9.0.1 -j DROP\n"
			    "-p IPv4 --ip-src 10.1.0.2 --ip-dst 10.9.0.2 -j DROP\n"
			    "-p IPv4 --ip-src 10.9.0.1 --ip-dst 10.1.0.1 -j DROP\n"
			    "-p IPv4 --ip-src 10.9.0.1 --ip-dst 10.1.0.2 -j DROP\n"
			    "-p IPv4 --ip-src 10.9.0.2 --ip-dst 10.1.0.1 -j DROP\n"
			    "-p IPv4 --ip-src 10.9.0.2 --ip-dst 10.1.0.2 -j DROP\n"
			    "-p IPv4 --ip-src 10.1.0.1 --ip-dst 10.1.0.1 -j DROP\n"
			    "-p IPv4 --ip-src 10.1.0.2 --ip-dst 10.1.0.2 -j DROP\n"
			    "-p IPv4 --ip-dst 10.0.0.3 -j ACCEPT\n");
	in = chain_lines(r.text[RULES_EB], "N-I-p0");
	assert_string_equal(in,
			    "-p ARP -j ACCEPT\n"
			    "-p ARP -j DROP\n");
	free(out);
	free(in);
	rules_render_done(&r);

	/* Without values, the rules that need them are left out; a chain
	 * with nothing left is not declared. */
	{
		const struct rules_params none = { .mac = "02:00:00:00:00:01" };

		tmpdir_put(&t, "vars.json",
			   "{\"name\": \"vars-only\", \"rules\": ["
			   "{\"direction\": \"in\", \"protocol\": \"tcp\", \"action\": \"accept\", \"src_ip\": \"$IP\"},"
			   "{\"direction\": \"out\", \"protocol\": \"udp-ipv6\", \"action\": \"accept\", \"src_ip\": \"$IP\"},"
			   "{\"direction\": \"out\", \"protocol\": \"udp-ipv6\", \"action\": \"accept\", \"dst_ip\": \"$DHCPSERVER\"},"
			   "{\"direction\": \"out\", \"protocol\": \"ipv4\", \"action\": \"accept\", \"dst_ip\": \"$DHCPSERVER\"}]}");
		rules_defs_free(d);
		d = defs_dir(t.path, 4, &errors, &n);
		render_ok(d, "vars-only", "p0", &none, &r);
		for (int f = 0; f < RULES_FAMILIES; f++) {
			assert_null(r.text[f]);
			assert_false(r.has_in[f] || r.has_out[f]);
		}
		assert_int_equal(strlen(r.hash), 64);
		rules_render_done(&r);

		render_ok(d, "vars-only", "p0", &p, &r);
		assert_string_equal(r.text[RULES_IP4],
				    ":N-I-p0 - [0:0]\n"
				    "-A N-I-p0 -s 10.1.0.1/32 -p tcp -j ACCEPT\n"
				    "-A N-I-p0 -s 10.1.0.2/32 -p tcp -j ACCEPT\n");
		assert_true(r.has_in[RULES_IP4]);
		assert_false(r.has_out[RULES_IP4]);
		assert_string_equal(r.text[RULES_IP6],
				    ":N-O-p0 - [0:0]\n"
				    "-A N-O-p0 -s 2001:db8::1/128 -p udp -j ACCEPT\n");
		assert_false(r.has_in[RULES_IP6]);
		assert_true(r.has_out[RULES_IP6]);
		assert_string_equal(r.text[RULES_EB],
				    ":N-O-p0 RETURN\n"
				    "-A N-O-p0 -p IPv4 --ip-dst 10.9.0.1 -j ACCEPT\n"
				    "-A N-O-p0 -p IPv4 --ip-dst 10.9.0.2 -j ACCEPT\n");
		rules_render_done(&r);
	}
	rules_defs_free(d);
	tmpdir_free(&t);
#undef V4
}

/* The hash is SHA-256 of exactly these bytes: the version line, then per
 * family "INDEX LENGTH\n" and the text, or "INDEX -\n". Hashes stored by
 * an earlier netd are compared with it at every start: a change in what
 * is hashed would re-apply every binding once. */
static void test_hash_input(void **state)
{
	struct rules_defs *d = defs_builtin();
	static const char *const filters[] = { "clean-traffic", "no-mac-spoofing", "allow-dhcp" };

	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		struct rules_render r;
		char *buf = NULL, want[65];
		size_t len = 0;
		FILE *m = open_memstream(&buf, &len);

		assert_non_null(m);
		render_ok(d, filters[i], "vnet0", &std_params, &r);
		fprintf(m, "%s\n", RULES_RENDER_VERSION);
		for (int f = 0; f < RULES_FAMILIES; f++)
			if (r.text[f])
				fprintf(m, "%d %zu\n%s", f, strlen(r.text[f]), r.text[f]);
			else
				fprintf(m, "%d -\n", f);
		assert_int_equal(fclose(m), 0);
		assert_int_equal(rules_sha256_hex(buf, len, want), 0);
		assert_string_equal(r.hash, want);
		free(buf);
		rules_render_done(&r);
	}
	rules_defs_free(d);
	(void)state;
}

static void test_determinism(void **state)
{
	struct rules_defs *d = defs_builtin(), *d2 = defs_builtin();
	struct rules_render a, b, c;
	static const char *const ips2[] = { "192.168.122.11", "2001:db8::10" };
	static const char *const ips_rev[] = { "2001:db8::10", "192.168.122.10" };
	static const char *const ips_v6[] = { "2001:db8::10" };
	static const char *const dhcp2[] = { "192.168.122.2" };

	render_ok(d, "clean-traffic", "vnet0", &std_params, &a);
	render_ok(d2, "clean-traffic", "vnet0", &std_params, &b);
	for (int f = 0; f < RULES_FAMILIES; f++)
		if (a.text[f] || b.text[f])
			assert_string_equal(a.text[f], b.text[f]);
	assert_string_equal(a.hash, b.hash);
	assert_int_equal(strlen(a.hash), 64);
	for (size_t i = 0; i < 64; i++)
		assert_true((a.hash[i] >= '0' && a.hash[i] <= '9') || (a.hash[i] >= 'a' && a.hash[i] <= 'f'));
	rules_render_done(&b);

	/* Equal parameters spelled differently render the same: the text
	 * is formatted from the parsed values. */
	{
		static const char *const ips_a[] = { "2001:0DB8:0:0:0:0:0:0010", "192.168.122.10" };
		static const char *const ips_b[] = { "2001:db8::10", "192.168.122.10" };
		struct rules_params pa = { .mac = "02:AB:cd:00:00:01", .ips = ips_a, .n_ips = 2 };
		struct rules_params pb = { .mac = "02:ab:CD:00:00:01", .ips = ips_b, .n_ips = 2 };
		struct tmpdir t;
		char **errors;
		size_t n;
		struct rules_defs *x;

		tmpdir_new(&t);
		tmpdir_put(&t, "f6.json", "{\"name\": \"f6\", \"rules\": [{\"direction\": \"out\", \"protocol\": \"ipv6\","
			   " \"action\": \"return\", \"src_ip\": \"$IP\", \"src_mac\": \"$MAC\"}]}");
		x = defs_dir(t.path, 1, &errors, &n);
		render_ok(x, "f6", "vnet0", &pa, &b);
		render_ok(x, "f6", "vnet0", &pb, &c);
		assert_string_equal(b.text[RULES_EB], c.text[RULES_EB]);
		assert_string_equal(b.hash, c.hash);
		assert_string_equal(b.text[RULES_EB],
				    ":N-O-vnet0 RETURN\n"
				    "-A N-O-vnet0 -p IPv6 -s 02:ab:cd:00:00:01 --ip6-src 2001:db8::10 -j RETURN\n");
		rules_render_done(&b);
		rules_render_done(&c);
		rules_defs_free(x);
		tmpdir_free(&t);
	}

	/* Every input that changes the text changes the hash. */
	{
		struct rules_params q[6];
		const char *filter[6] = { "clean-traffic", "clean-traffic", "clean-traffic", "clean-traffic",
					  "allow-dhcp-server", "clean-traffic" };
		const char *port[6] = { "vnet0", "vnet0", "vnet0", "vnet1", "vnet0", "vnet0" };

		for (int i = 0; i < 6; i++)
			q[i] = std_params;
		q[0].mac = "52:54:00:12:34:57";
		q[1].ips = ips2;
		q[2].ips = ips_rev; /* the IPv4 value is still the only one used */
		q[5].ips = ips_v6;
		q[5].n_ips = 1;
		for (int i = 0; i < 6; i++) {
			render_ok(d, filter[i], port[i], &q[i], &c);
			if (i == 2)
				assert_string_equal(c.hash, a.hash);
			else
				assert_string_not_equal(c.hash, a.hash);
			rules_render_done(&c);
		}
		/* DHCPSERVER only matters where it is used. */
		render_ok(d, "allow-dhcp-server", "vnet0", &std_params, &b);
		q[0] = std_params;
		q[0].dhcpservers = dhcp2;
		render_ok(d, "allow-dhcp-server", "vnet0", &q[0], &c);
		assert_string_not_equal(c.hash, b.hash);
		rules_render_done(&c);
		render_ok(d, "clean-traffic", "vnet0", &q[0], &c);
		assert_string_equal(c.hash, a.hash);
		rules_render_done(&c);
		rules_render_done(&b);
	}

	/* A changed filter definition changes the hash. */
	{
		struct tmpdir t;
		char **errors;
		size_t n;
		struct rules_defs *x;
		char h1[65];

		tmpdir_new(&t);
		tmpdir_put(&t, "f.json", "{\"name\": \"f\", \"rules\": [{\"direction\": \"in\", \"protocol\": \"tcp\","
			   " \"action\": \"accept\", \"dst_port\": \"22\"}]}");
		x = defs_dir(t.path, 1, &errors, &n);
		render_ok(x, "f", "vnet0", &std_params, &c);
		memcpy(h1, c.hash, 65);
		rules_render_done(&c);
		rules_defs_free(x);
		tmpdir_put(&t, "f.json", "{\"name\": \"f\", \"rules\": [{\"direction\": \"in\", \"protocol\": \"tcp\","
			   " \"action\": \"accept\", \"dst_port\": \"23\"}]}");
		x = defs_dir(t.path, 1, &errors, &n);
		render_ok(x, "f", "vnet0", &std_params, &c);
		assert_string_not_equal(c.hash, h1);
		rules_render_done(&c);
		rules_defs_free(x);
		/* The same rule moved to ip6: the same text in another family
		 * must not hash the same. */
		tmpdir_put(&t, "f.json", "{\"name\": \"f\", \"rules\": [{\"direction\": \"in\", \"protocol\": \"tcp-ipv6\","
			   " \"action\": \"accept\", \"dst_port\": \"22\"}]}");
		x = defs_dir(t.path, 1, &errors, &n);
		render_ok(x, "f", "vnet0", &std_params, &c);
		assert_null(c.text[RULES_IP4]);
		assert_non_null(c.text[RULES_IP6]);
		assert_string_not_equal(c.hash, h1);
		rules_render_done(&c);
		rules_defs_free(x);
		tmpdir_free(&t);
	}
	rules_render_done(&a);
	rules_defs_free(d);
	rules_defs_free(d2);
}

static void test_injection(void **state)
{
	struct rules_defs *d = defs_builtin();
	static const char *const bad_mac[] = {
		"52:54:00:12:34:56 -j ACCEPT", "01:00:5e:00:00:01", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff",
		"52:54:00:12:34:56\n", "52:54:00:12:34", "52:54:00:12:34:567", " 52:54:00:12:34:56",
		"52:54:00:12:34:5", "52:54:0:12:34:56", "52-54-00-12-34-56", "\"52:54:00:12:34:56\"", "",
		"52:54:00:12:34:56/ff:ff:ff:ff:ff:ff", "$MAC",
	};
	static const char *const bad_ip[] = {
		"10.0.0.1\n-A INPUT -j ACCEPT", "10.0.0.1/24", "10.0.0.1/32", "10.0.0.256", "10.0.0", "10.0.0.01",
		" 10.0.0.1", "10.0.0.1 ", "'10.0.0.1'", "2001:db8::1/64", "2001:db8::g", "fe80::1%eth0", "", "$IP",
		"10.0.0.1;", "0x0a000001",
	};
	static const char *const bad_dhcp[] = { "2001:db8::1/128", "10.0.0.1/32", "10.0.0.1 -j ACCEPT", "" };
	static const char *const bad_port[] = {
		"-i", "vnet0 ", "a\"b", "vnet0;x", "", ".", "..", "-", "vnet0\n", "a b", "a/b", "a+", "vnet*",
		"0123456789abcdef", "ä", "a'b", "a$b",
	};
	static const char *const good_port[] = {
		"vnet0", "a", "0123456789abcde", "...", "a.b-c_D", "_x", "tap.1", ".a", "a-",
	};
	char buf[256];

	for (size_t i = 0; i < sizeof(bad_mac) / sizeof(bad_mac[0]); i++) {
		struct rules_params p = std_params;

		if (rules_param_check("MAC", bad_mac[i]) != -EINVAL)
			fail_msg("MAC '%s' accepted", bad_mac[i]);
		p.mac = bad_mac[i];
		render_fails(d, "clean-traffic", "vnet0", &p, "MAC");
	}
	for (size_t i = 0; i < sizeof(bad_ip) / sizeof(bad_ip[0]); i++) {
		const char *ips[] = { "192.168.122.10", bad_ip[i] };
		struct rules_params p = std_params;

		if (rules_param_check("IP", bad_ip[i]) != -EINVAL)
			fail_msg("IP '%s' accepted", bad_ip[i]);
		p.ips = ips;
		/* Refused even by a filter that does not use $IP. */
		render_fails(d, "no-mac-spoofing", "vnet0", &p, "IP");
	}
	for (size_t i = 0; i < sizeof(bad_dhcp) / sizeof(bad_dhcp[0]); i++) {
		const char *dhcp[] = { bad_dhcp[i] };
		struct rules_params p = std_params;

		if (rules_param_check("DHCPSERVER", bad_dhcp[i]) != -EINVAL)
			fail_msg("DHCPSERVER '%s' accepted", bad_dhcp[i]);
		p.dhcpservers = dhcp;
		render_fails(d, "allow-dhcp-server", "vnet0", &p, "DHCPSERVER");
	}
	for (size_t i = 0; i < sizeof(bad_port) / sizeof(bad_port[0]); i++) {
		if (rules_port_valid(bad_port[i]))
			fail_msg("port '%s' accepted", bad_port[i]);
		render_fails(d, "clean-traffic", bad_port[i], &std_params, "port");
		assert_int_equal(rules_dispatch_line(RULES_EB, true, bad_port[i], buf, sizeof(buf)), -EINVAL);
		assert_int_equal(rules_dispatch_line(RULES_IP4, false, bad_port[i], buf, sizeof(buf)), -EINVAL);
	}
	assert_false(rules_port_valid(NULL));
	render_fails(d, "clean-traffic", NULL, &std_params, "port");
	for (size_t i = 0; i < sizeof(good_port) / sizeof(good_port[0]); i++) {
		struct rules_render r;

		assert_true(rules_port_valid(good_port[i]));
		render_ok(d, "clean-traffic", good_port[i], &std_params, &r);
		rules_render_done(&r);
	}

	/* What is accepted. */
	assert_int_equal(rules_param_check("MAC", "52:54:00:12:34:56"), 0);
	assert_int_equal(rules_param_check("MAC", "02:AB:cd:EF:00:01"), 0);
	assert_int_equal(rules_param_check("MAC", "fe:ff:ff:ff:ff:ff"), 0);
	assert_int_equal(rules_param_check("IP", "10.0.0.1"), 0);
	assert_int_equal(rules_param_check("IP", "2001:db8::1"), 0);
	assert_int_equal(rules_param_check("IP", "::ffff:10.0.0.1"), 0);
	assert_int_equal(rules_param_check("IP", "0.0.0.0"), 0);
	assert_int_equal(rules_param_check("DHCPSERVER", "192.168.122.1"), 0);
	assert_int_equal(rules_param_check("DHCPSERVER", "2001:db8::1"), 0); /* allow-dhcpv6-server */
	assert_int_equal(rules_param_check("GATEWAY_MAC", "52:54:00:00:00:fe"), 0);
	assert_int_equal(rules_param_check("GATEWAY_MAC", "ff:ff:ff:ff:ff:ff"), -EINVAL);
	assert_int_equal(rules_param_check("ip", "10.0.0.1"), -EINVAL);
	assert_int_equal(rules_param_check("NETMASK", "255.0.0.0"), -EINVAL);
	assert_int_equal(rules_param_check(NULL, "10.0.0.1"), -EINVAL);
	assert_int_equal(rules_param_check("IP", NULL), -EINVAL);

	/* Unknown filter, missing MAC. */
	render_fails(d, "no-such-filter", "vnet0", &std_params, "filter");
	render_fails(d, "clean-traffic\n-A INPUT -j ACCEPT", "vnet0", &std_params, "filter");
	render_fails(d, NULL, "vnet0", &std_params, "filter");
	{
		struct rules_params p = std_params;

		p.mac = NULL;
		render_fails(d, "clean-traffic", "vnet0", &p, "MAC");
		render_fails(d, "clean-traffic", "vnet0", NULL, "MAC");
	}
	/* An IPv4-mapped address is IPv6 and renders from its binary form. */
	{
		static const char *const mapped[] = { "::FFFF:10.0.0.1" };
		struct rules_params p = std_params;
		struct rules_render r;

		p.ips = mapped;
		p.n_ips = 1;
		render_ok(d, "clean-traffic", "vnet0", &p, &r);
		assert_null(strstr(r.text[RULES_EB], "FFFF"));
		assert_null(strstr(r.text[RULES_EB], "--ip-src 10.0.0.1"));
		rules_render_done(&r);
	}
	rules_defs_free(d);
}

/* f(..., buf, size) must write exactly want and return its length. */
#define EXPECT_LINES(call, want)                                      \
	do {                                                          \
		memset(buf, 'z', sizeof(buf));                        \
		assert_int_equal((call), (int)strlen(want));          \
		assert_string_equal(buf, (want));                     \
	} while (0)

static void test_helpers(void **state)
{
	char buf[256], small[8];

	EXPECT_LINES(rules_chain_decl(RULES_EB, RULES_ROOT_FROM, buf, sizeof(buf)), ":NETD-FROM RETURN\n");
	EXPECT_LINES(rules_chain_decl(RULES_IP4, RULES_ROOT_FROM, buf, sizeof(buf)), ":NETD-FROM - [0:0]\n");
	EXPECT_LINES(rules_chain_decl(RULES_IP6, RULES_ROOT_TO, buf, sizeof(buf)), ":NETD-TO - [0:0]\n");

	EXPECT_LINES(rules_chain_delete(RULES_EB, "N-I-vnet0", buf, sizeof(buf)), ":N-I-vnet0 RETURN\n-X N-I-vnet0\n");
	EXPECT_LINES(rules_chain_delete(RULES_IP4, "N-O-vnet0", buf, sizeof(buf)), "-F N-O-vnet0\n-X N-O-vnet0\n");
	EXPECT_LINES(rules_chain_delete(RULES_IP6, "N-O-vnet0", buf, sizeof(buf)), "-F N-O-vnet0\n-X N-O-vnet0\n");

	EXPECT_LINES(rules_dispatch_line(RULES_EB, false, "vnet0", buf, sizeof(buf)),
		     "-A NETD-FROM -i vnet0 -j N-O-vnet0\n");
	EXPECT_LINES(rules_dispatch_line(RULES_EB, true, "vnet0", buf, sizeof(buf)),
		     "-A NETD-TO -o vnet0 -j N-I-vnet0\n");
	EXPECT_LINES(rules_dispatch_line(RULES_IP4, false, "vnet0", buf, sizeof(buf)),
		     "-A NETD-FROM -m physdev --physdev-in vnet0 -j N-O-vnet0\n");
	EXPECT_LINES(rules_dispatch_line(RULES_IP4, true, "vnet0", buf, sizeof(buf)),
		     "-A NETD-TO -m physdev --physdev-out vnet0 --physdev-is-bridged -j N-I-vnet0\n");
	EXPECT_LINES(rules_dispatch_line(RULES_IP6, false, "a.b-c_D", buf, sizeof(buf)),
		     "-A NETD-FROM -m physdev --physdev-in a.b-c_D -j N-O-a.b-c_D\n");
	EXPECT_LINES(rules_dispatch_line(RULES_IP6, true, "0123456789abcde", buf, sizeof(buf)),
		     "-A NETD-TO -m physdev --physdev-out 0123456789abcde --physdev-is-bridged -j N-I-0123456789abcde\n");

	for (int f = 0; f < RULES_FAMILIES; f++)
		assert_string_equal(rules_hook_lines((enum rules_family)f),
				    "-A INPUT -j NETD-FROM\n-A FORWARD -j NETD-FROM\n"
				    "-A FORWARD -j NETD-TO\n-A OUTPUT -j NETD-TO\n");

	/* Exactly enough room works; one byte less is -ENOBUFS with buf
	 * untouched. */
	EXPECT_LINES(rules_chain_decl(RULES_EB, "N-I-a", buf, 15), ":N-I-a RETURN\n");
	memset(buf, 'z', sizeof(buf));
	assert_int_equal(rules_chain_decl(RULES_EB, "N-I-a", buf, 14), -ENOBUFS);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 'z');
	memset(small, 'z', sizeof(small));
	assert_int_equal(rules_chain_decl(RULES_EB, "NETD-TO", small, sizeof(small)), -ENOBUFS);
	assert_int_equal(rules_chain_delete(RULES_IP4, "NETD-TO", small, sizeof(small)), -ENOBUFS);
	assert_int_equal(rules_dispatch_line(RULES_EB, true, "vnet0", small, sizeof(small)), -ENOBUFS);
	assert_int_equal(rules_dispatch_line(RULES_EB, true, "vnet0", small, 0), -ENOBUFS);
	for (size_t i = 0; i < sizeof(small); i++)
		assert_int_equal(small[i], 'z');

	/* Bad names and families. */
	assert_int_equal(rules_chain_decl(RULES_EB, "", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(rules_chain_decl(RULES_EB, NULL, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(rules_chain_decl(RULES_EB, "-X", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(rules_chain_decl(RULES_IP4, "A B", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(rules_chain_decl(RULES_IP4, "A\nB", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(rules_chain_decl(RULES_IP4, "abcdefghijklmnopqrstuvwxyzABC", buf, sizeof(buf)), -EINVAL);
	EXPECT_LINES(rules_chain_decl(RULES_IP4, "abcdefghijklmnopqrstuvwxyzAB", buf, sizeof(buf)),
		     ":abcdefghijklmnopqrstuvwxyzAB - [0:0]\n");
	assert_int_equal(rules_chain_delete(RULES_IP6, "a;b", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(rules_chain_decl(RULES_FAMILIES, "NETD-TO", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(rules_chain_delete((enum rules_family)-1, "NETD-TO", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(rules_dispatch_line(RULES_FAMILIES, true, "vnet0", buf, sizeof(buf)), -EINVAL);
}

/* The render's chain names follow the port; the longest port fits. */
static void test_chain_names(void **state)
{
	struct rules_defs *d = defs_builtin();
	struct rules_render r;

	render_ok(d, "allow-incoming-ipv4", "0123456789abcde", &std_params, &r);
	assert_string_equal(r.in_chain, "N-I-0123456789abcde");
	assert_string_equal(r.out_chain, "N-O-0123456789abcde");
	assert_true(r.has_in[RULES_EB]);
	assert_false(r.has_out[RULES_EB]);
	assert_string_equal(r.text[RULES_EB], ":N-I-0123456789abcde RETURN\n-A N-I-0123456789abcde -p IPv4 -j ACCEPT\n");
	rules_render_done(&r);
	rules_defs_free(d);
}


/* The rules of a port whose address is learned (learn.c): DHCP only, or
 * DHCP, ARP and IPv4 from any source address; the MAC enforced; the rest
 * dropped; DHCP replies only from DHCPSERVER when given. And which
 * filters use $IP. */
static void test_learning(void **state)
{
	struct rules_params p = { .mac = MAC };
	struct rules_defs *d = defs_builtin();
	struct rules_render r;
	char *error = NULL, *in, *out;

	(void)state;
	assert_int_equal(rules_render_learning(false, "vnet0", &p, &r, &error), 0);
	assert_null(r.text[RULES_IP4]);
	assert_null(r.text[RULES_IP6]);
	in = chain_lines(r.text[RULES_EB], "N-I-vnet0");
	out = chain_lines(r.text[RULES_EB], "N-O-vnet0");
	assert_string_equal(in, "-p IPv4 --ip-proto udp --ip-sport 67 --ip-dport 68 -j ACCEPT\n"
				"-j DROP\n");
	assert_string_equal(out, "-s ! 52:54:00:12:34:56 -j DROP\n"
				 "-p IPv4 --ip-proto udp --ip-sport 68 --ip-dport 67 -j ACCEPT\n"
				 "-j DROP\n");
	free(in);
	free(out);
	rules_render_done(&r);

	p.dhcpservers = std_dhcp;
	p.n_dhcpservers = 1;
	assert_int_equal(rules_render_learning(true, "vnet0", &p, &r, &error), 0);
	in = chain_lines(r.text[RULES_EB], "N-I-vnet0");
	out = chain_lines(r.text[RULES_EB], "N-O-vnet0");
	assert_string_equal(in, "-p IPv4 --ip-src 192.168.122.1 --ip-proto udp --ip-sport 67 --ip-dport 68 -j ACCEPT\n"
				"-p ARP -j ACCEPT\n"
				"-p IPv4 -j ACCEPT\n"
				"-j DROP\n");
	assert_string_equal(out, "-s ! 52:54:00:12:34:56 -j DROP\n"
				 "-p ARP --arp-mac-src ! 52:54:00:12:34:56 -j DROP\n"
				 "-p IPv4 --ip-proto udp --ip-sport 68 --ip-dport 67 -j ACCEPT\n"
				 "-p ARP -j ACCEPT\n"
				 "-p IPv4 -j ACCEPT\n"
				 "-j DROP\n");
	free(in);
	free(out);
	rules_render_done(&r);

	p.mac = "01:00:5e:00:00:01"; /* a bad MAC is refused as in any rendering */
	assert_int_equal(rules_render_learning(false, "vnet0", &p, &r, &error), -EINVAL);
	assert_non_null(strstr(error, "MAC"));
	free(error);

	assert_true(rules_filter_uses_ip(d, "clean-traffic"));
	assert_true(rules_filter_uses_ip(d, "no-ip-spoofing"));
	assert_true(rules_filter_uses_ip(d, "no-arp-spoofing")); /* through a reference */
	assert_false(rules_filter_uses_ip(d, "no-mac-spoofing"));
	assert_false(rules_filter_uses_ip(d, "allow-dhcp"));
	assert_false(rules_filter_uses_ip(d, "no-such-filter"));
	rules_defs_free(d);
}

/* rules_filter_digest(): the same for the same definitions (another set
 * loaded from the same files), another when the filter or one it
 * references changes, even where the change does not show in the
 * rendering of the filter with the digest's own parameters (a rule for
 * a port not used); one per target; kept until forgotten. */
static void test_digest(void **state)
{
	static const char top[] = "{\"name\": \"top\", \"filters\": [\"leaf\"], \"rules\": []}";
	struct tmpdir t;
	char **errors;
	size_t n;
	struct rules_defs *a, *b;
	char da[65], db[65], dn[65], dt[65];

	tmpdir_new(&t);
	tmpdir_put(&t, "top.json", top);
	tmpdir_put(&t, "leaf.json", "{\"name\": \"leaf\", \"rules\": [{\"direction\": \"in\", \"protocol\":"
		   " \"tcp\", \"action\": \"accept\", \"dst_port\": \"22\", \"priority\": 400}]}");
	a = defs_dir(t.path, 2, &errors, &n);
	b = defs_dir(t.path, 2, &errors, &n);
	assert_int_equal(rules_filter_digest(a, "top", false, da), 0);
	assert_int_equal(strlen(da), 64);
	assert_int_equal(rules_filter_digest(b, "top", false, db), 0);
	assert_string_equal(da, db);
	assert_int_equal(rules_filter_digest(a, "top", true, dn), 0);
	assert_string_not_equal(da, dn);
	assert_int_equal(rules_filter_digest(a, "clean-traffic", false, dt), 0);
	assert_string_not_equal(da, dt);
	assert_int_equal(rules_filter_digest(a, "no-such", false, dt), -ENOENT);
	rules_defs_free(b);

	/* The referenced filter changes its priority only: the same
	 * rendering, another definition. */
	tmpdir_put(&t, "leaf.json", "{\"name\": \"leaf\", \"rules\": [{\"direction\": \"in\", \"protocol\":"
		   " \"tcp\", \"action\": \"accept\", \"dst_port\": \"22\", \"priority\": 401}]}");
	b = defs_dir(t.path, 2, &errors, &n);
	assert_int_equal(rules_filter_digest(b, "top", false, db), 0);
	assert_string_not_equal(da, db);
	/* a keeps its digest (its definitions did not change). */
	assert_int_equal(rules_filter_digest(a, "top", false, dt), 0);
	assert_string_equal(da, dt);
	rules_defs_digests_forget(a);
	assert_int_equal(rules_filter_digest(a, "top", false, dt), 0);
	assert_string_equal(da, dt);
	rules_defs_free(a);
	rules_defs_free(b);
	tmpdir_free(&t);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtins),
		cmocka_unit_test(test_clean_traffic),
		cmocka_unit_test(test_learning),
		cmocka_unit_test(test_custom_dir),
		cmocka_unit_test(test_filter_json),
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_load_dir),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_hash_input),
		cmocka_unit_test(test_injection),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_chain_names),
		cmocka_unit_test(test_digest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
