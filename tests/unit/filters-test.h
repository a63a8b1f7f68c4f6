/*
 * filters-test.h: what the unit tests of netd/filters/ (test_filters_batch,
 * test_filters_netdev) both check of a struct filters: its counts of
 * dirty bindings and of bindings by state, against a walk. Include after
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

/* f->nstate and f->nlearning let GetStatus answer without walking the
 * bindings: they must be what a walk over f->all counts, after every
 * step of every test. */
static inline void filters_test_check_counts(const struct filters *f)
{
	unsigned by_state[B_REMOVING + 1] = { 0 }, learning = 0;
	const struct binding *b;

	filters_test_check_ndirty(f);
	TAILQ_FOREACH(b, &f->all, entry) {
		by_state[b->state]++;
		learning += learn_pending(b) && b->state != B_REMOVING;
	}
	for (int s = 0; s <= B_REMOVING; s++)
		assert_int_equal(f->nstate[s], by_state[s]);
	assert_int_equal(f->nlearning, learning);
}
