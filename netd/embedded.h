/*
 * embedded.h: text files compiled into the binaries by build-aux/embed.sh:
 * the schema migrations from db/ and the varlink interface descriptions.
 */
#ifndef NETD_EMBEDDED_H
#define NETD_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
	const char *name;
	const char *text;
};

/* db/NNN_*.sql, in the order they are applied (NNN = schema version). */
extern const struct embedded_file embedded_migrations[];
extern const size_t embedded_migrations_count;

/* <interface>.varlink for each interface netd serves. */
extern const struct embedded_file embedded_interfaces[];
extern const size_t embedded_interfaces_count;

#endif
