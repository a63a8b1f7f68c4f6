/*
 * test_valid.c: the shared validators of names, owners and MAC addresses,
 * and log_*_errno()'s return value.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "log.h"
#include "valid.h"

static void test_names(void **state)
{
	static const char *const good[] = { "a", "eth0", "macvtap4095", "vnet-1.2_x", "abcdefghijklmno" };
	static const char *const bad[] = { "", "-x", ".", "..", "a b", "a/b", "a\nb", "é",
					   "abcdefghijklmnop", "a;b", "a$b" };

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(valid_ifname(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(valid_ifname(bad[i]));
	assert_false(valid_ifname(NULL));
	assert_true(valid_name("a-much-longer-filter-name-than-ifnamsiz", 64));
	assert_false(valid_name("abc", 2));
}

static void test_owners(void **state)
{
	char longest[VALID_OWNER_MAX + 2];

	(void)state;
	assert_true(valid_owner("guest1"));
	assert_true(valid_owner("libvirt: domain 'x y'"));
	assert_false(valid_owner(""));
	assert_false(valid_owner(NULL));
	assert_false(valid_owner("a\tb"));
	assert_false(valid_owner("caf\xc3\xa9"));
	memset(longest, 'o', sizeof(longest));
	longest[VALID_OWNER_MAX] = '\0';
	assert_true(valid_owner(longest));
	longest[VALID_OWNER_MAX] = 'o';
	longest[VALID_OWNER_MAX + 1] = '\0';
	assert_false(valid_owner(longest));
}

static void test_macs(void **state)
{
	uint8_t m[6] = { 0 }, before[6];

	(void)state;
	assert_int_equal(valid_parse_mac("52:54:00:aB:cD:eF", m), 0);
	assert_memory_equal(m, ((uint8_t[]){ 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef }), 6);
	assert_true(valid_mac_unicast(m));
	memcpy(before, m, 6);
	assert_int_equal(valid_parse_mac("52:54:00:ab:cd:e", m), -EINVAL);
	assert_int_equal(valid_parse_mac("52:54:00:ab:cd:eff", m), -EINVAL);
	assert_int_equal(valid_parse_mac("52-54-00-ab-cd-ef", m), -EINVAL);
	assert_int_equal(valid_parse_mac(" 52:54:00:ab:cd:ef", m), -EINVAL);
	assert_int_equal(valid_parse_mac(NULL, m), -EINVAL);
	assert_memory_equal(m, before, 6); /* untouched on failure */
	assert_int_equal(valid_parse_mac("01:00:5e:00:00:01", m), 0);
	assert_false(valid_mac_unicast(m));
	assert_int_equal(valid_parse_mac("00:00:00:00:00:00", m), 0);
	assert_false(valid_mac_unicast(m));
}

static void test_log_errno(void **state)
{
	(void)state;
	log_open("test_valid", LOG_TARGET_STDERR);
	log_set_max_level(LOG_ERR);
	assert_int_equal(log_warn_errno("eth0", -ENODEV, "not logged at this level"), -ENODEV);
	assert_int_equal(log_error_errno("eth0", ENOENT, "positive %s", "errno"), -ENOENT);
	assert_int_equal(log_error_errno(NULL, 0, "no error"), 0);
	log_close();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_owners),
		cmocka_unit_test(test_macs),
		cmocka_unit_test(test_log_errno),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
