/*
 * vlschema.h: the tests' own reading of varlink interface descriptions
 * and a check of replies against them, written apart from netd's code so
 * that netd's view of its protocol is not checked against itself.
 *
 * A schema is built from the description text of one or more interfaces
 * (as org.varlink.service.GetInterfaceDescription returns them); a reply
 * is checked against the output of the method it answers, an error reply
 * against the declaration of its error.
 */
#ifndef VLSCHEMA_H
#define VLSCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct vlschema;

/* Parse every interface in text (one description after another) into s,
 * which may already hold others; NULL s: a new schema. On a syntax error
 * NULL is returned and err (errlen bytes) says where. */
struct vlschema *vlschema_parse(struct vlschema *s, const char *text, char *err, size_t errlen);

void vlschema_free(struct vlschema *s);

/* Whether s has a declaration of interface name. */
bool vlschema_has_interface(const struct vlschema *s, const char *name);

/*
 * Check one reply message (the whole {"parameters":..., "continues":...}
 * or {"error":..., "parameters":...} object) received for a call of
 * method (fully qualified; NULL when not known, then only errors can be
 * checked and a successful reply is a violation). Returns true when it
 * conforms; otherwise false with the first violation in err.
 */
bool vlschema_check_reply(const struct vlschema *s, const char *method, json_t *reply,
			  char *err, size_t errlen);

#endif
