/*
 * filters-test.h: what the unit tests of netd/filters/ (test_filters_batch,
 * test_filters_netdev) both check of a struct filters. Include after
 * filters/filters-internal.h and cmocka.h.
 */
#pragma once

/* f->ndirty lets the flush skip its walks: it must count exactly the
 * bindings marked dirty, after every step of every test. */
static inline void filters_test_check_ndirty(const struct filters *f)
{
	const struct binding *b;
	unsigned n = 0;

	TAILQ_FOREACH(b, &f->all, entry)
		n += b->dirty;
	TAILQ_FOREACH(b, &f->netdev_all, entry)
		n += b->dirty;
	assert_int_equal(f->ndirty, n);
}
