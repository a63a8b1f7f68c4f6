/*
 * api.h: the methods netd serves (org.varlink.service and io.netd): their
 * parameters, who may call them, what they answer, and the audit row of
 * every mutating call.
 */
#ifndef NETD_API_H
#define NETD_API_H

#include <stdbool.h>
#include <sys/socket.h>

struct ctl_call;

/* ctl's refusal hook (ctl_refusal_fn), also used for the refusals of
 * api_dispatch(): an audit row without the call's parameters,
 * rate-limited per uid (audit_refusal()). userdata is the struct core. */
void api_refused(const struct ucred *cred, const char *method, const char *error,
		 void *userdata);

/* ctl's dispatch function; userdata is the struct core. */
void api_dispatch(struct ctl_call *call, void *userdata);

/* Whether a call of this method may wait for a later loop iteration when
 * the running one is out of time (ctl_server_set_deferrable()): those that
 * change things and the long lists; never the quick lookups and status. */
bool api_method_deferrable(const char *method);

/* Whether a call of this method is answered at once (ctl_server_set_
 * immediate()): GetStatus, GetInfo and GetInterfaceDescription, whose
 * replies report counters and constants, not state a commit makes true. */
bool api_method_immediate(const char *method);

/* Names of the interfaces served, NULL-terminated. */
extern const char *const api_interfaces[];

#endif
