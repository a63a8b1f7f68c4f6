/*
 * netdctl-filters.c: netdctl's filter commands (bind, unbind, list, show,
 * defs, def, import) and resync.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netdctl.h"
#include "util.h"

struct bind_opts {
	const char *port, *filter, *owner, *learning;
	json_t *params;
	bool bad;
};

static int bind_opt(int opt, const char *arg, void *data)
{
	struct bind_opts *b = data;
	const char *eq;
	char key[32];

	switch (opt) {
	case 'p': b->port = arg; break;
	case 'f': b->filter = arg; break;
	case 'o': b->owner = arg; break;
	case 'l': b->learning = arg; break;
	case 'P':
		eq = strchr(arg, '=');
		if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(key)) {
			fprintf(stderr, "netdctl: --param takes KEY=VALUE\n");
			return -1;
		}
		memcpy(key, arg, (size_t)(eq - arg));
		key[eq - arg] = '\0';
		/* IP and DHCPSERVER may repeat: they collect into lists. */
		if (streq(key, "IP") || streq(key, "DHCPSERVER")) {
			json_t *list = json_object_get(b->params, key);

			if (!list) {
				list = json_array();
				json_object_set_new(b->params, key, list);
			}
			json_array_append_new(list, json_string(eq + 1));
		} else {
			json_object_set_new(b->params, key, json_string(eq + 1));
		}
		break;
	}
	return 0;
}

static int print_binding_reply(struct ctl_opts *o, struct netd_reply *rep)
{
	static const char *const keys[] = { "port", "filter", "owner", "state", "backend", "hash",
					    "created", "applied_at", "learning", "learned_at", "error",
					    NULL };
	json_t *b = json_object_get(rep->parameters, "binding"), *v;
	char *params;
	size_t i;

	if (o->json) {
		print_json(rep->parameters);
		return 0;
	}
	for (int k = 0; keys[k]; k++)
		if (json_is_string(json_object_get(b, keys[k])))
			printf("%-10s %s\n", keys[k], json_string_value(json_object_get(b, keys[k])));
	params = json_dumps(json_object_get(b, "parameters"), JSON_COMPACT | JSON_SORT_KEYS);
	printf("%-10s %s\n", "parameters", params ? params : "");
	free(params);
	printf("%-10s", "families");
	json_array_foreach(json_object_get(b, "families"), i, v)
		printf(" %s", json_string_value(v));
	putchar('\n');
	return 0;
}

static int cmd_filter_bind(struct ctl_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "filter", required_argument, NULL, 'f' },
		{ "owner", required_argument, NULL, 'o' },
		{ "param", required_argument, NULL, 'P' },
		{ "learning", required_argument, NULL, 'l' },
		{ 0 },
	};
	struct bind_opts b = { .params = json_object() };
	struct netd_reply rep;
	json_t *params;
	int r;

	r = sub_getopt(o, "filter bind", argc, argv, opts, bind_opt, &b);
	if (r < 0 || r != argc || !b.port || !b.filter || !b.owner) {
		json_decref(b.params);
		return r < 0 ? SUB_EXIT(r) : usage_error(o);
	}
	params = json_pack("{s:s, s:s, s:s, s:o}", "port", b.port, "filter", b.filter,
			   "owner", b.owner, "parameters", b.params);
	if (params && b.learning)
		json_object_set_new(params, "learning", json_string(b.learning));
	r = do_call(o, "io.netd.BindFilter", params, &rep);
	if (r)
		return r;
	print_binding_reply(o, &rep);
	netd_reply_done(&rep);
	return 0;
}

static int port_owner_opt(int opt, const char *arg, void *data)
{
	const char **v = data;

	v[opt == 'p' ? 0 : 1] = arg;
	return 0;
}

static int cmd_filter_unbind(struct ctl_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "owner", required_argument, NULL, 'o' },
		{ 0 },
	};
	const char *v[2] = { NULL, NULL };
	struct netd_reply rep;
	int r;

	r = sub_getopt(o, "filter unbind", argc, argv, opts, port_owner_opt, v);
	if (r < 0)
		return SUB_EXIT(r);
	if (r != argc || !v[0] || !v[1])
		return usage_error(o);
	r = do_call(o, "io.netd.UnbindFilter", json_pack("{s:s, s:s}", "port", v[0], "owner", v[1]),
		    &rep);
	if (r)
		return r;
	if (o->json)
		print_json(rep.parameters);
	else
		printf("%s\n", gets_(rep.parameters, "port"));
	netd_reply_done(&rep);
	return 0;
}

static int cmd_filter_list(struct ctl_opts *o, int argc, char **argv)
{
	const char *owner = NULL;
	struct netd_reply rep;
	json_t *v;
	size_t i;
	int r;

	r = sub_getopt(o, "filter list", argc, argv, owner_opts, owner_opt, &owner);
	if (r < 0)
		return SUB_EXIT(r);
	if (r != argc)
		return usage_error(o);
	r = do_call(o, "io.netd.ListBindings", owner ? json_pack("{s:s}", "owner", owner) : NULL, &rep);
	if (r)
		return r;
	if (o->json) {
		print_json(rep.parameters);
	} else {
		printf("%-15s %-22s %-9s %-16s %s\n", "PORT", "FILTER", "STATE", "OWNER", "BACKEND");
		json_array_foreach(json_object_get(rep.parameters, "bindings"), i, v)
			printf("%-15s %-22s %-9s %-16s %s\n", gets_(v, "port"), gets_(v, "filter"),
			       gets_(v, "state"), gets_(v, "owner"), gets_(v, "backend"));
	}
	netd_reply_done(&rep);
	return 0;
}

static int cmd_filter_show(struct ctl_opts *o, int argc, char **argv)
{
	struct netd_reply rep;
	int r;

	r = sub_getopt(o, "filter show", argc, argv, NULL, NULL, NULL);
	if (r < 0)
		return SUB_EXIT(r);
	if (r != argc - 1)
		return usage_error(o);
	r = do_call(o, "io.netd.GetBinding", json_pack("{s:s}", "port", argv[r]), &rep);
	if (r)
		return r;
	print_binding_reply(o, &rep);
	netd_reply_done(&rep);
	return 0;
}

static int cmd_filter_defs(struct ctl_opts *o, int argc, char **argv)
{
	struct netd_reply rep;
	json_t *v;
	size_t i;
	int r;

	r = sub_getopt(o, "filter defs", argc, argv, NULL, NULL, NULL);
	if (r < 0)
		return SUB_EXIT(r);
	if (r != argc)
		return usage_error(o);
	r = do_call(o, "io.netd.ListFilters", NULL, &rep);
	if (r)
		return r;
	if (o->json) {
		print_json(rep.parameters);
	} else {
		json_array_foreach(json_object_get(rep.parameters, "filters"), i, v)
			printf("%-24s %s\n", gets_(v, "name"),
			       json_is_true(json_object_get(v, "builtin")) ? "built-in" : gets_(v, "file"));
	}
	netd_reply_done(&rep);
	return 0;
}

static int cmd_filter_def(struct ctl_opts *o, int argc, char **argv)
{
	struct netd_reply rep;
	int r;

	r = sub_getopt(o, "filter def", argc, argv, NULL, NULL, NULL);
	if (r < 0)
		return SUB_EXIT(r);
	if (r != argc - 1)
		return usage_error(o);
	r = do_call(o, "io.netd.GetFilter", json_pack("{s:s}", "name", argv[r]), &rep);
	if (r)
		return r;
	print_json(o->json ? rep.parameters : json_object_get(rep.parameters, "filter"));
	netd_reply_done(&rep);
	return 0;
}

/* The whole of a file of at most 1 MiB (DefineFilter's limit), or NULL
 * after saying why. */
static char *read_definition(const char *path)
{
	_cleanup_fclose_ FILE *fp = fopen(path, "re");
	char *buf;
	size_t n;

	if (!fp) {
		fprintf(stderr, "netdctl: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	buf = malloc(1024 * 1024 + 1);
	if (!buf)
		return NULL;
	n = fread(buf, 1, 1024 * 1024 + 1, fp);
	if (ferror(fp) || n > 1024 * 1024) {
		fprintf(stderr, "netdctl: %s: %s\n", path, ferror(fp) ? "read error" : "larger than 1 MiB");
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

static int cmd_filter_import(struct ctl_opts *o, int argc, char **argv)
{
	struct netd_reply rep;
	const char *path;
	json_t *def;
	char *text;
	int r;

	r = sub_getopt(o, "filter import", argc, argv, NULL, NULL, NULL);
	if (r < 0)
		return SUB_EXIT(r);
	if (r != argc - 1)
		return usage_error(o);
	path = argv[r];
	text = read_definition(path);
	if (!text)
		return EXIT_FAILURE;
	def = json_string(text);
	free(text);
	if (!def) {
		fprintf(stderr, "netdctl: %s: not UTF-8 text\n", path);
		return EXIT_FAILURE;
	}
	r = do_call(o, "io.netd.DefineFilter", json_pack("{s:o}", "definition", def), &rep);
	if (r)
		return r;
	if (o->json)
		print_json(rep.parameters);
	else
		printf("filter '%s' defined in %s: %lld bindings changed\n", gets_(rep.parameters, "name"),
		       gets_(rep.parameters, "file"), (long long)geti(rep.parameters, "bindings_changed"));
	netd_reply_done(&rep);
	return 0;
}

int cmd_filter(struct ctl_opts *o, int argc, char **argv)
{
	static const struct netdctl_cmd subs[] = {
		{ "bind", cmd_filter_bind },
		{ "unbind", cmd_filter_unbind },
		{ "list", cmd_filter_list },
		{ "show", cmd_filter_show },
		{ "defs", cmd_filter_defs },
		{ "def", cmd_filter_def },
		{ "import", cmd_filter_import },
	};

	return dispatch(o, "filter", subs, ELEMENTSOF(subs), argc, argv);
}

static int resync_opt(int opt, const char *arg, void *data)
{
	*(bool *)data = true; /* --full */
	return 0;
}

int cmd_resync(struct ctl_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "full", no_argument, NULL, 'f' },
		{ 0 },
	};
	struct netd_reply rep;
	bool full = false;
	int r;

	r = sub_getopt(o, "resync", argc, argv, opts, resync_opt, &full);
	if (r < 0)
		return SUB_EXIT(r);
	if (r != argc)
		return usage_error(o);
	r = do_call(o, "io.netd.Resync", full ? json_pack("{s:b}", "full", true) : NULL, &rep);
	if (r)
		return r;
	if (o->json)
		print_json(rep.parameters);
	else
		printf("%lld intact, %lld re-applied\n", (long long)geti(rep.parameters, "skipped"),
		       (long long)geti(rep.parameters, "reapplied"));
	netd_reply_done(&rep);
	return 0;
}
