/*
 * eofguard.c - a filter BIO that reports a bare TCP EOF to us instead of to
 * OpenSSL (see ftps/eofguard.h).
 */
#include <stdint.h>

#include "ftps/eofguard.h"

static BIO_METHOD *guard_method = NULL;
static int guard_type = 0;

/* method_free - drop a half-built BIO method */
static void method_free(void) {
  BIO_meth_free(guard_method);
  guard_method = NULL;
}

/* guard_read - read from the next BIO; an EOF becomes a retry, flagged */
static int guard_read(BIO *bio, char *buf, int len) {
  BIO *next = BIO_next(bio);
  int n;

  if (next == NULL) {
    return 0;
  }

  BIO_clear_retry_flags(bio);
  n = BIO_read(next, buf, len);
  if (n > 0) {
    return n;
  }

  if (n == 0 && !BIO_should_retry(next)) {
    BIO_set_data(bio, (void *) (uintptr_t) 1);
    BIO_set_retry_read(bio);
    return -1;
  }

  BIO_copy_next_retry(bio);
  return n;
}

/* guard_write - writes pass straight through */
static int guard_write(BIO *bio, const char *buf, int len) {
  BIO *next = BIO_next(bio);
  int n;

  if (next == NULL) {
    return 0;
  }

  BIO_clear_retry_flags(bio);
  n = BIO_write(next, buf, len);
  BIO_copy_next_retry(bio);
  return n;
}

/* guard_ctrl - everything else is the socket BIO's business */
static long guard_ctrl(BIO *bio, int cmd, long larg, void *parg) {
  BIO *next = BIO_next(bio);

  if (next == NULL) {
    return 0;
  }
  return BIO_ctrl(next, cmd, larg, parg);
}

/* guard_create - a fresh guard has seen no EOF */
static int guard_create(BIO *bio) {
  BIO_set_data(bio, NULL);
  BIO_set_init(bio, 1);
  return 1;
}

BIO *ftps_eofguard_new(BIO *next) {
  BIO *bio;

  if (next == NULL) {
    return NULL;
  }

  if (guard_method == NULL) {
    guard_type = BIO_get_new_index()|BIO_TYPE_FILTER;
    guard_method = BIO_meth_new(guard_type, "mod_ftps EOF guard");
    if (guard_method == NULL ||
        BIO_meth_set_read(guard_method, guard_read) != 1 ||
        BIO_meth_set_write(guard_method, guard_write) != 1 ||
        BIO_meth_set_ctrl(guard_method, guard_ctrl) != 1 ||
        BIO_meth_set_create(guard_method, guard_create) != 1) {
      method_free();
      return NULL;
    }
  }

  bio = BIO_new(guard_method);
  if (bio == NULL) {
    return NULL;
  }
  return BIO_push(bio, next);
}

int ftps_eofguard_hit(BIO *bio) {
  BIO *guard;

  if (guard_method == NULL || bio == NULL) {
    return 0;
  }

  guard = BIO_find_type(bio, guard_type);
  return guard != NULL && BIO_get_data(guard) != NULL;
}
