/*
 * coalesce.c - a filter BIO that gathers TLS records into large writes
 * (see ftps/coalesce.h).
 */
#include <stdlib.h>
#include <string.h>

#include "ftps/coalesce.h"

struct coalesce {
  char *buf;
  size_t size;      /* allocated */
  size_t cap;       /* the most it may grow to */
  size_t start;     /* first byte not yet passed on */
  size_t end;       /* one past the last byte held */
  int direct;       /* the kernel encrypts: writes go straight through */
};

/* The first allocation: a handshake flight, or one full record. */
#define COALESCE_FIRST_SIZE  (20 * 1024)

/* grow - room for want bytes, up to the capacity; 0, or -1 (no memory:
 * the held bytes stay as they are) */
static int grow(struct coalesce *c, size_t want) {
  size_t size = c->size > 0 ? c->size * 2 : COALESCE_FIRST_SIZE;
  char *buf;

  if (size < want) {
    size = want;
  }
  if (size > c->cap) {
    size = c->cap;
  }

  buf = realloc(c->buf, size);
  if (buf == NULL) {
    return -1;
  }
  c->buf = buf;
  c->size = size;
  return 0;
}

static BIO_METHOD *coalesce_method = NULL;

/* drain - pass held bytes on to next; 1 when none are left, 0 when next
 * would block (retry flags copied), -1 on an error */
static int drain(BIO *bio, struct coalesce *c) {
  BIO *next = BIO_next(bio);

  while (c->start < c->end) {
    int n = BIO_write(next, c->buf + c->start, (int) (c->end - c->start));

    if (n <= 0) {
      BIO_copy_next_retry(bio);
      return BIO_should_retry(next) ? 0 : -1;
    }
    c->start += (size_t) n;
  }

  c->start = c->end = 0;
  return 1;
}

/* write_direct - pass data straight on, after anything held */
static int write_direct(BIO *bio, struct coalesce *c, const char *data,
    int len) {
  int rc;

  if (c->end > c->start &&
      drain(bio, c) <= 0) {
    return -1;
  }
  rc = BIO_write(BIO_next(bio), data, len);
  BIO_copy_next_retry(bio);
  return rc;
}

/* coalesce_write - take the whole record, or nothing (a retry) */
static int coalesce_write(BIO *bio, const char *data, int len) {
  struct coalesce *c = BIO_get_data(bio);
  BIO *next = BIO_next(bio);
  int rc;

  if (c == NULL || next == NULL || len <= 0) {
    return 0;
  }
  BIO_clear_retry_flags(bio);

  /* Under kernel TLS, OpenSSL writes plaintext, and announces each record
   * that is not application data (an alert, a handshake message) with a
   * control call to the socket BIO that applies to the very next write:
   * nothing may be gathered across it.  The kernel makes the records, and
   * gathering would only add a copy. */
  if (c->direct ||
      BIO_get_ktls_send(next)) {
    c->direct = 1;
    return write_direct(bio, c, data, len);
  }

  /* Small writes (handshakes, listings) keep a small buffer; a bulk
   * transfer grows it to the capacity within a few records. */
  if (c->end + (size_t) len > c->size &&
      c->size < c->cap &&
      grow(c, c->end + (size_t) len) < 0) {
    return -1;
  }

  if (c->end + (size_t) len > c->size) {
    rc = drain(bio, c);
    if (rc <= 0) {
      return -1;
    }
  }

  /* Larger than the whole buffer: nothing to gather it with. */
  if ((size_t) len > c->size) {
    rc = BIO_write(next, data, len);
    BIO_copy_next_retry(bio);
    return rc;
  }

  memcpy(c->buf + c->end, data, (size_t) len);
  c->end += (size_t) len;
  return len;
}

/* coalesce_read - reads pass straight through */
static int coalesce_read(BIO *bio, char *buf, int len) {
  BIO *next = BIO_next(bio);
  int n;

  if (next == NULL) {
    return 0;
  }
  BIO_clear_retry_flags(bio);
  n = BIO_read(next, buf, len);
  BIO_copy_next_retry(bio);
  return n;
}

static long coalesce_ctrl(BIO *bio, int cmd, long larg, void *parg) {
  struct coalesce *c = BIO_get_data(bio);
  BIO *next = BIO_next(bio);
  int rc;

  if (c == NULL || next == NULL) {
    return 0;
  }

  switch (cmd) {
    case BIO_CTRL_FLUSH:
      BIO_clear_retry_flags(bio);
      rc = drain(bio, c);
      if (rc <= 0) {
        return rc;
      }
      return BIO_ctrl(next, cmd, larg, parg);

    case BIO_CTRL_WPENDING:
      return (long) (c->end - c->start) + BIO_ctrl(next, cmd, larg, parg);

    default:
      return BIO_ctrl(next, cmd, larg, parg);
  }
}

static int coalesce_create(BIO *bio) {
  BIO_set_data(bio, NULL);
  BIO_set_init(bio, 1);
  return 1;
}

static int coalesce_destroy(BIO *bio) {
  struct coalesce *c = BIO_get_data(bio);

  if (c != NULL) {
    free(c->buf);
    free(c);
    BIO_set_data(bio, NULL);
  }
  return 1;
}

/* method - the BIO method, made once per process */
static BIO_METHOD *method(void) {
  if (coalesce_method == NULL) {
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index()|BIO_TYPE_FILTER,
      "mod_ftps coalescing writes");

    if (m == NULL ||
        BIO_meth_set_write(m, coalesce_write) != 1 ||
        BIO_meth_set_read(m, coalesce_read) != 1 ||
        BIO_meth_set_ctrl(m, coalesce_ctrl) != 1 ||
        BIO_meth_set_create(m, coalesce_create) != 1 ||
        BIO_meth_set_destroy(m, coalesce_destroy) != 1) {
      BIO_meth_free(m);
      return NULL;
    }
    coalesce_method = m;
  }
  return coalesce_method;
}

BIO *ftps_coalesce_new(BIO *next, size_t capacity) {
  struct coalesce *c;
  BIO_METHOD *m = method();
  BIO *bio;

  if (next == NULL || m == NULL || capacity == 0) {
    return NULL;
  }

  c = calloc(1, sizeof(*c));
  bio = BIO_new(m);
  if (c == NULL || bio == NULL) {
    free(c);
    BIO_free(bio);
    return NULL;
  }
  c->cap = capacity;
  BIO_set_data(bio, c);
  return BIO_push(bio, next);
}
