/*
 * valid.c: see valid.h.
 */
#include "config.h"

#include <errno.h>
#include <net/if.h>
#include <string.h>

#include "util.h"
#include "valid.h"

bool valid_name(const char *s, size_t max)
{
	size_t n;

	if (!s || s[0] == '-' || streq(s, ".") || streq(s, ".."))
		return false;
	for (n = 0; s[n]; n++) {
		char c = s[n];

		if (n >= max)
			return false;
		/* Spelled out rather than isalnum(): locale must not matter. */
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return n > 0;
}

bool valid_ifname(const char *s)
{
	return valid_name(s, IFNAMSIZ - 1);
}

bool valid_owner(const char *s)
{
	size_t n;

	if (!s)
		return false;
	for (n = 0; s[n]; n++)
		if (n >= VALID_OWNER_MAX || (unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e)
			return false;
	return n > 0;
}

int valid_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int valid_parse_mac(const char *s, uint8_t ret[6])
{
	uint8_t m[6];

	if (!s)
		return -EINVAL;
	/* Each read stops at the first byte that is not what it should be,
	 * so nothing past the terminating NUL is looked at. */
	for (size_t i = 0; i < 6; i++) {
		int h = valid_hexval(s[3 * i]), l;

		if (h < 0 || (l = valid_hexval(s[3 * i + 1])) < 0)
			return -EINVAL;
		m[i] = (uint8_t)(h << 4 | l);
		if (s[3 * i + 2] != (i < 5 ? ':' : '\0'))
			return -EINVAL;
	}
	memcpy(ret, m, 6);
	return 0;
}

bool valid_mac_unicast(const uint8_t m[6])
{
	static const uint8_t zero[6];

	return !(m[0] & 1) && memcmp(m, zero, 6) != 0;
}
