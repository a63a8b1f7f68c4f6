/*
 * fuzz_varlink.c: libFuzzer target for a connection's input path, the way
 * ctl.c and ctl-call.c take it: bytes arrive in chunks of any size
 * (frame_reserve/frame_commit), frame_next() splits them at NULs under a
 * size limit, each message goes through json_loadb() with the server's
 * flags, decode_call() and decode_object() with a table that has every
 * field type the methods use, then the strict value checks of valid.c.
 *
 * Input: byte 0 picks the chunk size pattern, byte 1 the message size
 * limit; the rest is the stream. Checked: frame's invariants (a message
 * never holds a NUL, is never longer than the limit, nothing is lost or
 * invented), decode's contract (a refusal names a field; on success every
 * output has its declared type). Built with -fsanitize=fuzzer,address,
 * undefined; any crash, leak or abort() is a finding.
 */
#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "frame.h"
#include "valid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct any_params {
	const char *parent, *kind, *owner, *port;
	bool flag;
	int64_t count;
	json_t *parameters;
	json_t *names;
};

static const struct decode_field any_fields[] = {
	DECODE_FIELD("parent", DECODE_STRING, true, struct any_params, parent),
	DECODE_FIELD("kind", DECODE_STRING, false, struct any_params, kind),
	DECODE_FIELD("owner", DECODE_STRING, false, struct any_params, owner),
	DECODE_FIELD("port", DECODE_STRING, false, struct any_params, port),
	DECODE_FIELD("flag", DECODE_BOOL, false, struct any_params, flag),
	DECODE_FIELD("count", DECODE_INT, false, struct any_params, count),
	DECODE_FIELD("parameters", DECODE_OBJECT, false, struct any_params, parameters),
	DECODE_FIELD("names", DECODE_STRING_ARRAY, false, struct any_params, names),
};

static bool field_named(const char *bad, json_t *params)
{
	size_t i;

	if (!bad)
		return false;
	for (i = 0; i < sizeof(any_fields) / sizeof(any_fields[0]); i++)
		if (strcmp(bad, any_fields[i].name) == 0)
			return true;
	/* an unknown key of the object is named as it was sent */
	return json_is_object(params) && json_object_get(params, bad);
}

static void check_string(const char *s)
{
	uint8_t mac[6];

	if (!s)
		return;
	(void)valid_ifname(s);
	(void)valid_owner(s);
	(void)valid_name(s, 64);
	if (valid_parse_mac(s, mac) == 0)
		(void)valid_mac_unicast(mac);
}

static void handle_message(const char *msg, size_t len)
{
	struct decode_call dc;
	struct any_params p = { 0 };
	const char *bad = NULL;
	json_t *root, *v;
	size_t i;

	root = json_loadb(msg, len, JSON_REJECT_DUPLICATES, NULL);
	if (!root)
		return;
	if (!json_is_object(root) || decode_call(root, &dc, &bad) < 0) {
		if (json_is_object(root) && !bad)
			abort(); /* a refused call must name its field */
		json_decref(root);
		return;
	}
	if (!dc.method || !decode_method_name_valid(dc.method))
		abort();
	if (dc.parameters && !json_is_object(dc.parameters))
		abort();
	bad = NULL;
	if (decode_object(dc.parameters, any_fields, sizeof(any_fields) / sizeof(any_fields[0]), &p, &bad) < 0) {
		if (!field_named(bad, dc.parameters))
			abort();
	} else {
		if (!p.parent)
			abort(); /* required */
		if (p.parameters && !json_is_object(p.parameters))
			abort();
		if (p.names) {
			if (!json_is_array(p.names))
				abort();
			json_array_foreach(p.names, i, v) {
				if (!json_is_string(v))
					abort();
				check_string(json_string_value(v));
			}
		}
		check_string(p.parent);
		check_string(p.kind);
		check_string(p.owner);
		check_string(p.port);
	}
	json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame f;
	size_t pos = 2, max, pattern, got = 0, nuls = 0, i;
	char *msg, *w;
	size_t len;
	int r;

	if (size < 2)
		return 0;
	pattern = data[0];
	max = 1 + (size_t)data[1] * 16; /* 1..4081 bytes */
	for (i = 2; i < size; i++)
		nuls += data[i] == '\0';

	frame_init(&f);
	while (pos < size) {
		size_t chunk = 1 + (pattern + pos) % (pattern % 7 == 0 ? 1 : 97);

		if (chunk > size - pos)
			chunk = size - pos;
		if (frame_reserve(&f, chunk, &w) < 0)
			abort();
		memcpy(w, data + pos, chunk);
		frame_commit(&f, chunk);
		pos += chunk;
		for (;;) {
			r = frame_next(&f, max, &msg, &len);
			if (r == 0)
				break;
			if (r == -EMSGSIZE)
				goto out; /* the connection is dropped */
			if (r != 1 || len > max || memchr(msg, '\0', len) || msg[len] != '\0')
				abort();
			/* the message is exactly the next bytes of the stream */
			if (memcmp(msg, data + 2 + got, len) != 0)
				abort();
			got += len + 1;
			nuls--;
			handle_message(msg, len);
		}
	}
	/* everything up to the last NUL came out as messages */
	if (nuls != 0 || got + frame_len(&f) != size - 2)
		abort();
out:
	frame_done(&f);
	return 0;
}
