/*
 * rules.c: see rules.h. The shared pieces of the rules module: error
 * messages and quoting for them, and the checks of port names, filter
 * names and binding parameters. A filter's parsing is in parse.c, the set
 * of definitions and the loading of a directory in defs.c, rendering in
 * render.c, the built-in filters in builtin.c.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rules-internal.h"
#include "util.h"
#include "valid.h"


int rules_errorf(char **ret_error, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	*ret_error = s;
	return -EINVAL;
}

const char *rules_quote(const char *s, char buf[RULES_QUOTE_MAX])
{
	size_t o = 0, i;

	buf[o++] = '\'';
	for (i = 0; s[i] && i < 64; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\'' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			o += (size_t)snprintf(buf + o, 5, "\\x%02x", c);
		} else {
			buf[o++] = (char)c;
		}
	}
	if (s[i]) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '\'';
	buf[o] = '\0';
	return buf;
}

/* A copy of s for messages with control bytes replaced, so that a file
 * name or a parser's message cannot forge lines in a log. */
char *rules_clean_dup(const char *s)
{
	char *c = strdup(s);

	for (char *p = c; p && *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = '?';
	return c;
}

/* --- names and values --- */

bool rules_port_valid(const char *port)
{
	return valid_name(port, RULES_PORT_MAX);
}

bool rules_name_valid(const char *name)
{
	return valid_name(name, RULES_NAME_MAX);
}

int rules_parse_addr(const char *s, int af, int *ret_af, uint8_t ret[16])
{
	uint8_t a[16] = { 0 };

	if (!s)
		return -EINVAL;
	/* inet_pton() takes the whole string or nothing: no spaces, no
	 * trailing junk, no prefix, no zone, no leading zeros in IPv4. */
	if ((af == 0 || af == AF_INET) && inet_pton(AF_INET, s, a) == 1) {
		*ret_af = AF_INET;
		memcpy(ret, a, 16);
		return 0;
	}
	if ((af == 0 || af == AF_INET6) && inet_pton(AF_INET6, s, a) == 1) {
		*ret_af = AF_INET6;
		memcpy(ret, a, 16);
		return 0;
	}
	return -EINVAL;
}

int rules_param_check(const char *key, const char *value)
{
	uint8_t a[16];
	int af;

	if (!key || !value)
		return -EINVAL;
	if (streq(key, "MAC") || streq(key, "GATEWAY_MAC")) {
		/* A multicast source MAC is never a port's own, and all
		 * zero is no address at all. */
		if (valid_parse_mac(value, a) < 0 || !valid_mac_unicast(a))
			return -EINVAL;
		return 0;
	}
	if (streq(key, "IP"))
		return rules_parse_addr(value, 0, &af, a);
	if (streq(key, "DHCPSERVER"))
		return rules_parse_addr(value, 0, &af, a);
	return -EINVAL;
}

