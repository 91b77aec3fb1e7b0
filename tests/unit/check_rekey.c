/*
 * check_rekey.c - unit tests for mod_ftps/rekey.c (ftps/rekey.h): when
 * TLSRenegotiate's key updates are due, on a simulated clock.
 */
#include "ftps/rekey.h"
#include "unit.h"

#define KB 1024ULL

/* A transfer of 16 KiB writes, one every step ms: how many updates does
 * 'data limit' bring, and how many at most within one second? */
static unsigned int simulate(unsigned long long limit, unsigned int writes,
    long long step, unsigned int *max_per_second) {
  struct ftps_rekey_state st;
  long long times[4096];
  unsigned int i, n = 0, lo = 0, best = 0;

  ftps_rekey_start(&st, 1000);
  for (i = 0; i < writes; i++) {
    long long now = 1000 + (long long) i * step;

    if (ftps_rekey_data_due(&st, limit, 16 * KB, now)) {
      ftps_rekey_done(&st, now);
      times[n++] = now;
      while (times[n - 1] - times[lo] >= 1000) {
        lo++;
      }
      if (n - lo > best) {
        best = n - lo;
      }
    }
  }
  *max_per_second = best;
  return n;
}

START_TEST(test_data_never_without_limit) {
  unsigned int burst;

  ck_assert_uint_eq(simulate(0, 4000, 1, &burst), 0);
}
END_TEST

START_TEST(test_data_first_update_at_once) {
  struct ftps_rekey_state st;

  ftps_rekey_start(&st, 5000);
  ck_assert_int_eq(ftps_rekey_data_due(&st, 64 * KB, 32 * KB, 5000), 0);
  ck_assert_int_eq(ftps_rekey_data_due(&st, 64 * KB, 31 * KB, 5000), 0);
  /* the limit is reached: due, although no time has passed */
  ck_assert_int_eq(ftps_rekey_data_due(&st, 64 * KB, 1 * KB, 5000), 1);
  ftps_rekey_done(&st, 5000);
  ck_assert_uint_eq(st.count, 1);
  ck_assert_uint_eq(st.since_bytes, 0);
}
END_TEST

START_TEST(test_data_spacing) {
  struct ftps_rekey_state st;

  ftps_rekey_start(&st, 0);
  ck_assert_int_eq(ftps_rekey_data_due(&st, 1, 100, 10), 1);
  ftps_rekey_done(&st, 10);
  /* bytes enough, time not: the bytes keep counting */
  ck_assert_int_eq(ftps_rekey_data_due(&st, 1, 100, 10 +
    FTPS_REKEY_SPACING_MS - 1), 0);
  ck_assert_uint_eq(st.since_bytes, 100);
  ck_assert_int_eq(ftps_rekey_data_due(&st, 1, 100, 10 +
    FTPS_REKEY_SPACING_MS), 1);
  ck_assert_uint_eq(st.since_bytes, 200);
}
END_TEST

/* A small limit on a fast transfer: spaced, never a flood. */
START_TEST(test_data_small_limit_is_spaced) {
  unsigned int burst, n = simulate(16 * KB, 4000, 1, &burst);

  ck_assert_uint_ge(n, 4000 / FTPS_REKEY_SPACING_MS);
  ck_assert_uint_le(n, 4000 / FTPS_REKEY_SPACING_MS + 1);
  ck_assert_uint_le(burst, 8);
}
END_TEST

/* A large limit on a slower transfer: the bytes decide (one update per
 * 1 MiB = 64 writes = 640 ms). */
START_TEST(test_data_large_limit_counts_bytes) {
  unsigned int burst, n = simulate(1024 * KB, 4000, 10, &burst);

  ck_assert_uint_eq(n, 4000 / 64);
  ck_assert_uint_le(burst, 8);
}
END_TEST

START_TEST(test_off_stops_everything) {
  struct ftps_rekey_state st;

  ftps_rekey_start(&st, 0);
  st.off = 1;
  ck_assert_int_eq(ftps_rekey_data_due(&st, 1, 1 << 20, 1000000), 0);
  ck_assert_int_eq(ftps_rekey_ctrl_due(&st, 1, 1000000), 0);
}
END_TEST

START_TEST(test_ctrl_due_after_secs) {
  struct ftps_rekey_state st;

  ftps_rekey_start(&st, 10000);
  ck_assert_int_eq(ftps_rekey_ctrl_due(&st, 0, 10000000), 0);
  ck_assert_int_eq(ftps_rekey_ctrl_due(&st, 3, 12999), 0);
  ck_assert_int_eq(ftps_rekey_ctrl_due(&st, 3, 13000), 1);
  ftps_rekey_done(&st, 13500);
  ck_assert_int_eq(ftps_rekey_ctrl_due(&st, 3, 16499), 0);
  ck_assert_int_eq(ftps_rekey_ctrl_due(&st, 3, 16500), 1);
  ck_assert_uint_eq(st.count, 1);
}
END_TEST

START_TEST(test_start_resets) {
  struct ftps_rekey_state st;

  ftps_rekey_start(&st, 0);
  ftps_rekey_done(&st, 5);
  st.off = 1;
  st.since_bytes = 99;
  ftps_rekey_start(&st, 7);
  ck_assert_uint_eq(st.count, 0);
  ck_assert_uint_eq(st.since_bytes, 0);
  ck_assert_int_eq(st.off, 0);
  ck_assert_int_eq(st.last_ms, 7);
}
END_TEST

static Suite *rekey_suite(void) {
  Suite *s = suite_create("rekey");
  TCase *tc = tcase_create("rekey");

  tcase_add_test(tc, test_data_never_without_limit);
  tcase_add_test(tc, test_data_first_update_at_once);
  tcase_add_test(tc, test_data_spacing);
  tcase_add_test(tc, test_data_small_limit_is_spaced);
  tcase_add_test(tc, test_data_large_limit_counts_bytes);
  tcase_add_test(tc, test_off_stops_everything);
  tcase_add_test(tc, test_ctrl_due_after_secs);
  tcase_add_test(tc, test_start_resets);
  suite_add_tcase(s, tc);
  return s;
}

FTPS_UNIT_MAIN(rekey_suite)
