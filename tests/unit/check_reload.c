/*
 * check_reload.c - unit tests for mod_ftps/reload.c (ftps/reload.h): file
 * identities that see a rewrite, a rename and a moved link; the last good
 * material handed from one copy of the module to the next through the
 * environment; the checks a renewal must pass.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ftps/reload.h"
#include "unit.h"

static char dir[] = "/tmp/check_reload.XXXXXX";

/* in_dir - path of name in the test directory, in a buffer of its own */
static const char *in_dir(const char *name, int which) {
  static char paths[3][4096];

  snprintf(paths[which], sizeof(paths[which]), "%s/%s", dir, name);
  return paths[which];
}

static void put(const char *path, const char *text) {
  FILE *f = fopen(path, "w");

  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(fputs(text, f) >= 0, 1);
  ck_assert_int_eq(fclose(f), 0);
}

static void setup(void) {
  ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void) {
  char cmd[4200];

  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
  strcpy(dir, "/tmp/check_reload.XXXXXX");
}

/* files_of - the identity of one path */
static struct ftps_reload_files files_of(const char *path) {
  struct ftps_reload_files f;

  memset(&f, 0, sizeof(f));
  ck_assert_int_eq(ftps_reload_files_add(&f, path), 0);
  return f;
}

START_TEST(test_files_see_changes) {
  const char *path = in_dir("cert.pem", 0), *link = in_dir("live.pem", 1);
  struct ftps_reload_files a, b;

  /* Missing, then created: a change. */
  a = files_of(path);
  ck_assert_int_eq(a.files[0].found, 0);
  put(path, "one\n");
  b = files_of(path);
  ck_assert_int_eq(b.files[0].found, 1);
  ck_assert_int_eq(ftps_reload_files_same(&a, &b), 0);

  /* Unchanged: the same. */
  a = files_of(path);
  ck_assert_int_eq(ftps_reload_files_same(&a, &b), 1);

  /* Rewritten in place with another size: a change. */
  put(path, "two, longer\n");
  b = files_of(path);
  ck_assert_int_eq(ftps_reload_files_same(&a, &b), 0);

  /* A link moved to another file of the same size and time: the inode
   * tells (stat() follows the link). */
  put(in_dir("a.pem", 2), "same\n");
  ck_assert_int_eq(symlink(in_dir("a.pem", 2), link), 0);
  a = files_of(link);
  put(in_dir("b.pem", 2), "same\n");
  ck_assert_int_eq(unlink(link), 0);
  ck_assert_int_eq(symlink(in_dir("b.pem", 2), link), 0);
  b = files_of(link);
  ck_assert_int_eq(ftps_reload_files_same(&a, &b), 0);
}
END_TEST

START_TEST(test_files_room) {
  struct ftps_reload_files f;
  int i;

  memset(&f, 0, sizeof(f));
  for (i = 0; i < FTPS_RELOAD_MAX_FILES; i++) {
    ck_assert_int_eq(ftps_reload_files_add(&f, "/nonexistent"), 0);
  }
  ck_assert_int_eq(ftps_reload_files_add(&f, "/nonexistent"), -1);
  ck_assert_int_eq(errno, E2BIG);
}
END_TEST

/* read_pair - the keypair of certificate and key fixtures */
static void read_pair(struct ftps_keypair *kp, const char *cert,
    const char *key) {
  struct ftps_error err;

  ftps_keypair_init(kp);
  ck_assert_int_eq(ftps_keypair_read_file(kp, unit_fixture(cert), NULL, NULL,
    &err), 0);
  if (key != NULL) {
    ck_assert_int_eq(ftps_keypair_read_file(kp, unit_fixture(key), NULL,
      NULL, &err), 0);
  }
}

START_TEST(test_material_survives_stash) {
  struct ftps_material *m, *gone, *again;
  struct ftps_reload_files files;
  struct ftps_keypair kp;

  read_pair(&kp, "ec.crt", "ec.key");
  memset(&files, 0, sizeof(files));
  ck_assert_int_eq(ftps_reload_attach(), 0);

  m = ftps_reload_claim("127.0.0.1|21|ftp|0");
  gone = ftps_reload_claim("127.0.0.1|2121|old|0");
  ck_assert_ptr_nonnull(m);
  ck_assert_ptr_nonnull(gone);
  ck_assert_int_eq(ftps_reload_set(m, &kp, 1, &files), 0);
  ftps_keypair_free(&kp);

  /* Handed over: this copy forgets it, the next takes it back. */
  ck_assert_int_eq(ftps_reload_stash(), 0);
  ck_assert_ptr_nonnull(getenv("MOD_FTPS_MATERIAL"));
  ck_assert_int_eq(ftps_reload_attach(), 1);
  ck_assert_ptr_null(getenv("MOD_FTPS_MATERIAL"));

  again = ftps_reload_claim("127.0.0.1|21|ftp|0");
  ck_assert_ptr_eq(again, m);
  ck_assert_int_eq(again->nkps, 1);
  ck_assert_int_eq(X509_check_private_key(again->kps[0].cert,
    again->kps[0].key), 1);

  /* The server that is gone is pruned: claimed again after the next
   * restart, it starts empty. */
  ck_assert_int_eq(gone->nkps, 0);
  ck_assert_int_eq(ftps_reload_set(gone, &again->kps[0], 1, &files), 0);
  ftps_reload_prune();
  ck_assert_int_eq(ftps_reload_stash(), 0);
  ck_assert_int_eq(ftps_reload_attach(), 1);
  ck_assert_int_eq(ftps_reload_claim("127.0.0.1|2121|old|0")->nkps, 0);
  ck_assert_ptr_eq(ftps_reload_claim("127.0.0.1|21|ftp|0"), m);
  ftps_reload_free_all();
  ck_assert_int_eq(ftps_reload_attach(), 0);
}
END_TEST

START_TEST(test_problems) {
  struct ftps_keypair kp;
  struct ftps_error err;
  char desc[256];
  time_t now = time(NULL);

  /* A valid certificate with its own chain passes. */
  read_pair(&kp, "fullchain.pem", "ec.key");
  ck_assert_uint_eq(ftps_reload_problems(&kp, now), 0);
  ck_assert_int_gt(ftps_reload_days_left(kp.cert, now), 800);
  ck_assert_ptr_nonnull(strstr(ftps_reload_describe(kp.cert, desc,
    sizeof(desc)), "serial "));
  ck_assert_ptr_nonnull(strstr(desc, "notAfter "));

  /* Its chain starting with a certificate that did not issue it fails. */
  ftps_keypair_free(&kp);
  read_pair(&kp, "ec.crt", "ec.key");
  ck_assert_int_eq(ftps_keypair_read_chain_file(&kp, unit_fixture("ca.pem"),
    &err), 0);
  ck_assert_uint_eq(ftps_reload_problems(&kp, now),
    FTPS_RELOAD_CHAIN_FOREIGN);
  ck_assert_ptr_nonnull(strstr(ftps_reload_problem_str(
    FTPS_RELOAD_CHAIN_FOREIGN), "chain"));

  /* Expired; and not valid yet, seen from the past. */
  ftps_keypair_free(&kp);
  read_pair(&kp, "expired.pem", NULL);
  ck_assert_uint_eq(ftps_reload_problems(&kp, now), FTPS_RELOAD_EXPIRED);
  ck_assert_ptr_nonnull(strstr(ftps_reload_problem_str(FTPS_RELOAD_EXPIRED),
    "expired"));
  ck_assert_int_lt(ftps_reload_days_left(kp.cert, now), 0);
  ftps_keypair_free(&kp);

  read_pair(&kp, "ec.crt", NULL);
  ck_assert_uint_eq(ftps_reload_problems(&kp, now - 86400L * 3650),
    FTPS_RELOAD_NOT_YET_VALID);
  ck_assert_ptr_nonnull(strstr(ftps_reload_problem_str(
    FTPS_RELOAD_NOT_YET_VALID), "not valid yet"));
  ck_assert_int_eq(ftps_reload_same_cert(kp.cert, kp.cert), 1);
  ftps_keypair_free(&kp);
}
END_TEST

/* A renewal is judged by kind of problem: a chain problem that the served
 * material shares is not held against it; a new certificate's dates are,
 * whatever the served material's problems. */
START_TEST(test_new_problems) {
  struct ftps_keypair bad_chain, expired, same, fine;
  struct ftps_error err;
  time_t now = time(NULL);

  read_pair(&bad_chain, "ec.crt", "ec.key");
  ck_assert_int_eq(ftps_keypair_read_chain_file(&bad_chain,
    unit_fixture("ca.pem"), &err), 0);
  read_pair(&expired, "expired.pem", NULL);
  ck_assert_int_eq(ftps_keypair_read_chain_file(&expired,
    unit_fixture("ca.pem"), &err), 0);
  read_pair(&same, "ec.crt", "ec.key");
  ck_assert_int_eq(ftps_keypair_read_chain_file(&same,
    unit_fixture("ca.pem"), &err), 0);
  read_pair(&fine, "fullchain.pem", "ec.key");

  /* The served chain is wrong too: the chain is excused, the dates of a
   * new certificate are not. */
  ck_assert_uint_eq(ftps_reload_problems(&expired, now),
    FTPS_RELOAD_EXPIRED|FTPS_RELOAD_CHAIN_FOREIGN);
  ck_assert_uint_eq(ftps_reload_new_problems(&bad_chain, &expired, now),
    FTPS_RELOAD_EXPIRED);
  ck_assert_uint_eq(ftps_reload_new_problems(&bad_chain, &same, now), 0);

  /* A good chain replaced by a bad one: refused. */
  ck_assert_uint_eq(ftps_reload_new_problems(&fine, &same, now),
    FTPS_RELOAD_CHAIN_FOREIGN);

  /* The very certificate served, read again: its dates are its own. */
  ck_assert_uint_eq(ftps_reload_new_problems(&expired, &expired, now), 0);
  ck_assert_uint_eq(ftps_reload_new_problems(&same, &same,
    now - 86400L * 3650), 0);
  ck_assert_uint_eq(ftps_reload_new_problems(&expired, &fine, now), 0);

  /* Nothing served before: as at the first start. */
  ck_assert_uint_eq(ftps_reload_new_problems(NULL, &expired, now), 0);

  ftps_keypair_free(&bad_chain);
  ftps_keypair_free(&expired);
  ftps_keypair_free(&same);
  ftps_keypair_free(&fine);
}
END_TEST

START_TEST(test_chain_compared_and_described) {
  struct ftps_keypair a, b;
  struct ftps_error err;
  char buf[512];

  read_pair(&a, "fullchain.pem", NULL);
  read_pair(&b, "ec.crt", NULL);
  ck_assert_int_eq(ftps_reload_same_chain(a.chain, a.chain), 1);
  ck_assert_int_eq(ftps_reload_same_chain(b.chain, NULL), 1);
  ck_assert_int_eq(ftps_reload_same_chain(a.chain, b.chain), 0);
  ck_assert_ptr_nonnull(strstr(ftps_reload_describe_chain(b.chain, buf,
    sizeof(buf)), "no chain certificate"));
  ftps_reload_describe_chain(a.chain, buf, sizeof(buf));
  ck_assert_ptr_nonnull(strstr(buf, "the first CN="));
  ck_assert_ptr_nonnull(strstr(buf, "notAfter "));

  /* Another chain of the same length differs. */
  ck_assert_int_eq(ftps_keypair_read_chain_file(&b, unit_fixture("ca.pem"),
    &err), 0);
  if (sk_X509_num(a.chain) == sk_X509_num(b.chain)) {
    ck_assert_int_eq(ftps_reload_same_chain(a.chain, b.chain),
      X509_cmp(sk_X509_value(a.chain, 0), sk_X509_value(b.chain, 0)) == 0);
  }
  ftps_keypair_free(&a);
  ftps_keypair_free(&b);
}
END_TEST

START_TEST(test_lost_name) {
  struct ftps_keypair a, b;
  char buf[256];

  /* The same names (localhost in the subjectAltName): none lost. */
  read_pair(&a, "ec.crt", NULL);
  read_pair(&b, "rsa.crt", NULL);
  ck_assert_ptr_null(ftps_reload_lost_name(a.cert, b.cert, buf,
    sizeof(buf)));
  ftps_keypair_free(&b);

  /* A certificate for another name: localhost is lost. */
  read_pair(&b, "inter.pem", NULL);
  ck_assert_ptr_nonnull(ftps_reload_lost_name(a.cert, b.cert, buf,
    sizeof(buf)));
  ck_assert_str_eq(buf, "localhost");
  ftps_keypair_free(&a);
  ftps_keypair_free(&b);
}
END_TEST

static Suite *reload_suite(void) {
  Suite *s = suite_create("reload");
  TCase *tc = tcase_create("files");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_files_see_changes);
  tcase_add_test(tc, test_files_room);
  suite_add_tcase(s, tc);

  tc = tcase_create("material");
  tcase_add_test(tc, test_material_survives_stash);
  tcase_add_test(tc, test_problems);
  tcase_add_test(tc, test_new_problems);
  tcase_add_test(tc, test_lost_name);
  tcase_add_test(tc, test_chain_compared_and_described);
  suite_add_tcase(s, tc);
  return s;
}

FTPS_UNIT_MAIN(reload_suite)
