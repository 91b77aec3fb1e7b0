/*
 * ticketkeys.c - the ring of session ticket keys (ftps/ticketkeys.h).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ftps/binding.h"
#include "ftps/ticketkeys.h"

#define KEY_NAME_LEN    16    /* RFC 5077 section 4: key_name */
#define KEY_AES_LEN     32    /* AES-256-CBC */
#define KEY_HMAC_LEN    32    /* HMAC-SHA256 */
#define SECRET_LEN      32

/* The mapping outlives this DSO: its address waits in the environment. */
#define RING_ENV        "MOD_FTPS_TICKETKEYS_PAGE"
#define RING_MAGIC      "mod_ftps keys 1"

struct ticket_key {
  unsigned char name[KEY_NAME_LEN];
  unsigned char aes[KEY_AES_LEN];
  unsigned char hmac[KEY_HMAC_LEN];
  time_t created;
  unsigned long serial;
};

struct ring {
  char magic[16];
  size_t size;                  /* bytes mapped */
  struct ftps_ticketkeys_conf conf;
  unsigned long next_serial;
  unsigned char secret[SECRET_LEN];
  int capacity;
  int nkeys;                    /* keys[0] oldest, keys[nkeys-1] newest */
  struct ticket_key keys[];
};

static struct ring *ring = NULL;

void ftps_ticketkeys_conf_init(struct ftps_ticketkeys_conf *conf) {
  conf->max_age = FTPS_TICKETKEYS_AGE_DEFAULT;
  conf->max_count = FTPS_TICKETKEYS_COUNT_DEFAULT;
}

/* parse_uint - all of s as a decimal number no larger than max */
static int parse_uint(const char *s, unsigned long max, unsigned long *out) {
  char *end = NULL;
  unsigned long v;

  if (!isdigit((unsigned char) *s)) {
    return -1;
  }
  errno = 0;
  v = strtoul(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v > max) {
    return -1;
  }
  *out = v;
  return 0;
}

/* parse_duration - what ProFTPD's durations look like: "hh:mm:ss", or a
 * number with an optional unit (s, sec, m, min, h, hr) */
static int parse_duration(const char *s, unsigned int *secs) {
  static const struct {
    const char *unit;
    unsigned long mult;
  } units[] = {
    { "", 1 }, { "s", 1 }, { "sec", 1 }, { "m", 60 }, { "min", 60 },
    { "h", 3600 }, { "hr", 3600 }, { NULL, 0 }
  };
  unsigned int h, m, sec;
  char num[32], extra;
  size_t n;
  unsigned long v;
  int i;

  if (sscanf(s, "%2u:%2u:%2u%c", &h, &m, &sec, &extra) == 3) {
    *secs = h * 3600 + m * 60 + sec;
    return 0;
  }

  for (n = 0; isdigit((unsigned char) s[n]); n++);
  if (n == 0 || n >= sizeof(num)) {
    return -1;
  }
  memcpy(num, s, n);
  num[n] = '\0';
  for (i = 0; units[i].unit != NULL; i++) {
    if (strcasecmp(s + n, units[i].unit) == 0 &&
        parse_uint(num, UINT_MAX / units[i].mult, &v) == 0) {
      *secs = (unsigned int) (v * units[i].mult);
      return 0;
    }
  }
  return -1;
}

/* parse_pair - one "name value" pair into conf; seen stops repeats */
static int parse_pair(const char *name, const char *value,
    struct ftps_ticketkeys_conf *conf, int *seen, struct ftps_error *err) {
  unsigned long v;
  unsigned int secs;

  if (strcasecmp(name, "age") == 0 && !(*seen & 1)) {
    if (parse_duration(value, &secs) < 0) {
      ftps_error_set(err, "error parsing age value '%s' (a duration: "
        "seconds, or 15m, 12h, hh:mm:ss)", value);
      return -1;
    }
    if (secs < FTPS_TICKETKEYS_AGE_MIN) {
      ftps_error_set(err, "age %s is below the minimum of %u seconds",
        value, FTPS_TICKETKEYS_AGE_MIN);
      return -1;
    }
    conf->max_age = secs;
    *seen |= 1;
    return 0;
  }

  if (strcasecmp(name, "count") == 0 && !(*seen & 2)) {
    if (parse_uint(value, FTPS_TICKETKEYS_COUNT_MAX, &v) < 0 || v < 1) {
      ftps_error_set(err, "expected a count from 1 to %u, got '%s'",
        FTPS_TICKETKEYS_COUNT_MAX, value);
      return -1;
    }
    conf->max_count = (unsigned int) v;
    *seen |= 2;
    return 0;
  }

  if (strcasecmp(name, "age") == 0 || strcasecmp(name, "count") == 0) {
    ftps_error_set(err, "'%s' is given twice", name);
  } else {
    ftps_error_set(err, "unknown parameter '%s' (expected age or count)",
      name);
  }
  return -1;
}

int ftps_ticketkeys_parse(int argc, char *const *argv,
    struct ftps_ticketkeys_conf *conf, struct ftps_error *err) {
  struct ftps_ticketkeys_conf c;
  int i, seen = 0;

  if (argv == NULL || conf == NULL || argc < 2 || argc % 2 != 0) {
    ftps_error_set(err, "expected: [age secs] [count n], at least one");
    errno = EINVAL;
    return -1;
  }

  ftps_ticketkeys_conf_init(&c);
  for (i = 0; i + 1 < argc; i += 2) {
    if (parse_pair(argv[i], argv[i + 1], &c, &seen, err) < 0) {
      errno = EINVAL;
      return -1;
    }
  }
  *conf = c;
  return 0;
}

unsigned int ftps_ticketkeys_interval(const struct ftps_ticketkeys_conf *conf) {
  unsigned int r = conf->max_age / 4;

  if (r > 3600) {
    r = 3600;
  }
  return r > 0 ? r : 1;
}

/* ring_attach - the ring a previous load of this module left, if any */
static void ring_attach(void) {
  const char *env = getenv(RING_ENV);
  struct ring *r = NULL;

  if (ring != NULL || env == NULL ||
      sscanf(env, "%p", (void **) &r) != 1 || r == NULL ||
      memcmp(r->magic, RING_MAGIC, sizeof(RING_MAGIC)) != 0) {
    return;
  }
  ring = r;
}

/* ring_unmap - wipe and unmap r */
static void ring_unmap(struct ring *r) {
  size_t size = r->size;

  OPENSSL_cleanse(r, size);
  (void) munlock(r, size);
  (void) munmap(r, size);
}

/* ring_map - a ring with room for capacity keys holding the newest of the
 * current one (whose secret it keeps), which is wiped and unmapped */
static int ring_map(int capacity) {
  struct ring *r;
  size_t size = sizeof(*r) + (size_t) capacity * sizeof(struct ticket_key);
  char addr[64];
  int n;

  r = mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1,
    0);
  if (r == MAP_FAILED) {
    return -1;
  }
  /* Never swapped out where the limits allow, never in a core dump. */
  (void) mlock(r, size);
  (void) madvise(r, size, MADV_DONTDUMP);
  memcpy(r->magic, RING_MAGIC, sizeof(RING_MAGIC));
  r->size = size;
  r->capacity = capacity;

  if (ring != NULL) {
    n = ring->nkeys < capacity ? ring->nkeys : capacity;
    memcpy(r->keys, ring->keys + (ring->nkeys - n),
      (size_t) n * sizeof(struct ticket_key));
    r->nkeys = n;
    r->next_serial = ring->next_serial;
    r->conf = ring->conf;
    memcpy(r->secret, ring->secret, SECRET_LEN);

  } else {
    r->next_serial = 1;
    if (RAND_bytes(r->secret, SECRET_LEN) != 1) {
      ring_unmap(r);
      errno = EIO;
      return -1;
    }
  }

  snprintf(addr, sizeof(addr), "%p", (void *) r);
  if (setenv(RING_ENV, addr, 1) < 0) {
    ring_unmap(r);
    return -1;
  }
  if (ring != NULL) {
    ring_unmap(ring);
  }
  ring = r;
  return 0;
}

/* drop - wipe key i and close the gap */
static void drop(int i) {
  OPENSSL_cleanse(&ring->keys[i], sizeof(ring->keys[i]));
  memmove(&ring->keys[i], &ring->keys[i + 1],
    (size_t) (ring->nkeys - i - 1) * sizeof(struct ticket_key));
  ring->nkeys--;
  OPENSSL_cleanse(&ring->keys[ring->nkeys], sizeof(struct ticket_key));
}

/* aged - key k no longer decrypts at now */
static int aged(const struct ticket_key *k, time_t now) {
  return now - k->created >= (time_t) ring->conf.max_age ||
    now < k->created;
}

/* drop_aged - drop the keys that aged out; how many */
static int drop_aged(time_t now) {
  int i, n = 0;

  for (i = ring->nkeys - 1; i >= 0; i--) {
    if (aged(&ring->keys[i], now)) {
      drop(i);
      n++;
    }
  }
  return n;
}

/* add_key - a new newest key, dropping the oldest beyond the count; the
 * key, or NULL (no random bytes) */
static struct ticket_key *add_key(time_t now, int *dropped) {
  struct ticket_key k;

  memset(&k, 0, sizeof(k));
  if (RAND_bytes(k.name, sizeof(k.name)) != 1 ||
      RAND_bytes(k.aes, sizeof(k.aes)) != 1 ||
      RAND_bytes(k.hmac, sizeof(k.hmac)) != 1) {
    OPENSSL_cleanse(&k, sizeof(k));
    errno = EIO;
    return NULL;
  }
  k.created = now;
  k.serial = ring->next_serial++;

  while (ring->nkeys > 0 &&
         (ring->nkeys >= (int) ring->conf.max_count ||
          ring->nkeys >= ring->capacity)) {
    drop(0);
    if (dropped != NULL) {
      (*dropped)++;
    }
  }
  ring->keys[ring->nkeys] = k;
  OPENSSL_cleanse(&k, sizeof(k));
  return &ring->keys[ring->nkeys++];
}

int ftps_ticketkeys_start(const struct ftps_ticketkeys_conf *conf,
    time_t now, unsigned long *made, int *dropped) {
  struct ticket_key *k;

  if (conf == NULL) {
    errno = EINVAL;
    return -1;
  }
  *dropped = 0;
  ring_attach();

  /* A restart: the new age and count apply to the keys kept. */
  if (ring != NULL) {
    ring->conf = *conf;
    *dropped = drop_aged(now);
    while (ring->nkeys > (int) conf->max_count) {
      drop(0);
      (*dropped)++;
    }
  }
  if ((ring == NULL || ring->capacity != (int) conf->max_count) &&
      ring_map((int) conf->max_count) < 0) {
    return -1;
  }
  ring->conf = *conf;

  k = add_key(now, dropped);
  if (k == NULL) {
    return -1;
  }
  *made = k->serial;
  return 0;
}

int ftps_ticketkeys_rotate(time_t now, unsigned long *made, int *dropped) {
  struct ticket_key *k;

  if (ring == NULL) {
    errno = EINVAL;
    return -1;
  }
  *dropped = drop_aged(now);
  k = add_key(now, dropped);
  if (k == NULL) {
    return -1;
  }
  *made = k->serial;
  return 0;
}

int ftps_ticketkeys_count(void) {
  return ring != NULL ? ring->nkeys : 0;
}

unsigned long ftps_ticketkeys_newest(void) {
  return ring != NULL && ring->nkeys > 0 ?
    ring->keys[ring->nkeys - 1].serial : 0;
}

int ftps_ticketkeys_lock(void) {
  if (ring == NULL) {
    errno = EINVAL;
    return -1;
  }
  return mlock(ring, ring->size);
}

int ftps_ticketkeys_scope(const void *label, size_t len,
    unsigned char scope[FTPS_TICKETKEYS_SCOPE_LEN]) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t maclen = 0;

  if (ring == NULL || label == NULL) {
    errno = EINVAL;
    return -1;
  }
  if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, ring->secret,
      SECRET_LEN, label, len, mac, sizeof(mac), &maclen) == NULL ||
      maclen < FTPS_TICKETKEYS_SCOPE_LEN) {
    errno = EIO;
    return -1;
  }
  memcpy(scope, mac, FTPS_TICKETKEYS_SCOPE_LEN);
  OPENSSL_cleanse(mac, sizeof(mac));
  return 0;
}

/* encrypting_key - the key new tickets get: the newest, while it is
 * younger than half the age (its tickets then decrypt for at least the
 * other half); a session that outlived that makes its own */
static struct ticket_key *encrypting_key(time_t now) {
  struct ticket_key *k;

  if (ring->nkeys > 0) {
    k = &ring->keys[ring->nkeys - 1];
    if (now >= k->created &&
        now - k->created < (time_t) (ring->conf.max_age / 2)) {
      return k;
    }
  }
  return add_key(now, NULL);
}

/* find_key - the key named name that still decrypts, or NULL.  On a
 * data connection any key this process holds will do: the session it
 * resumes must carry this FTP session's token (binding.h), so only the
 * session's own tickets pass, such as a TLS 1.2 control connection's,
 * which is not renewed while the session lasts. */
static struct ticket_key *find_key(const unsigned char *name, time_t now,
    int data) {
  int i;

  for (i = ring->nkeys - 1; i >= 0; i--) {
    if (CRYPTO_memcmp(ring->keys[i].name, name, KEY_NAME_LEN) == 0) {
      return aged(&ring->keys[i], now) && !data ? NULL : &ring->keys[i];
    }
  }
  return NULL;
}

/* set_mac - HMAC-SHA256 under k's MAC key */
static int set_mac(EVP_MAC_CTX *hctx, struct ticket_key *k) {
  OSSL_PARAM params[3];

  params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k->hmac,
    KEY_HMAC_LEN);
  params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
    (char *) "SHA256", 0);
  params[2] = OSSL_PARAM_construct_end();
  return EVP_MAC_CTX_set_params(hctx, params);
}

int ftps_ticketkeys_cb_at(time_t now, int data, unsigned char *name,
    unsigned char *iv, EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc) {
  struct ticket_key *k;

  if (ring == NULL) {
    /* Encrypt: no ticket; decrypt: a full handshake. */
    return 0;
  }

  if (enc) {
    k = encrypting_key(now);
    if (k == NULL ||
        RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) {
      return 0;
    }
    memcpy(name, k->name, KEY_NAME_LEN);
    if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1 ||
        set_mac(hctx, k) != 1) {
      return -1;
    }
    return 1;
  }

  /* Unknown or aged out: a full handshake (RFC 5077 section 3.3), and a
   * new ticket under the current key. */
  k = find_key(name, now, data);
  if (k == NULL) {
    return 0;
  }
  if (set_mac(hctx, k) != 1 ||
      EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1) {
    return -1;
  }
  /* 2: OpenSSL renews a ticket under an older key. */
  return k == &ring->keys[ring->nkeys - 1] ? 1 : 2;
}

/* key_cb - OpenSSL's ticket key callback */
static int key_cb(SSL *ssl, unsigned char *name, unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc) {
  return ftps_ticketkeys_cb_at(time(NULL), ftps_binding_is_data(ssl), name,
    iv, cctx, hctx, enc);
}

int ftps_ticketkeys_install(SSL_CTX *ctx, struct ftps_error *err) {
  if (ctx == NULL) {
    errno = EINVAL;
    return -1;
  }
  if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, key_cb) != 1) {
    ftps_error_set_ssl(err, "cannot set the session ticket key callback");
    errno = EINVAL;
    return -1;
  }
  return 0;
}

void ftps_ticketkeys_release(void) {
  ring_attach();
  if (ring != NULL) {
    ring_unmap(ring);
    ring = NULL;
  }
  (void) unsetenv(RING_ENV);
}
