/*
 * fuzz_bio.c - the coalescing BIO (mod_ftps/coalesce.c) and the EOF guard
 * (mod_ftps/eofguard.c), stacked as a data connection stacks them
 * (coalesce, guard, socket) or alone as a control connection has the
 * guard, over a scripted socket: a sink that takes a set number of bytes
 * per write, would block, or fails; a source that has some bytes, would
 * block, or has reached the peer's EOF.
 *
 * Input: a byte choosing the stack and the buffer's capacity, then
 * two-byte operations (write n, flush, read n, open the sink n bytes per
 * write, make n more bytes readable, the peer closes, the sink fails,
 * ask what is pending).
 * Promises checked: the bytes on the wire are always a prefix of the
 * bytes every write accepted, in order, and all of them after a flush
 * that succeeds; a write takes the whole record or returns a retry,
 * except one larger than the buffer, which may be partial as a socket
 * write is; WPENDING counts what is held; reads give the source's bytes
 * in order; the peer's EOF never reaches OpenSSL as 0, but as a retry
 * with ftps_eofguard_hit set.
 */
#include <limits.h>
#include <openssl/bio.h>

#include "ftps/coalesce.h"
#include "ftps/eofguard.h"
#include "fuzz.h"

/* The scripted socket. */
struct wire {
  unsigned char *out;        /* what reached the wire */
  size_t out_len, out_size;
  size_t budget;             /* bytes taken per write; 0: would block */
  int broken;                /* writes fail for good */
  size_t in_avail;           /* readable now */
  size_t in_pos;             /* bytes read so far */
  int in_eof;                /* the peer closed after in_avail */
};

static BIO_METHOD *wire_method;

/* The bytes of either stream: a pattern with a prime period, so that a
 * lost, doubled or reordered byte shows. */
#define PATTERN_PERIOD 65521
static unsigned char pattern_table[PATTERN_PERIOD];

/* pattern_fill - the len bytes of the pattern from stream position pos */
static void pattern_fill(unsigned char *buf, size_t pos, size_t len) {
  while (len > 0) {
    size_t off = pos % PATTERN_PERIOD, n = PATTERN_PERIOD - off;

    if (n > len) {
      n = len;
    }
    memcpy(buf, pattern_table + off, n);
    buf += n;
    pos += n;
    len -= n;
  }
}

static int wire_write(BIO *b, const char *buf, int len) {
  struct wire *w = BIO_get_data(b);
  size_t n;

  BIO_clear_retry_flags(b);
  if (w->broken) {
    return -1;
  }
  if (w->budget == 0) {
    BIO_set_retry_write(b);
    return -1;
  }
  n = (size_t) len < w->budget ? (size_t) len : w->budget;
  if (w->out_len + n > w->out_size) {
    size_t size = (w->out_len + n) * 2;
    unsigned char *p = realloc(w->out, size);

    if (p == NULL) {
      return -1;
    }
    w->out = p;
    w->out_size = size;
  }
  memcpy(w->out + w->out_len, buf, n);
  w->out_len += n;
  return (int) n;
}

static int wire_read(BIO *b, char *buf, int len) {
  struct wire *w = BIO_get_data(b);
  size_t n;

  BIO_clear_retry_flags(b);
  if (w->in_avail == 0) {
    if (w->in_eof) {
      return 0;
    }
    BIO_set_retry_read(b);
    return -1;
  }
  n = (size_t) len < w->in_avail ? (size_t) len : w->in_avail;
  pattern_fill((unsigned char *) buf, w->in_pos, n);
  w->in_pos += n;
  w->in_avail -= n;
  return (int) n;
}

static long wire_ctrl(BIO *b, int cmd, long larg, void *parg) {
  (void) b;
  (void) larg;
  (void) parg;
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_WPENDING:
    case BIO_CTRL_PENDING:
      return 0;
    default:
      return 0;
  }
}

static int wire_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  size_t i;

  (void) argc;
  (void) argv;
  for (i = 0; i < PATTERN_PERIOD; i++) {
    pattern_table[i] = (unsigned char) ((i * 131) ^ (i >> 8));
  }
  wire_method = BIO_meth_new(BIO_get_new_index()|BIO_TYPE_SOURCE_SINK,
    "fuzz wire");
  BIO_meth_set_write(wire_method, wire_write);
  BIO_meth_set_read(wire_method, wire_read);
  BIO_meth_set_ctrl(wire_method, wire_ctrl);
  BIO_meth_set_create(wire_method, wire_create);
  return 0;
}

/* The state of one run: the stack and what was accepted. */
struct run {
  BIO *top;
  struct wire w;
  int gathering;             /* the coalescing BIO is on top */
  size_t capacity;
  unsigned char *sent;       /* every byte a write accepted, in order */
  size_t sent_len, sent_size;
  size_t checked;            /* wire bytes already compared with sent */
  size_t read_pos;           /* bytes read through the stack */
};

/* At most this much is written per input: enough to fill the largest
 * buffer many times, little enough to keep runs fast. */
#define RUN_MAX_BYTES (1024 * 1024)

/* check_prefix - the wire holds a prefix of what was accepted (both only
 * grow: the bytes compared before need no second look) */
static void check_prefix(struct run *r) {
  FUZZ_ASSERT(r->w.out_len <= r->sent_len);
  if (r->w.out_len > r->checked) {
    FUZZ_ASSERT(memcmp(r->w.out + r->checked, r->sent + r->checked,
      r->w.out_len - r->checked) == 0);
    r->checked = r->w.out_len;
  }
}

static void op_write(struct run *r, size_t len) {
  unsigned char *buf;
  int rc;

  if (len == 0 || r->sent_len + len > RUN_MAX_BYTES) {
    return;
  }
  if (r->sent_len + len > r->sent_size) {
    r->sent_size = (r->sent_len + len) * 2;
    r->sent = realloc(r->sent, r->sent_size);
  }
  buf = malloc(len);
  FUZZ_ASSERT(buf != NULL && r->sent != NULL);
  pattern_fill(buf, r->sent_len + 7, len);

  rc = BIO_write(r->top, buf, (int) len);
  if (rc > 0) {
    FUZZ_ASSERT((size_t) rc <= len);
    /* Partial only where the record went straight to the socket. */
    if ((size_t) rc < len) {
      FUZZ_ASSERT(!r->gathering || len > r->capacity);
    }
    memcpy(r->sent + r->sent_len, buf, (size_t) rc);
    r->sent_len += (size_t) rc;
  } else {
    FUZZ_ASSERT(rc < 0 || !r->gathering);
    FUZZ_ASSERT(BIO_should_retry(r->top) || r->w.broken);
  }
  free(buf);
  check_prefix(r);
}

static void op_flush(struct run *r) {
  int rc = BIO_flush(r->top);

  check_prefix(r);
  if (rc == 1) {
    FUZZ_ASSERT(r->w.out_len == r->sent_len);
  } else {
    FUZZ_ASSERT(r->w.broken || r->w.budget == 0 || BIO_should_retry(r->top));
  }
}

static void op_read(struct run *r, size_t len) {
  unsigned char buf[4096], want[4096];
  int rc;

  if (len == 0 || len > sizeof(buf)) {
    return;
  }
  rc = BIO_read(r->top, buf, (int) len);
  if (rc > 0) {
    pattern_fill(want, r->read_pos, (size_t) rc);
    FUZZ_ASSERT(memcmp(buf, want, (size_t) rc) == 0);
    r->read_pos += (size_t) rc;
    return;
  }
  /* Nothing to read: would block, or the peer's EOF, seen by the guard. */
  FUZZ_ASSERT(rc == -1 && BIO_should_retry(r->top) &&
    BIO_should_read(r->top));
  FUZZ_ASSERT(ftps_eofguard_hit(r->top) == r->w.in_eof);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct run r;
  BIO *wire, *guard;
  size_t i;

  if (size < 1) {
    return 0;
  }
  memset(&r, 0, sizeof(r));
  r.w.budget = SIZE_MAX;
  r.gathering = (data[0] & 1) != 0;
  /* From one byte to past the first allocation (20 KiB); the data
   * connection's 72 KiB behaves as any capacity above it. */
  r.capacity = (size_t) (data[0] >> 1) * 200 + 1;

  wire = BIO_new(wire_method);
  FUZZ_ASSERT(wire != NULL);
  BIO_set_data(wire, &r.w);
  guard = ftps_eofguard_new(wire);
  FUZZ_ASSERT(guard != NULL);
  r.top = r.gathering ? ftps_coalesce_new(guard, r.capacity) : guard;
  FUZZ_ASSERT(r.top != NULL);
  FUZZ_ASSERT(ftps_eofguard_hit(r.top) == 0);

  for (i = 1; i + 1 < size; i += 2) {
    size_t arg = data[i + 1];

    switch (data[i] % 9) {
      case 0:
        op_write(&r, arg * 97 + 1);
        break;
      case 1:
        op_write(&r, arg * 211);
        break;
      case 2:
        op_flush(&r);
        break;
      case 3:
        r.w.budget = arg == 255 ? SIZE_MAX : arg * 61;
        break;
      case 4:
        op_read(&r, arg * 16 + 1);
        break;
      case 5:
        if (!r.w.in_eof) {
          r.w.in_avail += arg * 37 + 1;
        }
        break;
      case 6:
        r.w.in_eof = 1;
        break;
      case 7:
        r.w.broken = arg == 0;
        break;
      default:
        FUZZ_ASSERT(BIO_ctrl_wpending(r.top) ==
          (size_t) (r.sent_len - r.w.out_len));
        break;
    }
  }

  BIO_free_all(r.top);
  free(r.w.out);
  free(r.sent);
  return 0;
}
