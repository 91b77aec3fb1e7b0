/*
 * check_heap.c - unit tests for mod_ftps/heap.c (ftps/heap.h): after the
 * holes are taken, new allocations come from above them, and giving them
 * back makes them usable again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "ftps/heap.h"
#include "unit.h"

#define HOLES 400
#define HOLE_SIZE 200

/* make_holes - many small blocks, every other one freed: holes among live
 * data, as the master's heap has after start-up; the highest hole */
static uintptr_t make_holes(void *live[HOLES / 2]) {
  void *all[HOLES];
  uintptr_t highest = 0;
  int i;

  for (i = 0; i < HOLES; i++) {
    all[i] = malloc(HOLE_SIZE);
    ck_assert_ptr_nonnull(all[i]);
  }
  for (i = 0; i < HOLES; i++) {
    if (i % 2 == 0) {
      live[i / 2] = all[i];
      continue;
    }
    if ((uintptr_t) all[i] > highest) {
      highest = (uintptr_t) all[i];
    }
    free(all[i]);
  }
  return highest;
}

START_TEST(test_plug_moves_allocations_above_holes) {
  void *live[HOLES / 2], *fresh[32];
  uintptr_t highest = make_holes(live);
  int i;

  ck_assert_uint_gt(ftps_heap_plug(), 0);

  /* Allocations of the holes' size must not land in them any more. */
  for (i = 0; i < 32; i++) {
    fresh[i] = malloc(HOLE_SIZE);
    ck_assert_ptr_nonnull(fresh[i]);
    ck_assert_msg((uintptr_t) fresh[i] > highest, "allocation %d at %p, in "
      "a hole below %p", i, fresh[i], (void *) highest);
  }

  for (i = 0; i < 32; i++) {
    free(fresh[i]);
  }
  ftps_heap_unplug();
  for (i = 0; i < HOLES / 2; i++) {
    free(live[i]);
  }
}
END_TEST

START_TEST(test_unplug_gives_back) {
  void *live[HOLES / 2];
  uintptr_t highest = make_holes(live);
  int i, below = 0;

  ck_assert_uint_gt(ftps_heap_plug(), 0);
  ftps_heap_unplug();

  /* Given back, the holes serve allocations again. */
  for (i = 0; i < HOLES / 2; i++) {
    void *p = malloc(HOLE_SIZE);

    if ((uintptr_t) p <= highest) {
      below++;
    }
    free(p);
  }
  ck_assert_int_gt(below, 0);
  for (i = 0; i < HOLES / 2; i++) {
    free(live[i]);
  }
}
END_TEST

/* One generation of "contexts": many small allocations, as OpenSSL's. */
#define CTX_BLOCKS 4000
#define CTX_BLOCK 256

static void build_contexts(void *blocks[CTX_BLOCKS]) {
  int i;

  for (i = 0; i < CTX_BLOCKS; i++) {
    blocks[i] = malloc(CTX_BLOCK);
    ck_assert_ptr_nonnull(blocks[i]);
  }
}

static void free_contexts(void *blocks[CTX_BLOCKS]) {
  int i;

  for (i = 0; i < CTX_BLOCKS; i++) {
    free(blocks[i]);
  }
}

/* A restart frees the contexts and builds new ones: they must reuse the
 * old ones' memory, not grow the heap by a set of contexts each time
 * (issue 11, item 18: 1.15 MB per SIGHUP). */
START_TEST(test_restarts_reuse_memory) {
  static void *blocks[CTX_BLOCKS];
  void *live[HOLES / 2];
  uintptr_t brk0, brk1;
  int i;

  (void) make_holes(live);
  (void) ftps_heap_plug_before_build();
  build_contexts(blocks);
  (void) ftps_heap_plug();
  brk0 = (uintptr_t) sbrk(0);

  for (i = 0; i < 10; i++) {
    free_contexts(blocks);
    ftps_heap_restart();
    ck_assert_uint_eq(ftps_heap_plug_before_build(), 0);
    ck_assert_ptr_null(getenv("MOD_FTPS_HEAP_RESTART"));
    build_contexts(blocks);
    (void) ftps_heap_plug();
  }
  brk1 = (uintptr_t) sbrk(0);

  /* One set of contexts is about 1 MB; ten restarts may move the break by
   * less than two sets. */
  ck_assert_msg(brk1 - brk0 < 2 * CTX_BLOCKS * CTX_BLOCK, "the heap grew "
    "by %lu bytes over 10 restarts", (unsigned long) (brk1 - brk0));

  ftps_heap_unplug();
  free_contexts(blocks);
  for (i = 0; i < HOLES / 2; i++) {
    free(live[i]);
  }
}
END_TEST

static Suite *heap_suite(void) {
  Suite *s = suite_create("heap");
  TCase *tc = tcase_create("heap");

  tcase_add_test(tc, test_plug_moves_allocations_above_holes);
  tcase_add_test(tc, test_unplug_gives_back);
  tcase_add_test(tc, test_restarts_reuse_memory);
  suite_add_tcase(s, tc);
  return s;
}

FTPS_UNIT_MAIN(heap_suite)
