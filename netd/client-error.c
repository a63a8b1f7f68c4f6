/*
 * client-error.c: netd_strerror(), the errors netd's interfaces declare
 * (io.netd.varlink, org.varlink.service.varlink) in words.
 */
#include "config.h"

#include <string.h>

#include "netd/client.h"
#include "util.h"

static const struct {
	const char *name;
	const char *text;
} client_errors[] = {
	{ NETD_ERROR_NO_SUCH_BINDING, "no filter is bound to that port" },
	{ NETD_ERROR_NO_SUCH_FILTER, "no filter of that name" },
	{ NETD_ERROR_UNSUPPORTED_PORT, "filters cannot be bound to that port" },
	{ NETD_ERROR_INVALID_FILTER, "the filter definition was refused" },
	{ NETD_ERROR_INVALID_LEARNING, "address learning cannot be used as asked" },
	{ NETD_ERROR_APPLY_FAILED, "the firewall tool refused the filter's rules" },
	{ NETD_ERROR_NO_SUCH_LINK, "no such link or parent device" },
	{ NETD_ERROR_LINK_EXISTS, "a link or device of that name exists already" },
	{ NETD_ERROR_NOT_OWNER, "the link or binding belongs to another owner" },
	{ NETD_ERROR_LINK_BUSY, "a create or delete of the link is still in progress" },
	{ NETD_ERROR_NO_NAMES_LEFT, "every name of the prefix is taken" },
	{ NETD_ERROR_KERNEL_ERROR, "the kernel refused the change" },
	{ NETD_ERROR_PROTOCOL_ERROR, "the message was not a varlink call" },
	{ NETD_ERROR_PERMISSION_DENIED, "permission denied (needs root or admin_group)" },
	{ NETD_ERROR_TOO_MANY_CLIENTS, "netd serves too many connections already" },
	{ NETD_ERROR_TOO_MANY_CLIENTS_FOR_USER, "this user holds too many connections to netd already" },
	{ NETD_ERROR_SHUTTING_DOWN, "netd is shutting down" },
	{ NETD_ERROR_STORAGE_ERROR, "netd's database could not record the call; nothing was changed" },
	{ NETD_ERROR_INTERNAL_ERROR, "netd failed internally (see its log)" },
	{ NETD_ERROR_INTERFACE_NOT_FOUND, "no such interface" },
	{ NETD_ERROR_METHOD_NOT_FOUND, "no such method" },
	{ NETD_ERROR_METHOD_NOT_IMPLEMENTED, "method not implemented" },
	{ NETD_ERROR_INVALID_PARAMETER, "a parameter is missing or invalid" },
	{ NETD_ERROR_SERVICE_PERMISSION_DENIED, "permission denied" },
	{ NETD_ERROR_EXPECTED_MORE, "the method must be called with more" },
};

const char *netd_strerror(const char *error_name)
{
	if (!error_name)
		return "";
	for (size_t i = 0; i < ELEMENTSOF(client_errors); i++)
		if (streq(client_errors[i].name, error_name))
			return client_errors[i].text;
	return "an error this version of libnetd-client does not know";
}
