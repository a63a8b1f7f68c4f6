/*
 * fuzz_filters.c: libFuzzer target for the custom filter loader. The input
 * is one or more filter files (split at NUL bytes, see fuzz-common.h) that
 * rules_defs_load_dir() reads, parses (rules/parse.c, or rules/xml.c for
 * libvirt's XML) and checks as a set
 * (rules/defs.c: names, references, cycles); each piece also goes through
 * rules_filter_parse() (or rules_xml_parse()) on its own. XML filters with
 * sub-chains render through rules/flatten.c.
 *
 * Checked besides memory safety: the count returned is the number of
 * custom filters the set holds; every error is "FILE: FIELD: why" (or
 * "FILE: line N: why") with no
 * control byte (a file cannot forge log lines); every loaded filter has a
 * valid name, gives its JSON back, and renders (or is refused with a
 * message) for a fixed valid binding.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "rules/rules-internal.h"
#include "rules/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(const char *m)
{
	if (!m || !*m)
		abort();
	for (const unsigned char *p = (const unsigned char *)m; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
}

static void parse_alone(const uint8_t *data, size_t size)
{
	struct rules_filter *f = NULL;
	char *error = NULL;
	json_t *root;
	int r;

	if (size > 0 && data[0] == '<') {
		r = rules_xml_parse((const char *)data, size, &f, &error);
	} else {
		root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
		if (!root)
			return;
		r = rules_filter_parse(root, &f, &error);
		json_decref(root);
	}
	if (r == 0) {
		if (!f || error || !rules_name_valid(f->name))
			abort();
		rules_filter_free(f);
	} else {
		if (r != -EINVAL && r != -ENOMEM)
			abort();
		if (r == -EINVAL)
			check_message(error);
		free(error);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ips[] = { "192.168.122.10", "fd00::10" };
	static const char *const dhcp[] = { "192.168.122.1" };
	const struct rules_params params = {
		.mac = "52:54:00:12:34:56", .ips = ips, .n_ips = 2, .dhcpservers = dhcp, .n_dhcpservers = 1,
	};
	struct rules_defs *d = NULL;
	char **errors = NULL;
	size_t nerrors = 0, builtins, pos = 0;
	int loaded;

	/* each piece alone, through the parser */
	while (pos <= size) {
		const uint8_t *nul = memchr(data + pos, '\0', size - pos);
		size_t len = nul ? (size_t)(nul - (data + pos)) : size - pos;

		parse_alone(data + pos, len);
		if (!nul)
			break;
		pos += len + 1;
	}

	/* all of them as a directory of files */
	fuzz_write_files(data, size);
	if (rules_defs_new(&d) < 0)
		abort();
	builtins = rules_defs_count(d);
	loaded = rules_defs_load_dir(d, fuzz_dir_get(), &errors, &nerrors);
	if (loaded < 0 || (size_t)loaded + builtins != rules_defs_count(d) || loaded > FUZZ_MAX_FILES)
		abort();
	if ((nerrors == 0) != (errors == NULL))
		abort();
	for (size_t i = 0; i < nerrors; i++) {
		check_message(errors[i]);
		if (strncmp(errors[i], fuzz_dir_get(), strlen(fuzz_dir_get())) != 0)
			abort(); /* every error names its file first */
		free(errors[i]);
	}
	free(errors);

	for (size_t i = 0; i < rules_defs_count(d); i++) {
		const char *name = rules_defs_name(d, i);
		struct rules_render out = { 0 };
		char *error = NULL;
		json_t *j;
		int r;

		if (!name || !rules_name_valid(name) || !rules_defs_has(d, name))
			abort();
		if (i > 0 && strcmp(rules_defs_name(d, i - 1), name) >= 0)
			abort(); /* bytewise order, no duplicates */
		if (rules_defs_is_builtin(d, name))
			continue;
		if (!rules_defs_file(d, name))
			abort();
		j = rules_filter_json(d, name);
		if (!j)
			abort();
		json_decref(j);
		r = rules_render(d, name, "vnet0", &params, &out, &error);
		if (r == -EINVAL)
			check_message(error);
		else if (r != 0 && r != -ENOMEM)
			abort();
		free(error);
		rules_render_done(&out);
	}
	rules_defs_free(d);
	return 0;
}
