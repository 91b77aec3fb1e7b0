/*
 * unit.h - shared pieces of the Check unit-test programs.
 *
 * Each tests/unit/check_<file>.c tests one lower-layer file and ends with
 * FTPS_UNIT_MAIN(<suite function>).  CK_FORK=no helps under gdb/valgrind;
 * CK_VERBOSITY=verbose lists every test.  Fixture files are generated at test
 * time by tests/fixtures/mkcerts.sh into $FTPS_FIXTURE_DIR.
 */
#ifndef FTPS_UNIT_H
#define FTPS_UNIT_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

/* unit_fixture - the path of fixture file name, in a static buffer */
static inline const char *unit_fixture(const char *name) {
  static char path[4096];
  const char *dir = getenv("FTPS_FIXTURE_DIR");

  if (dir == NULL || *dir == '\0') {
    dir = "tests/tmp/fixtures";
  }
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  return path;
}

#define FTPS_UNIT_MAIN(suite_fn)                                   \
  int main(void) {                                                 \
    SRunner *sr = srunner_create(suite_fn());                      \
    int failed;                                                    \
    srunner_run_all(sr, CK_ENV);                                   \
    failed = srunner_ntests_failed(sr);                            \
    srunner_free(sr);                                              \
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;              \
  }

#endif /* FTPS_UNIT_H */
