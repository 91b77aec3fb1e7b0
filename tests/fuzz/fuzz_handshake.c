/*
 * fuzz_handshake.c - a server connection of mod_ftps/tls.c, from a context
 * of context.c with the session binding callbacks of binding.c in place,
 * fed the bytes of a client: ClientHellos, handshake records, application
 * data, alerts, KeyUpdates, close_notify, all mutated.
 *
 * Input: a byte of flags, then everything the client sends, available at
 * once on a memory transport under the EOF guard (and the coalescing BIO
 * on data connections).  Flags: data connection (the handshake must then
 * resume a session of this FTP session, ftps_binding_verify) or control
 * connection (ftps_binding_mark_ctrl); a context that asks for a client
 * certificate against a CA; the peer's EOF at the end of the input or a
 * connection that would block; a key update, a fresh ticket, and a CCC
 * closure or a shutdown and drain after the handshake.  With FL_CLIENT the
 * roles turn (SSCN ON, FXP): our data connection is the TLS client, from
 * ftps_context_new_client with verification against the CA and the
 * peer's address, and the input is what a hostile server sends.
 *
 * Replay: for recorded client flights to stay valid, the server's output
 * must not change from run to run.  OpenSSL's random generator is
 * replaced (a provider whose "random" bytes depend only on their position
 * in each request) and time() is fixed, so that a session ticket recorded
 * once still decrypts, is still fresh, and carries the same token and
 * scope.  Insecure by design: this is a test harness.
 *
 * Recording seeds: FUZZ_RECORD=DIR ./fuzz_handshake writes complete
 * client flights (TLS 1.2 and 1.3, with and without a client certificate,
 * SNI and ALPN, data connections resuming the control connection's
 * ticket; for SSCN, a server's flights to our client) to DIR and exits.
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include "ftps/binding.h"
#include "ftps/certvars.h"
#include "ftps/config.h"
#include "ftps/context.h"
#include "ftps/keypair.h"
#include "ftps/peer.h"
#include "ftps/tls.h"
#include "fuzz.h"
#include "fuzz_keys.h"

#define FL_DATA        0x01
#define FL_VERIFY      0x02
#define FL_EOF         0x04
#define FL_KEY_UPDATE  0x08
#define FL_TICKET      0x10
#define FL_CLOSE       0x20
#define FL_CLIENT      0x40   /* SSCN ON: we are the TLS client (FXP) */

/* A fixed "now" inside the certificates' validity (2027-01-15). */
#define FUZZ_NOW ((time_t) 1800000000)

time_t time(time_t *t) {
  if (t != NULL) {
    *t = FUZZ_NOW;
  }
  return FUZZ_NOW;
}

/* The replayable random generator: a provider offering "fuzz" */

static OSSL_FUNC_rand_newctx_fn rand_newctx;
static OSSL_FUNC_rand_freectx_fn rand_freectx;
static OSSL_FUNC_rand_instantiate_fn rand_instantiate;
static OSSL_FUNC_rand_uninstantiate_fn rand_uninstantiate;
static OSSL_FUNC_rand_generate_fn rand_generate;
static OSSL_FUNC_rand_enable_locking_fn rand_enable_locking;
static OSSL_FUNC_rand_lock_fn rand_lock;
static OSSL_FUNC_rand_unlock_fn rand_unlock;
static OSSL_FUNC_rand_gettable_ctx_params_fn rand_gettable_ctx_params;
static OSSL_FUNC_rand_get_ctx_params_fn rand_get_ctx_params;

static int rand_state = EVP_RAND_STATE_UNINITIALISED;

static void *rand_newctx(void *provctx, void *parent,
    const OSSL_DISPATCH *parent_calls) {
  (void) provctx;
  (void) parent;
  (void) parent_calls;
  return &rand_state;
}

static void rand_freectx(void *ctx) {
  (void) ctx;
}

static int rand_instantiate(void *ctx, unsigned int strength,
    int prediction_resistance, const unsigned char *pstr, size_t pstr_len,
    const OSSL_PARAM params[]) {
  (void) ctx;
  (void) strength;
  (void) prediction_resistance;
  (void) pstr;
  (void) pstr_len;
  (void) params;
  rand_state = EVP_RAND_STATE_READY;
  return 1;
}

static int rand_uninstantiate(void *ctx) {
  (void) ctx;
  return 1;
}

/* rand_generate - byte i of every request is i + 1: small first bytes,
 * so that a key or nonce drawn below a group order is accepted at once */
static int rand_generate(void *ctx, unsigned char *out, size_t outlen,
    unsigned int strength, int prediction_resistance,
    const unsigned char *addin, size_t addin_len) {
  size_t i;

  (void) ctx;
  (void) strength;
  (void) prediction_resistance;
  (void) addin;
  (void) addin_len;
  for (i = 0; i < outlen; i++) {
    out[i] = (unsigned char) (i + 1);
  }
  return 1;
}

static int rand_enable_locking(void *ctx) {
  (void) ctx;
  return 1;
}

static int rand_lock(void *ctx) {
  (void) ctx;
  return 1;
}

static void rand_unlock(void *ctx) {
  (void) ctx;
}

static const OSSL_PARAM *rand_gettable_ctx_params(void *ctx, void *provctx) {
  static const OSSL_PARAM known[] = {
    OSSL_PARAM_int(OSSL_RAND_PARAM_STATE, NULL),
    OSSL_PARAM_uint(OSSL_RAND_PARAM_STRENGTH, NULL),
    OSSL_PARAM_size_t(OSSL_RAND_PARAM_MAX_REQUEST, NULL),
    OSSL_PARAM_END
  };

  (void) ctx;
  (void) provctx;
  return known;
}

static int rand_get_ctx_params(void *ctx, OSSL_PARAM params[]) {
  OSSL_PARAM *p;

  (void) ctx;
  p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_STATE);
  if (p != NULL && !OSSL_PARAM_set_int(p, rand_state)) {
    return 0;
  }
  p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_STRENGTH);
  if (p != NULL && !OSSL_PARAM_set_uint(p, 256)) {
    return 0;
  }
  p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_MAX_REQUEST);
  if (p != NULL && !OSSL_PARAM_set_size_t(p, 1 << 16)) {
    return 0;
  }
  return 1;
}

static const OSSL_DISPATCH rand_functions[] = {
  { OSSL_FUNC_RAND_NEWCTX, (void (*)(void)) rand_newctx },
  { OSSL_FUNC_RAND_FREECTX, (void (*)(void)) rand_freectx },
  { OSSL_FUNC_RAND_INSTANTIATE, (void (*)(void)) rand_instantiate },
  { OSSL_FUNC_RAND_UNINSTANTIATE, (void (*)(void)) rand_uninstantiate },
  { OSSL_FUNC_RAND_GENERATE, (void (*)(void)) rand_generate },
  { OSSL_FUNC_RAND_ENABLE_LOCKING, (void (*)(void)) rand_enable_locking },
  { OSSL_FUNC_RAND_LOCK, (void (*)(void)) rand_lock },
  { OSSL_FUNC_RAND_UNLOCK, (void (*)(void)) rand_unlock },
  { OSSL_FUNC_RAND_GETTABLE_CTX_PARAMS,
    (void (*)(void)) rand_gettable_ctx_params },
  { OSSL_FUNC_RAND_GET_CTX_PARAMS, (void (*)(void)) rand_get_ctx_params },
  { 0, NULL }
};

static const OSSL_ALGORITHM rand_algs[] = {
  { "fuzz", "provider=fuzz-rand", rand_functions, "replayable" },
  { NULL, NULL, NULL, NULL }
};

static const OSSL_ALGORITHM *rand_query(void *provctx, int id,
    int *no_cache) {
  (void) provctx;
  *no_cache = 0;
  return id == OSSL_OP_RAND ? rand_algs : NULL;
}

static const OSSL_DISPATCH rand_provider[] = {
  { OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void)) rand_query },
  { 0, NULL }
};

static int rand_provider_init(const OSSL_CORE_HANDLE *handle,
    const OSSL_DISPATCH *in, const OSSL_DISPATCH **out, void **provctx) {
  (void) handle;
  (void) in;
  *out = rand_provider;
  *provctx = NULL;
  return 1;
}

/* The transport: a memory "socket" */

struct wire {
  const uint8_t *in;         /* what the client sent */
  size_t in_len, in_pos;
  int eof;                   /* the client closed after in */
  unsigned char *out;        /* what we sent (kept when recording) */
  size_t out_len, out_size;
  int keep;
};

static BIO_METHOD *wire_method;

static int wire_read(BIO *b, char *buf, int len) {
  struct wire *w = BIO_get_data(b);
  size_t n = w->in_len - w->in_pos;

  BIO_clear_retry_flags(b);
  if (n == 0) {
    if (w->eof) {
      return 0;
    }
    BIO_set_retry_read(b);
    return -1;
  }
  if (n > (size_t) len) {
    n = (size_t) len;
  }
  memcpy(buf, w->in + w->in_pos, n);
  w->in_pos += n;
  return (int) n;
}

static int wire_write(BIO *b, const char *buf, int len) {
  struct wire *w = BIO_get_data(b);

  BIO_clear_retry_flags(b);
  if (w->keep) {
    if (w->out_len + (size_t) len > w->out_size) {
      size_t size = (w->out_len + (size_t) len) * 2;
      unsigned char *p = realloc(w->out, size);

      FUZZ_ASSERT(p != NULL);
      w->out = p;
      w->out_size = size;
    }
    memcpy(w->out + w->out_len, buf, (size_t) len);
  }
  w->out_len += (size_t) len;
  return len;
}

static long wire_ctrl(BIO *b, int cmd, long larg, void *parg) {
  (void) b;
  (void) larg;
  (void) parg;
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int wire_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static BIO *wire_new(struct wire *w) {
  BIO *b = BIO_new(wire_method);

  FUZZ_ASSERT(b != NULL);
  BIO_set_data(b, w);
  return b;
}

/* Setup */

static SSL_CTX *ctx_plain, *ctx_verify, *ctx_client;
static struct ftps_keypair server_kp;
static OSSL_PROVIDER *prov_rand, *prov_default;
static int verbose;         /* FUZZ_VERBOSE: say how far each input got */

static SSL_CTX *make_ctx(int verify, const char *ca_file) {
  struct ftps_context_props props;
  struct ftps_error err;
  SSL_CTX *ctx;

  ftps_context_props_init(&props);
  props.keypairs[0] = &server_kp;
  props.nkeypairs = 1;
  props.protocols = FTPS_PROTO_TLSV1_2|FTPS_PROTO_TLSV1_3;
  if (verify) {
    props.verify_client = FTPS_VERIFY_OPTIONAL;
    props.ca_file = ca_file;
  }
  ctx = ftps_context_new(&props, NULL, NULL, &err);
  if (ctx == NULL) {
    fprintf(stderr, "fuzz_handshake: ftps_context_new: %s\n", err.msg);
    abort();
  }
  return ctx;
}

/* make_client_ctx - our side of SSCN data connections, verifying the
 * server's certificate against the CA */
static SSL_CTX *make_client_ctx(const char *ca_file) {
  struct ftps_context_props props;
  struct ftps_error err;
  SSL_CTX *ctx;

  ftps_context_props_init(&props);
  props.keypairs[0] = &server_kp;
  props.nkeypairs = 1;
  props.ca_file = ca_file;
  ctx = ftps_context_new_client(&props, 1, &err);
  if (ctx == NULL) {
    fprintf(stderr, "fuzz_handshake: ftps_context_new_client: %s\n",
      err.msg);
    abort();
  }
  return ctx;
}

/* conn_new - our end of a connection over w, as flags say */
static struct ftps_tls *conn_new(struct wire *w, int flags) {
  struct ftps_error err;
  struct ftps_tls *tls;
  SSL_CTX *ctx = (flags & FL_VERIFY) ? ctx_verify : ctx_plain;
  enum ftps_tls_kind kind = (flags & FL_DATA) ? FTPS_TLS_DATA :
    FTPS_TLS_CTRL;

  if (flags & FL_CLIENT) {
    ctx = ctx_client;
    kind = FTPS_TLS_DATA_CLIENT;
  }
  ftps_error_clear(&err);
  tls = ftps_tls_new_bio(ctx, wire_new(w), kind, &err);
  FUZZ_ASSERT(tls != NULL);
  if (flags & FL_CLIENT) {
    FUZZ_ASSERT(ftps_tls_expect_peer_ip(tls, "127.0.0.1") == 0);
  }
  return tls;
}

static void record_seeds(const char *dir);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  char ca_file[] = "/tmp/fuzz_handshake_ca.XXXXXX";
  struct ftps_error err;
  const char *record;
  int fd;

  (void) argc;
  (void) argv;
  verbose = getenv("FUZZ_VERBOSE") != NULL;
  if (OSSL_PROVIDER_add_builtin(NULL, "fuzz-rand", rand_provider_init) != 1 ||
      (prov_rand = OSSL_PROVIDER_load(NULL, "fuzz-rand")) == NULL ||
      (prov_default = OSSL_PROVIDER_load(NULL, "default")) == NULL ||
      RAND_set_DRBG_type(NULL, "fuzz", NULL, NULL, NULL) != 1) {
    fprintf(stderr, "fuzz_handshake: cannot install the replayable RNG\n");
    abort();
  }

  wire_method = BIO_meth_new(BIO_get_new_index()|BIO_TYPE_SOURCE_SINK,
    "fuzz memory socket");
  BIO_meth_set_read(wire_method, wire_read);
  BIO_meth_set_write(wire_method, wire_write);
  BIO_meth_set_ctrl(wire_method, wire_ctrl);
  BIO_meth_set_create(wire_method, wire_create);

  ftps_keypair_init(&server_kp);
  if (ftps_keypair_read_pem(&server_kp, fuzz_srv_pem, strlen(fuzz_srv_pem),
      "/nonexistent/srv.pem", NULL, NULL, &err) < 0 ||
      ftps_keypair_read_pem(&server_kp, fuzz_srv_key, strlen(fuzz_srv_key),
      "/nonexistent/srv.key", NULL, NULL, &err) < 0) {
    fprintf(stderr, "fuzz_handshake: server keypair: %s\n", err.msg);
    abort();
  }

  /* The context reads its CA from a file, once. */
  fd = mkstemp(ca_file);
  FUZZ_ASSERT(fd >= 0);
  FUZZ_ASSERT(write(fd, fuzz_ca_pem, strlen(fuzz_ca_pem)) ==
    (ssize_t) strlen(fuzz_ca_pem));
  close(fd);
  ctx_plain = make_ctx(0, NULL);
  ctx_verify = make_ctx(1, ca_file);
  ctx_client = make_client_ctx(ca_file);
  unlink(ca_file);
  FUZZ_ASSERT(ftps_binding_renew() == 0);

  record = getenv("FUZZ_RECORD");
  if (record != NULL && *record != '\0') {
    record_seeds(record);
    exit(0);
  }
  return 0;
}

/* One connection */

/* var_cb - a TLS_* variable: a name and a value, always */
static void var_cb(const char *name, const char *value, void *arg) {
  (void) arg;
  FUZZ_ASSERT(name != NULL && value != NULL &&
    strncmp(name, "TLS_", 4) == 0);
}

/* serve_names - what the session reads of the connection and of the
 * client's certificate: environment variables, the names it must hold */
static void serve_names(struct ftps_tls *tls) {
  struct ftps_error err;
  X509 *peer = SSL_get1_peer_certificate(ftps_tls_ssl(tls));
  int rc;

  rc = ftps_certvars_conn(ftps_tls_ssl(tls), FTPS_CERTVARS_STD|
    FTPS_CERTVARS_EXPORT, var_cb, NULL);
  FUZZ_ASSERT(rc == 0 || errno == ENOMEM || errno == EINVAL);
  if (peer != NULL) {
    rc = ftps_peer_check_names(peer, FTPS_PEER_NEED_CN|FTPS_PEER_NEED_DNS|
      FTPS_PEER_NEED_IP, "localhost", "127.0.0.1", &err);
    FUZZ_ASSERT(rc == 0 || errno == EACCES);
    FUZZ_ASSERT(ftps_peer_user_matches(peer, "CommonName", "alice") >= 0);
    X509_free(peer);
  }
}

/* serve_after - what a session does once the handshake is done: binding,
 * reads (answered with echoes), key update, ticket, closure */
static void serve_after(struct ftps_tls *tls, int flags) {
  struct ftps_error err;
  char buf[4096];
  int want = 0, i;

  if (flags & FL_CLIENT) {
    /* Our own client connection: the peer's certificate was verified in
     * the handshake; there is no session of ours to bind. */
    FUZZ_ASSERT(SSL_get_verify_result(ftps_tls_ssl(tls)) == X509_V_OK);
  } else if (flags & FL_DATA) {
    ftps_error_clear(&err);
    if (ftps_binding_verify(ftps_tls_ssl(tls), &err) < 0) {
      /* A data connection that is not ours goes no further. */
      FUZZ_ASSERT(errno == EPERM && err.msg[0] != '\0');
      return;
    }
    FUZZ_ASSERT(ftps_tls_resumed(tls) == 1);
  } else if (ftps_binding_mark_ctrl(ftps_tls_ssl(tls)) < 0) {
    FUZZ_ASSERT(errno == EPERM);
    return;
  }
  FUZZ_ASSERT(ftps_tls_protocol(tls)[0] != '\0');
  FUZZ_ASSERT(ftps_tls_cipher(tls)[0] != '\0');
  (void) ftps_tls_server_name(tls);
  (void) ftps_tls_session_lifetime(tls);
  serve_names(tls);

  if (flags & FL_TICKET) {
    (void) ftps_tls_new_ticket(tls);
    (void) ftps_tls_send_queued(tls, &want);
  }
  if (flags & FL_KEY_UPDATE) {
    (void) ftps_tls_key_update(tls, 1, &want);
  }

  for (i = 0; i < 64; i++) {
    ssize_t n = ftps_tls_read(tls, buf, sizeof(buf), &want);

    if (n <= 0) {
      FUZZ_ASSERT(n == 0 || errno == EAGAIN || errno == ECONNRESET ||
        errno == EPROTO || errno == EPIPE);
      break;
    }
    FUZZ_ASSERT((size_t) n <= sizeof(buf));
    if (ftps_tls_write(tls, buf, (size_t) n, &want) < 0 ||
        ftps_tls_flush(tls, &want) < 0) {
      break;
    }
  }

  if (flags & FL_CLOSE) {
    (void) ftps_tls_close(tls, &want);
  } else if (ftps_tls_shutdown(tls, &want) == 0) {
    (void) ftps_tls_drain(tls, &want);
  }
}

/* serve - one server connection over w; 0 if the handshake completed */
static int serve(struct wire *w, int flags) {
  struct ftps_error err;
  struct ftps_tls *tls;
  int want = 0, i, rc = -1;

  ftps_error_clear(&err);
  tls = conn_new(w, flags);
  FUZZ_ASSERT(ftps_tls_fd(tls) == -1);
  if (flags & (FL_DATA|FL_CLIENT)) {
    ftps_tls_bulk_reads(tls);
  }

  for (i = 0; i < 64; i++) {
    errno = 0;
    rc = ftps_tls_handshake(tls, &want, &err);
    if (rc == 0 || errno != EAGAIN) {
      break;
    }
    /* The memory socket never blocks a write: waiting means reading,
     * and with nothing left to read the client is done. */
    FUZZ_ASSERT(want == FTPS_WANT_READ);
    if (w->in_pos == w->in_len) {
      break;
    }
  }
  if (verbose) {
    fprintf(stderr, "handshake: %s (%s, %s, %s)\n", rc == 0 ? "done" :
      strerror(errno), ftps_tls_protocol(tls),
      ftps_tls_resumed(tls) ? "resumed" : "full", ftps_tls_error(tls));
  }
  if (rc == 0) {
    serve_after(tls, flags);
  } else {
    FUZZ_ASSERT(errno == EAGAIN || errno == EPROTO || errno == ECONNRESET ||
      errno == EPIPE);
  }
  ftps_tls_free(tls);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct wire w;

  if (size < 1) {
    return 0;
  }
  memset(&w, 0, sizeof(w));
  w.in = data + 1;
  w.in_len = size - 1;
  w.eof = (data[0] & FL_EOF) != 0;
  (void) serve(&w, data[0]);

  /* Each input starts from an empty session cache, as a new FTP session
   * process starts from the master's. */
  SSL_CTX_flush_sessions(ctx_plain, 0);
  SSL_CTX_flush_sessions(ctx_verify, 0);
  ERR_clear_error();
  return 0;
}

/* Recording seeds */

struct recording {
  unsigned char *buf;        /* flags byte, then the client's bytes */
  size_t len, size;
};

static void rec_add(struct recording *r, const void *p, size_t n) {
  if (r->len + n > r->size) {
    r->size = (r->len + n) * 2;
    r->buf = realloc(r->buf, r->size);
    FUZZ_ASSERT(r->buf != NULL);
  }
  memcpy(r->buf + r->len, p, n);
  r->len += n;
}

/* pump - move the client's output into the recording and the server's
 * input, and the server's output into the client */
static void pump(SSL *client, struct wire *w, struct recording *r,
    size_t *out_pos) {
  BIO *wbio = SSL_get_wbio(client), *rbio = SSL_get_rbio(client);
  char buf[16384];
  int n;

  while ((n = BIO_read(wbio, buf, sizeof(buf))) > 0) {
    rec_add(r, buf, (size_t) n);
    w->in = r->buf + 1;
    w->in_len = r->len - 1;
  }
  if (w->out_len > *out_pos) {
    BIO_write(rbio, w->out + *out_pos, (int) (w->out_len - *out_pos));
    *out_pos = w->out_len;
  }
}

/* use_pem - give ctx a certificate and key from PEM text */
static void use_pem(SSL_CTX *ctx, const char *cert, const char *key) {
  BIO *b = BIO_new_mem_buf(cert, -1);
  X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
  EVP_PKEY *k;

  BIO_free(b);
  b = BIO_new_mem_buf(key, -1);
  k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
  BIO_free(b);
  FUZZ_ASSERT(x != NULL && k != NULL);
  FUZZ_ASSERT(SSL_CTX_use_certificate(ctx, x) == 1);
  FUZZ_ASSERT(SSL_CTX_use_PrivateKey(ctx, k) == 1);
  X509_free(x);
  EVP_PKEY_free(k);
}

/* peer_new - the other end, plain OpenSSL over memory BIOs: a client of
 * version proto (SNI, ALPN "ftp", a client certificate with with_cert,
 * resuming resume), or with FL_CLIENT a server */
static SSL *peer_new(int flags, int proto, int with_cert,
    SSL_SESSION *resume) {
  SSL_CTX *ctx = SSL_CTX_new((flags & FL_CLIENT) ? TLS_server_method() :
    TLS_client_method());
  SSL *ssl;

  FUZZ_ASSERT(ctx != NULL);
  SSL_CTX_set_min_proto_version(ctx, proto);
  SSL_CTX_set_max_proto_version(ctx, proto);
  if (flags & FL_CLIENT) {
    use_pem(ctx, fuzz_srv_pem, fuzz_srv_key);
  } else if (with_cert) {
    use_pem(ctx, fuzz_cli_pem, fuzz_cli_key);
  }
  ssl = SSL_new(ctx);
  SSL_CTX_free(ctx);
  FUZZ_ASSERT(ssl != NULL);
  SSL_set_bio(ssl, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
  if (flags & FL_CLIENT) {
    SSL_set_accept_state(ssl);
    return ssl;
  }
  SSL_set_connect_state(ssl);
  SSL_set_tlsext_host_name(ssl, "localhost");
  SSL_set_alpn_protos(ssl, (const unsigned char *) "\x03" "ftp", 4);
  if (resume != NULL) {
    SSL_set_session(ssl, resume);
  }
  return ssl;
}

/* record_write - the seed file dir/name */
static void record_write(const char *dir, const char *name,
    const struct recording *r) {
  char path[4096];
  FILE *fp;

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  fp = fopen(path, "wb");
  FUZZ_ASSERT(fp != NULL);
  FUZZ_ASSERT(fwrite(r->buf, 1, r->len, fp) == r->len);
  fclose(fp);
}

/* record_one - a peer of version proto talks to our connection with
 * flags; writes the seed name and returns the peer's session */
static SSL_SESSION *record_one(const char *dir, const char *name, int flags,
    int proto, int with_cert, SSL_SESSION *resume) {
  struct recording r = { NULL, 0, 0 };
  struct ftps_error err;
  struct ftps_tls *tls;
  struct wire w;
  unsigned char flag = (unsigned char) flags;
  size_t out_pos = 0;
  SSL_SESSION *sess;
  SSL *peer = peer_new(flags, proto, with_cert, resume);
  char buf[256];
  int want = 0, i, sdone = 0, pdone = 0;

  rec_add(&r, &flag, 1);
  memset(&w, 0, sizeof(w));
  w.keep = 1;
  w.in = r.buf + 1;
  tls = conn_new(&w, flags);

  for (i = 0; i < 100 && !(sdone && pdone); i++) {
    if (!sdone && ftps_tls_handshake(tls, &want, &err) == 0) {
      sdone = 1;
    }
    pump(peer, &w, &r, &out_pos);
    if (!pdone && SSL_do_handshake(peer) == 1) {
      pdone = 1;
    }
    pump(peer, &w, &r, &out_pos);
  }
  FUZZ_ASSERT(sdone && pdone);
  if (flags & FL_CLIENT) {
    FUZZ_ASSERT(SSL_get_verify_result(ftps_tls_ssl(tls)) == X509_V_OK);
  } else if (flags & FL_DATA) {
    /* Only a resumed session of this FTP session makes a data
     * connection; the full handshake is a seed of the refusal. */
    FUZZ_ASSERT(ftps_binding_verify(ftps_tls_ssl(tls), &err) ==
      (resume != NULL ? 0 : -1));
  } else {
    FUZZ_ASSERT(ftps_binding_mark_ctrl(ftps_tls_ssl(tls)) == 0);
  }

  /* A line, its echo, then the peer's close_notify. */
  SSL_write(peer, "PBSZ 0\r\n", 8);
  pump(peer, &w, &r, &out_pos);
  FUZZ_ASSERT(ftps_tls_read(tls, buf, sizeof(buf), &want) == 8);
  FUZZ_ASSERT(ftps_tls_write(tls, buf, 8, &want) == 8);
  (void) ftps_tls_flush(tls, &want);
  pump(peer, &w, &r, &out_pos);
  (void) SSL_read(peer, buf, sizeof(buf));
  sess = SSL_get1_session(peer);
  SSL_shutdown(peer);
  pump(peer, &w, &r, &out_pos);

  record_write(dir, name, &r);
  fprintf(stderr, "recorded %s: %zu bytes (%s, %s)\n", name, r.len,
    ftps_tls_protocol(tls), ftps_tls_resumed(tls) ? "resumed" : "full");
  ftps_tls_free(tls);
  SSL_free(peer);
  free(r.buf);
  free(w.out);
  return sess;
}

static void record_seeds(const char *dir) {
  static const struct {
    const char *name;
    int proto;
  } versions[] = { { "tls12", TLS1_2_VERSION }, { "tls13", TLS1_3_VERSION } };
  char name[64];
  size_t v;

  for (v = 0; v < 2; v++) {
    SSL_SESSION *sess;

    snprintf(name, sizeof(name), "ctrl-%s", versions[v].name);
    sess = record_one(dir, name, FL_EOF, versions[v].proto, 0, NULL);
    snprintf(name, sizeof(name), "data-%s-resumed", versions[v].name);
    SSL_SESSION_free(record_one(dir, name, FL_DATA|FL_EOF, versions[v].proto,
      0, sess));
    snprintf(name, sizeof(name), "data-%s-full", versions[v].name);
    SSL_SESSION_free(record_one(dir, name, FL_DATA, versions[v].proto, 0,
      NULL));
    SSL_SESSION_free(sess);

    snprintf(name, sizeof(name), "ctrl-%s-clientcert", versions[v].name);
    sess = record_one(dir, name, FL_VERIFY|FL_TICKET|FL_KEY_UPDATE,
      versions[v].proto, 1, NULL);
    snprintf(name, sizeof(name), "data-%s-clientcert-resumed",
      versions[v].name);
    SSL_SESSION_free(record_one(dir, name, FL_DATA|FL_VERIFY|FL_CLOSE,
      versions[v].proto, 1, sess));
    SSL_SESSION_free(sess);

    snprintf(name, sizeof(name), "ctrl-%s-nocert", versions[v].name);
    SSL_SESSION_free(record_one(dir, name, FL_VERIFY|FL_CLOSE,
      versions[v].proto, 0, NULL));

    snprintf(name, sizeof(name), "sscn-client-%s", versions[v].name);
    SSL_SESSION_free(record_one(dir, name, FL_CLIENT|FL_EOF,
      versions[v].proto, 0, NULL));
  }
  SSL_CTX_flush_sessions(ctx_plain, 0);
  SSL_CTX_flush_sessions(ctx_verify, 0);
}
