/*
 * check_tls.c - in-process TLS tests of mod_ftps/tls.c, binding.c and
 * context.c, with keypairs from keypair.c over the fixtures of
 * tests/fixtures/mkcerts.sh.
 *
 * Each connection is a non-blocking socketpair: the server end is an
 * ftps_tls, the client end a plain OpenSSL client, and the test drives both
 * alternately until the handshake or transfer is done.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ftps/binding.h"
#include "ftps/config.h"
#include "ftps/context.h"
#include "ftps/keypair.h"
#include "ftps/tls.h"
#include "ftps/warmup.h"
#include "unit.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Steps before a handshake or transfer counts as stuck. */
#define STEP_LIMIT 100000

#define BIG_LEN (1024 * 1024)

/* One connection: our server end, an OpenSSL client end. */
struct conn {
  int sfd, cfd;
  struct ftps_tls *server;
  SSL *client;
  int tickets;               /* NewSessionTickets the client got */
  int server_errno;          /* when the server's handshake failed */
  struct ftps_error err;     /* ditto */
};

static struct ftps_keypair kp;   /* the server's keypair (selfsigned.pem) */
static SSL_CTX *sctx;            /* built from kp with default properties */

/* Keypairs and contexts */

/* load_keypair - read one or two fixture files into k */
static void load_keypair(struct ftps_keypair *k, const char *file1,
    const char *file2) {
  struct ftps_error err;

  ftps_keypair_init(k);
  ck_assert_msg(ftps_keypair_read_file(k, unit_fixture(file1), NULL, NULL,
    &err) == 0, "%s: %s", file1, err.msg);
  if (file2 != NULL) {
    ck_assert_msg(ftps_keypair_read_file(k, unit_fixture(file2), NULL, NULL,
      &err) == 0, "%s: %s", file2, err.msg);
  }
}

/* server_ctx - ftps_context_new from props (defaults with kp if NULL) */
static SSL_CTX *server_ctx(struct ftps_context_props *props) {
  struct ftps_context_props defaults;
  struct ftps_error err;
  SSL_CTX *ctx;

  if (props == NULL) {
    ftps_context_props_init(&defaults);
    defaults.keypairs[0] = &kp;
    defaults.nkeypairs = 1;
    props = &defaults;
  }

  ftps_error_clear(&err);
  ctx = ftps_context_new(props, NULL, NULL, &err);
  ck_assert_msg(ctx != NULL, "ftps_context_new: %s", err.msg);
  return ctx;
}

/* replace_server_ctx - make sctx the context built from props */
static void replace_server_ctx(struct ftps_context_props *props) {
  SSL_CTX_free(sctx);
  sctx = NULL;
  sctx = server_ctx(props);
}

/* count_tickets - client message callback: counts NewSessionTicket
 * messages.  (The client's session cache stays off: with
 * SSL_SESS_CACHE_CLIENT, OpenSSL makes a TLS 1.3 ticket single-use and drops
 * a TLS 1.2 one when it is renewed; see test_binding_tls13_single_use.) */
static void count_tickets(int write_p, int version, int content_type,
    const void *buf, size_t len, SSL *ssl, void *arg) {
  struct conn *c = SSL_get_app_data(ssl);

  (void) version;
  (void) arg;
  if (!write_p && c != NULL &&
      content_type == SSL3_RT_HANDSHAKE &&
      len > 0 &&
      ((const unsigned char *) buf)[0] == SSL3_MT_NEWSESSION_TICKET) {
    c->tickets++;
  }
}

/* client_ctx - a client context for versions min..max (0: any) */
static SSL_CTX *client_ctx(int min, int max) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

  ck_assert_ptr_nonnull(ctx);
  ck_assert_int_eq(SSL_CTX_set_min_proto_version(ctx, min), 1);
  ck_assert_int_eq(SSL_CTX_set_max_proto_version(ctx, max), 1);
  SSL_CTX_set_msg_callback(ctx, count_tickets);
  return ctx;
}

/* Connections */

static void set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL);

  ck_assert_int_ge(flags, 0);
  ck_assert_int_eq(fcntl(fd, F_SETFL, flags|O_NONBLOCK), 0);
}

/* conn_open - a socketpair with our server (kind, from ctx) on one end and
 * a client from cctx, resuming sess if not NULL, on the other */
static void conn_open(struct conn *c, SSL_CTX *ctx, enum ftps_tls_kind kind,
    SSL_CTX *cctx, SSL_SESSION *sess) {
  int fds[2];

  memset(c, 0, sizeof(*c));
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  c->sfd = fds[0];
  c->cfd = fds[1];
  set_nonblocking(c->sfd);
  set_nonblocking(c->cfd);

  c->server = ftps_tls_new(ctx, c->sfd, kind, &c->err);
  ck_assert_msg(c->server != NULL, "ftps_tls_new: %s", c->err.msg);

  c->client = SSL_new(cctx);
  ck_assert_ptr_nonnull(c->client);
  ck_assert_int_eq(SSL_set_fd(c->client, c->cfd), 1);
  SSL_set_connect_state(c->client);
  SSL_set_app_data(c->client, c);
  if (sess != NULL) {
    ck_assert_int_eq(SSL_set_session(c->client, sess), 1);
  }
}

/* conn_close - close both ends as real peers do, with close_notify where
 * the connection is still sound (OpenSSL forgets a session whose SSL is
 * freed without it), then free both and close both fds */
static void conn_close(struct conn *c) {
  int want = 0;

  if (c->client != NULL && SSL_is_init_finished(c->client)) {
    (void) SSL_shutdown(c->client);
  }
  if (c->server != NULL && SSL_is_init_finished(ftps_tls_ssl(c->server))) {
    (void) ftps_tls_shutdown(c->server, &want);
  }

  ftps_tls_free(c->server);
  c->server = NULL;
  SSL_free(c->client);
  c->client = NULL;
  if (c->sfd >= 0) {
    close(c->sfd);
    c->sfd = -1;
  }
  if (c->cfd >= 0) {
    close(c->cfd);
    c->cfd = -1;
  }
  ERR_clear_error();
}

/* client_would_block - 1 if the client's last call only has to wait */
static int client_would_block(SSL *ssl, int rc) {
  int e = SSL_get_error(ssl, rc);

  return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

/* conn_handshake - step both handshakes until both are done (0) or one
 * fails (-1; the server's errno and error in c) */
static int conn_handshake(struct conn *c) {
  int server_done = 0, client_done = 0, i;

  for (i = 0; i < STEP_LIMIT; i++) {
    if (!server_done) {
      int want = 0;

      errno = 0;
      if (ftps_tls_handshake(c->server, &want, &c->err) == 0) {
        server_done = 1;

      } else if (errno != EAGAIN) {
        c->server_errno = errno;
        ERR_clear_error();
        return -1;
      } else {
        ck_assert(want == FTPS_WANT_READ || want == FTPS_WANT_WRITE);
      }
    }

    if (!client_done) {
      int rc = SSL_do_handshake(c->client);

      if (rc == 1) {
        client_done = 1;

      } else if (!client_would_block(c->client, rc)) {
        ERR_clear_error();
        return -1;
      }
    }

    if (server_done && client_done) {
      return 0;
    }
  }

  ck_abort_msg("handshake stuck");
  return -1;
}

/* server_to_client - the server writes len bytes of buf in one
 * ftps_tls_write (repeated on EAGAIN) and flushes them (ftps_tls_flush,
 * repeated too), the client reads them into out; returns how many times
 * the write or the flush had to wait */
static int server_to_client(struct conn *c, const unsigned char *buf,
    size_t len, unsigned char *out) {
  size_t got = 0;
  int written = 0, flushed = 0, waits = 0, i;

  for (i = 0; i < STEP_LIMIT && (!flushed || got < len); i++) {
    int want = 0;

    if (!written) {
      ssize_t n = ftps_tls_write(c->server, buf, len, &want);

      if (n >= 0) {
        ck_assert_int_eq(n, len);
        written = 1;
      } else {
        ck_assert_msg(errno == EAGAIN, "ftps_tls_write: %s (%s)",
          strerror(errno), ftps_tls_error(c->server));
        ck_assert_int_eq(want, FTPS_WANT_WRITE);
        waits++;
      }

    } else if (!flushed) {
      if (ftps_tls_flush(c->server, &want) == 0) {
        flushed = 1;
      } else {
        ck_assert_msg(errno == EAGAIN, "ftps_tls_flush: %s (%s)",
          strerror(errno), ftps_tls_error(c->server));
        ck_assert_int_eq(want, FTPS_WANT_WRITE);
        waits++;
      }
    }

    if (got < len) {
      int n = SSL_read(c->client, out + got, (int) (len - got));

      if (n > 0) {
        got += n;
      } else {
        ck_assert_msg(client_would_block(c->client, n), "client SSL_read");
      }
    }
  }

  ck_assert_msg(flushed && got == len, "transfer stuck at %zu", got);
  return waits;
}

/* client_to_server - the client writes len bytes of buf, the server reads
 * them with ftps_tls_read into out */
static void client_to_server(struct conn *c, const unsigned char *buf,
    size_t len, unsigned char *out) {
  size_t got = 0;
  int written = 0, i;

  for (i = 0; i < STEP_LIMIT && (!written || got < len); i++) {
    if (!written) {
      int n = SSL_write(c->client, buf, (int) len);

      if (n > 0) {
        ck_assert_int_eq(n, len);
        written = 1;
      } else {
        ck_assert_msg(client_would_block(c->client, n), "client SSL_write");
      }
    }

    if (got < len) {
      int want = 0;
      ssize_t n = ftps_tls_read(c->server, out + got, len - got, &want);

      if (n > 0) {
        got += n;
      } else {
        ck_assert_msg(n < 0 && errno == EAGAIN, "ftps_tls_read: %zd %s (%s)",
          n, strerror(errno), ftps_tls_error(c->server));
        ck_assert_int_eq(want, FTPS_WANT_READ);
      }
    }
  }

  ck_assert_msg(written && got == len, "transfer stuck at %zu", got);
}

/* round_trip - "ping" to the client, "pong" back: afterwards the client
 * has processed whatever the server sent after its handshake (tickets) */
static void round_trip(struct conn *c) {
  unsigned char buf[4];

  server_to_client(c, (const unsigned char *) "ping", 4, buf);
  ck_assert(memcmp(buf, "ping", 4) == 0);
  client_to_server(c, (const unsigned char *) "pong", 4, buf);
  ck_assert(memcmp(buf, "pong", 4) == 0);
}

/* client_read_status - the client's SSL_read result and SSL_get_error,
 * after letting the server's last records arrive */
static int client_read_status(struct conn *c, int *ssl_err) {
  unsigned char buf[16];
  int rc = -1, i;

  for (i = 0; i < STEP_LIMIT; i++) {
    rc = SSL_read(c->client, buf, sizeof(buf));
    *ssl_err = SSL_get_error(c->client, rc);
    if (*ssl_err != SSL_ERROR_WANT_READ) {
      break;
    }
  }
  ERR_clear_error();
  return rc;
}

/* Fixture */

static void setup(void) {
  signal(SIGPIPE, SIG_IGN);
  load_keypair(&kp, "selfsigned.pem", NULL);
  ck_assert_int_eq(ftps_binding_renew(), 0);
  sctx = server_ctx(NULL);
}

static void teardown(void) {
  SSL_CTX_free(sctx);
  sctx = NULL;
  ftps_keypair_free(&kp);
  ERR_clear_error();
}

/* Versions tested one by one. */
static const int versions[] = { TLS1_2_VERSION, TLS1_3_VERSION };

static const char *version_name(int version) {
  return version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2";
}

/* handshake_with - 0 if a client from cctx completes a handshake with a
 * server from ctx, else -1 */
static int handshake_with(SSL_CTX *ctx, SSL_CTX *cctx) {
  struct conn c;
  int rc;

  conn_open(&c, ctx, FTPS_TLS_CTRL, cctx, NULL);
  rc = conn_handshake(&c);
  if (rc < 0) {
    ck_assert_int_eq(c.server_errno, EPROTO);
    ck_assert_str_ne(c.err.msg, "");
    ck_assert_str_ne(ftps_tls_error(c.server), "");
  }
  conn_close(&c);
  return rc;
}

/* context */

START_TEST(test_context_defaults) {
  struct ftps_context_props props;
  uint64_t opts;

  ftps_context_props_init(&props);
  ck_assert_uint_eq(props.protocols, FTPS_PROTO_DEFAULT);
  ck_assert_ptr_null(props.ciphers);
  ck_assert_ptr_null(props.ciphersuites);
  ck_assert_int_eq(props.nkeypairs, 0);
  ck_assert_ptr_null(props.ca_file);
  ck_assert_int_eq(props.server_preference, 1);
  ck_assert_int_eq(props.session_timeout, 0);

  ck_assert_int_eq(SSL_CTX_get_min_proto_version(sctx), TLS1_2_VERSION);
  ck_assert_int_eq(SSL_CTX_get_max_proto_version(sctx), TLS1_3_VERSION);
  opts = SSL_CTX_get_options(sctx);
  ck_assert(opts & SSL_OP_NO_RENEGOTIATION);
  ck_assert(opts & SSL_OP_NO_COMPRESSION);
  ck_assert(opts & SSL_OP_CIPHER_SERVER_PREFERENCE);
  ck_assert(!(opts & SSL_OP_IGNORE_UNEXPECTED_EOF));
  ck_assert(!(opts & SSL_OP_NO_TICKET));
  ck_assert_int_eq(SSL_CTX_get_session_cache_mode(sctx),
    SSL_SESS_CACHE_SERVER);
  ck_assert_int_eq(SSL_CTX_get_timeout(sctx), 15840);
}
END_TEST

START_TEST(test_context_props) {
  struct ftps_context_props props;
  SSL_CTX *ctx;

  /* A hole in the range is switched off. */
  ftps_context_props_init(&props);
  props.protocols = FTPS_PROTO_TLSV1|FTPS_PROTO_TLSV1_2;
  props.server_preference = 0;
  props.session_timeout = 60;
  ctx = server_ctx(&props);
  ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_VERSION);
  ck_assert_int_eq(SSL_CTX_get_max_proto_version(ctx), TLS1_2_VERSION);
  ck_assert(SSL_CTX_get_options(ctx) & SSL_OP_NO_TLSv1_1);
  ck_assert(!(SSL_CTX_get_options(ctx) & SSL_OP_CIPHER_SERVER_PREFERENCE));
  ck_assert_int_eq(SSL_CTX_get_timeout(ctx), 60);
  SSL_CTX_free(ctx);

  /* 0 means the default. */
  ftps_context_props_init(&props);
  props.protocols = 0;
  ctx = server_ctx(&props);
  ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
  ck_assert_int_eq(SSL_CTX_get_max_proto_version(ctx), TLS1_3_VERSION);
  SSL_CTX_free(ctx);
}
END_TEST

/* warmup: both versions, each with a resumption, and nothing left in the
 * server's session cache that a session could resume later */
START_TEST(test_warmup_default) {
  ck_assert_int_eq(ftps_warmup_run(NULL), 0);
  ck_assert_int_eq(ftps_warmup_run(sctx), 4);
  ck_assert_int_eq(SSL_CTX_sess_number(sctx), 0);
}
END_TEST

START_TEST(test_warmup_tls13_only) {
  struct ftps_context_props props;
  SSL_CTX *ctx;

  ftps_context_props_init(&props);
  props.keypairs[0] = &kp;
  props.nkeypairs = 1;
  props.protocols = FTPS_PROTO_TLSV1_3;
  ctx = server_ctx(&props);
  ck_assert_int_eq(ftps_warmup_run(ctx), 2);
  ck_assert_int_eq(SSL_CTX_sess_number(ctx), 0);
  ck_assert_int_eq((int) ERR_peek_error(), 0);
  SSL_CTX_free(ctx);
}
END_TEST

START_TEST(test_context_null_props) {
  errno = 0;
  ck_assert_ptr_null(ftps_context_new(NULL, NULL, NULL, NULL));
  ck_assert_int_eq(errno, EINVAL);
}
END_TEST

struct bad_props_case {
  const char *ciphers;
  const char *ciphersuites;
  const char *ca_file;
  int what;
};

static const struct bad_props_case bad_props_cases[] = {
  { "NO-SUCH-CIPHER", NULL, NULL, FTPS_CONTEXT_ERR_CIPHERS },
  { "", NULL, NULL, FTPS_CONTEXT_ERR_CIPHERS },
  { "eNULL:!eNULL", NULL, NULL, FTPS_CONTEXT_ERR_CIPHERS },
  { NULL, "TLS_NO_SUCH_SUITE", NULL, FTPS_CONTEXT_ERR_CIPHERSUITES },
  { NULL, NULL, "/nonexistent/ca.pem", FTPS_CONTEXT_ERR_CA_FILE },
  { NULL, NULL, "garbage.pem", FTPS_CONTEXT_ERR_CA_FILE },
};

START_TEST(test_context_bad_props) {
  const struct bad_props_case *c = &bad_props_cases[_i];
  struct ftps_context_props props;
  struct ftps_error err;
  char ca[4096];
  int what = -1, index = -1;

  ftps_context_props_init(&props);
  props.keypairs[0] = &kp;
  props.nkeypairs = 1;
  props.ciphers = c->ciphers;
  props.ciphersuites = c->ciphersuites;
  if (c->ca_file != NULL) {
    snprintf(ca, sizeof(ca), "%s", c->ca_file[0] == '/' ? c->ca_file :
      unit_fixture(c->ca_file));
    props.ca_file = ca;
  }

  ftps_error_clear(&err);
  errno = 0;
  ck_assert_ptr_null(ftps_context_new(&props, &what, &index, &err));
  ck_assert_int_eq(errno, EINVAL);
  ck_assert_msg(what == c->what, "row %d: what %d, expected %d", _i, what,
    c->what);
  ck_assert_str_ne(err.msg, "");
}
END_TEST

/* A key that does not match its certificate: the failing keypair's index. */
START_TEST(test_context_bad_keypair) {
  struct ftps_context_props props;
  struct ftps_keypair bad;
  struct ftps_error err;
  int what = -1, index = -1;

  load_keypair(&bad, "mismatch.pem", NULL);
  ftps_context_props_init(&props);
  props.keypairs[0] = &kp;
  props.keypairs[1] = &bad;
  props.nkeypairs = 2;

  errno = 0;
  ck_assert_ptr_null(ftps_context_new(&props, &what, &index, &err));
  ck_assert_int_eq(errno, EINVAL);
  ck_assert_int_eq(what, FTPS_CONTEXT_ERR_KEYPAIR);
  ck_assert_int_eq(index, 1);
  ftps_keypair_free(&bad);
}
END_TEST

START_TEST(test_handshake_version) {
  int version = versions[_i];
  SSL_CTX *cctx = client_ctx(version, version);
  struct conn c;

  conn_open(&c, sctx, FTPS_TLS_CTRL, cctx, NULL);
  ck_assert_str_eq(ftps_tls_cipher(c.server), "");
  ck_assert_int_eq(conn_handshake(&c), 0);
  ck_assert_str_eq(ftps_tls_protocol(c.server), version_name(version));
  ck_assert_str_eq(SSL_get_version(c.client), version_name(version));
  ck_assert_str_ne(ftps_tls_cipher(c.server), "");
  ck_assert_str_eq(ftps_tls_cipher(c.server),
    SSL_CIPHER_get_name(SSL_get_current_cipher(c.client)));
  if (version == TLS1_2_VERSION) {
    /* The default list: ECDHE or DHE, AEAD only. */
    ck_assert(strstr(ftps_tls_cipher(c.server), "HE-") != NULL);
    ck_assert(strstr(ftps_tls_cipher(c.server), "GCM") != NULL ||
      strstr(ftps_tls_cipher(c.server), "CHACHA20") != NULL);
  }
  ck_assert_int_eq(ftps_tls_resumed(c.server), 0);
  ck_assert_str_eq(ftps_tls_error(c.server), "");
  ck_assert_int_eq(ftps_tls_fd(c.server), c.sfd);
  ck_assert_ptr_nonnull(ftps_tls_ssl(c.server));
  conn_close(&c);
  SSL_CTX_free(cctx);
}
END_TEST

START_TEST(test_handshake_tls11_refused) {
  SSL_CTX *cctx = client_ctx(TLS1_VERSION, TLS1_1_VERSION);

  SSL_CTX_set_security_level(cctx, 0);
  ck_assert_int_eq(handshake_with(sctx, cctx), -1);
  SSL_CTX_free(cctx);
}
END_TEST

/* The RSA keypair, so that plain-RSA suites would be possible at all. */
START_TEST(test_handshake_weak_cipher_refused) {
  struct ftps_context_props props;
  struct ftps_keypair rsa;
  SSL_CTX *cctx = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
  SSL_CTX *weak;

  ck_assert_int_eq(SSL_CTX_set_cipher_list(cctx, "AES128-SHA"), 1);
  load_keypair(&rsa, "rsa.crt", "rsa.key");
  ftps_context_props_init(&props);
  props.keypairs[0] = &rsa;
  props.nkeypairs = 1;
  replace_server_ctx(&props);
  ck_assert_int_eq(handshake_with(sctx, cctx), -1);

  /* The same client succeeds when the server allows the suite: the
   * refusal above is the default list's doing. */
  props.ciphers = "AES128-SHA";
  weak = server_ctx(&props);
  ck_assert_int_eq(handshake_with(weak, cctx), 0);

  SSL_CTX_free(weak);
  SSL_CTX_free(cctx);
  ftps_keypair_free(&rsa);
}
END_TEST

START_TEST(test_handshake_tls12_only_server) {
  struct ftps_context_props props;
  SSL_CTX *cctx13 = client_ctx(TLS1_3_VERSION, TLS1_3_VERSION);
  SSL_CTX *cctx12 = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);

  ftps_context_props_init(&props);
  props.protocols = FTPS_PROTO_TLSV1_2;
  props.keypairs[0] = &kp;
  props.nkeypairs = 1;
  replace_server_ctx(&props);
  ck_assert_int_eq(handshake_with(sctx, cctx13), -1);
  ck_assert_int_eq(handshake_with(sctx, cctx12), 0);

  SSL_CTX_free(cctx13);
  SSL_CTX_free(cctx12);
}
END_TEST

/* peer_chain_len - how many certificates a client receives from ctx */
static int peer_chain_len(SSL_CTX *ctx) {
  SSL_CTX *cctx = client_ctx(0, 0);
  STACK_OF(X509) *chain;
  struct conn c;
  int n;

  conn_open(&c, ctx, FTPS_TLS_CTRL, cctx, NULL);
  ck_assert_int_eq(conn_handshake(&c), 0);
  chain = SSL_get_peer_cert_chain(c.client);
  ck_assert_ptr_nonnull(chain);
  n = sk_X509_num(chain);
  conn_close(&c);
  SSL_CTX_free(cctx);
  return n;
}

START_TEST(test_handshake_full_chain) {
  struct ftps_context_props props;
  struct ftps_keypair full;
  SSL_CTX *ctx;

  ck_assert_int_eq(peer_chain_len(sctx), 1);

  load_keypair(&full, "fullchain.pem", "ec.key");
  ck_assert_int_eq(sk_X509_num(full.chain), 1);
  ftps_context_props_init(&props);
  props.keypairs[0] = &full;
  props.nkeypairs = 1;
  ctx = server_ctx(&props);
  ck_assert_int_eq(peer_chain_len(ctx), 2);
  SSL_CTX_free(ctx);
  ftps_keypair_free(&full);
}
END_TEST

/* tls: read, write, close */

/* ftps_tls_new_bio: a connection over a BIO pair instead of a socket, as
 * the fuzzing harness has it over memory; it owns the BIO. */
START_TEST(test_tls_new_bio) {
  SSL_CTX *cctx = client_ctx(0, 0);
  struct ftps_error err;
  struct ftps_tls *server;
  BIO *sbio = NULL, *cbio = NULL;
  SSL *client;
  char buf[8];
  int want = 0, i, sdone = 0, cdone = 0;

  errno = 0;
  ck_assert_ptr_null(ftps_tls_new_bio(NULL, BIO_new(BIO_s_mem()),
    FTPS_TLS_CTRL, &err));
  ck_assert_int_eq(errno, EINVAL);
  errno = 0;
  ck_assert_ptr_null(ftps_tls_new_bio(sctx, NULL, FTPS_TLS_CTRL, &err));
  ck_assert_int_eq(errno, ENOMEM);

  ck_assert_int_eq(BIO_new_bio_pair(&sbio, 0, &cbio, 0), 1);
  server = ftps_tls_new_bio(sctx, sbio, FTPS_TLS_DATA, &err);
  ck_assert_ptr_nonnull(server);
  ck_assert_int_eq(ftps_tls_fd(server), -1);
  client = SSL_new(cctx);
  SSL_set_bio(client, cbio, cbio);
  SSL_set_connect_state(client);

  for (i = 0; i < STEP_LIMIT && !(sdone && cdone); i++) {
    if (!cdone && SSL_do_handshake(client) == 1) {
      cdone = 1;
    }
    if (!sdone && ftps_tls_handshake(server, &want, &err) == 0) {
      sdone = 1;
    }
  }
  ck_assert_msg(sdone && cdone, "handshake over the BIO pair: %s",
    ftps_tls_error(server));
  ck_assert_int_eq(SSL_write(client, "PBSZ 0", 6), 6);
  ck_assert_int_eq(ftps_tls_read(server, buf, sizeof(buf), &want), 6);
  ck_assert(memcmp(buf, "PBSZ 0", 6) == 0);

  SSL_free(client);
  ftps_tls_free(server);
  SSL_CTX_free(cctx);
}
END_TEST

START_TEST(test_tls_new_bad_args) {
  struct ftps_error err;
  unsigned char buf[4];
  int want = 0;

  errno = 0;
  ck_assert_ptr_null(ftps_tls_new(NULL, 0, FTPS_TLS_CTRL, &err));
  ck_assert_int_eq(errno, EINVAL);
  errno = 0;
  ck_assert_ptr_null(ftps_tls_new(sctx, -1, FTPS_TLS_DATA, &err));
  ck_assert_int_eq(errno, EINVAL);

  errno = 0;
  ck_assert_int_eq(ftps_tls_handshake(NULL, &want, &err), -1);
  ck_assert_int_eq(errno, EINVAL);
  errno = 0;
  ck_assert_int_eq(ftps_tls_read(NULL, buf, sizeof(buf), &want), -1);
  ck_assert_int_eq(errno, EINVAL);
  errno = 0;
  ck_assert_int_eq(ftps_tls_write(NULL, buf, sizeof(buf), &want), -1);
  ck_assert_int_eq(errno, EINVAL);
  errno = 0;
  ck_assert_int_eq(ftps_tls_shutdown(NULL, &want), -1);
  ck_assert_int_eq(errno, EINVAL);

  ck_assert_int_eq(ftps_tls_pending(NULL), 0);
  ck_assert_str_eq(ftps_tls_error(NULL), "");
  ck_assert_int_eq(ftps_tls_fd(NULL), -1);
  ck_assert_ptr_null(ftps_tls_ssl(NULL));
  ck_assert_int_eq(ftps_tls_resumed(NULL), 0);
  ck_assert_str_eq(ftps_tls_protocol(NULL), "");
  ck_assert_str_eq(ftps_tls_cipher(NULL), "");
  ftps_tls_free(NULL);
}
END_TEST

/* open_version - a completed connection of kind at version */
static SSL_CTX *open_version(struct conn *c, enum ftps_tls_kind kind,
    int version) {
  SSL_CTX *cctx = client_ctx(version, version);

  conn_open(c, sctx, kind, cctx, NULL);
  ck_assert_int_eq(conn_handshake(c), 0);
  return cctx;
}

/* What the glue puts in session notes and the environment (the
 * certificates' variables: check_certvars.c). */
START_TEST(test_tls_info) {
  SSL_CTX *cctx = client_ctx(TLS1_2_VERSION, TLS1_3_VERSION);
  struct conn c;

  ck_assert_str_eq(ftps_tls_server_name(NULL), "");

  conn_open(&c, sctx, FTPS_TLS_CTRL, cctx, NULL);
  ck_assert_int_eq(SSL_set_tlsext_host_name(c.client, "ftp.example"), 1);
  ck_assert_msg(conn_handshake(&c) == 0, "handshake: %s", c.err.msg);

  ck_assert_str_eq(ftps_tls_server_name(c.server), "ftp.example");
  ck_assert_str_eq(ftps_tls_protocol(c.server), "TLSv1.3");
  ck_assert_str_ne(ftps_tls_cipher(c.server), "");
  ck_assert_ptr_nonnull(strstr(ftps_tls_library(), "OpenSSL"));

  conn_close(&c);
  SSL_CTX_free(cctx);
}
END_TEST

START_TEST(test_tls_round_trip) {
  struct conn c;
  SSL_CTX *cctx = open_version(&c, FTPS_TLS_DATA, versions[_i]);
  unsigned char buf[64];
  int want = 0;

  round_trip(&c);

  /* Nothing more to read: EAGAIN, wanting to read. */
  errno = 0;
  ck_assert_int_eq(ftps_tls_read(c.server, buf, sizeof(buf), &want), -1);
  ck_assert_int_eq(errno, EAGAIN);
  ck_assert_int_eq(want, FTPS_WANT_READ);

  /* A zero-length write writes nothing. */
  ck_assert_int_eq(ftps_tls_write(c.server, buf, 0, &want), 0);

  /* Two writes, one read: what the read leaves is pending. */
  ck_assert_int_eq(SSL_write(c.client, "hello, ", 7), 7);
  ck_assert_int_eq(SSL_write(c.client, "world", 5), 5);
  ck_assert_int_eq(ftps_tls_read(c.server, buf, 3, &want), 3);
  ck_assert(memcmp(buf, "hel", 3) == 0);
  ck_assert_int_eq(ftps_tls_pending(c.server), 4);
  ck_assert_int_eq(ftps_tls_read(c.server, buf, sizeof(buf), &want), 4);
  ck_assert(memcmp(buf, "lo, ", 4) == 0);
  ck_assert_int_eq(ftps_tls_read(c.server, buf, sizeof(buf), &want), 5);
  ck_assert(memcmp(buf, "world", 5) == 0);

  conn_close(&c);
  SSL_CTX_free(cctx);
}
END_TEST

/* fill - a recognisable pattern */
static void fill(unsigned char *buf, size_t len, unsigned int seed) {
  size_t i;

  for (i = 0; i < len; i++) {
    buf[i] = (unsigned char) ((i * 131U + seed) ^ (i >> 10));
  }
}

START_TEST(test_tls_large_write) {
  struct conn c;
  SSL_CTX *cctx = open_version(&c, FTPS_TLS_DATA, versions[_i]);
  unsigned char *src = malloc(BIG_LEN), *dst = malloc(BIG_LEN);

  ck_assert_ptr_nonnull(src);
  ck_assert_ptr_nonnull(dst);

  fill(src, BIG_LEN, 7);
  memset(dst, 0, BIG_LEN);
  /* 1 MiB cannot fit in the socket buffers: the write must wait. */
  ck_assert_int_gt(server_to_client(&c, src, BIG_LEN, dst), 0);
  ck_assert(memcmp(src, dst, BIG_LEN) == 0);

  fill(src, BIG_LEN, 99);
  memset(dst, 0, BIG_LEN);
  client_to_server(&c, src, BIG_LEN, dst);
  ck_assert(memcmp(src, dst, BIG_LEN) == 0);

  free(src);
  free(dst);
  conn_close(&c);
  SSL_CTX_free(cctx);
}
END_TEST

START_TEST(test_tls_shutdown) {
  struct conn c;
  SSL_CTX *cctx = open_version(&c, FTPS_TLS_DATA, versions[_i]);
  int want = 0, ssl_err = 0;

  round_trip(&c);
  ck_assert_int_eq(ftps_tls_shutdown(c.server, &want), 0);
  ck_assert_int_eq(client_read_status(&c, &ssl_err), 0);
  ck_assert_int_eq(ssl_err, SSL_ERROR_ZERO_RETURN);

  /* Sent once: a second call is a no-op. */
  ck_assert_int_eq(ftps_tls_shutdown(c.server, &want), 0);
  conn_close(&c);
  SSL_CTX_free(cctx);
}
END_TEST

START_TEST(test_tls_client_close_notify) {
  struct conn c;
  SSL_CTX *cctx = open_version(&c, FTPS_TLS_DATA, versions[_i]);
  unsigned char buf[16];
  int want = 0;

  round_trip(&c);
  ck_assert_int_ge(SSL_shutdown(c.client), 0);
  errno = 0;
  ck_assert_int_eq(ftps_tls_read(c.server, buf, sizeof(buf), &want), 0);

  /* Our close_notify in answer is still allowed. */
  ck_assert_int_eq(ftps_tls_shutdown(c.server, &want), 0);
  conn_close(&c);
  SSL_CTX_free(cctx);
}
END_TEST

/* Records read ahead: the data and the close_notify after it arrive in
 * one read(2).  Once a read has taken both, the socket holds nothing more,
 * yet the next read answers at once (0): the NetIO poll must say so, or
 * the core waits on an idle socket until its timeout. */
START_TEST(test_tls_read_ahead_close_notify) {
  struct conn c;
  SSL_CTX *cctx = open_version(&c, FTPS_TLS_DATA, versions[_i]);
  unsigned char buf[64];
  int want = 0;

  round_trip(&c);
  ck_assert_int_eq(ftps_tls_read_ready(c.server), 0);
  ck_assert_int_eq(SSL_write(c.client, "last bytes", 10), 10);
  ck_assert_int_ge(SSL_shutdown(c.client), 0);

  ck_assert_int_eq(ftps_tls_read(c.server, buf, sizeof(buf), &want), 10);
  /* the close_notify waits inside, read ahead */
  ck_assert_int_eq(ftps_tls_read_ready(c.server), 1);
  ck_assert_int_eq(ftps_tls_read(c.server, buf, sizeof(buf), &want), 0);
  /* consumed now, and still a read would answer at once */
  ck_assert_int_eq(ftps_tls_read_ready(c.server), 1);
  ck_assert_int_eq(ftps_tls_read(c.server, buf, sizeof(buf), &want), 0);
  conn_close(&c);
  SSL_CTX_free(cctx);
}
END_TEST

START_TEST(test_tls_truncation) {
  struct conn c;
  SSL_CTX *cctx = open_version(&c, FTPS_TLS_DATA, versions[_i]);
  unsigned char buf[16];
  int want = 0;

  round_trip(&c);
  ck_assert_int_eq(SSL_write(c.client, "partial", 7), 7);
  close(c.cfd);
  c.cfd = -1;

  /* What arrived before the end is delivered ... */
  ck_assert_int_eq(ftps_tls_read(c.server, buf, sizeof(buf), &want), 7);
  ck_assert(memcmp(buf, "partial", 7) == 0);

  /* ... but the end without close_notify is not a clean EOF. */
  errno = 0;
  ck_assert_int_eq(ftps_tls_read(c.server, buf, sizeof(buf), &want), -1);
  ck_assert_int_eq(errno, ECONNRESET);
  ck_assert_str_ne(ftps_tls_error(c.server), "");

  /* An aborted stream must not be closed as if complete. */
  errno = 0;
  ck_assert_int_eq(ftps_tls_shutdown(c.server, &want), -1);
  ck_assert_int_ne(errno, EAGAIN);
  conn_close(&c);
  SSL_CTX_free(cctx);
}
END_TEST

START_TEST(test_tls_write_after_peer_gone) {
  struct conn c;
  SSL_CTX *cctx = open_version(&c, FTPS_TLS_DATA, versions[_i]);
  int want = 0;

  round_trip(&c);
  close(c.cfd);
  c.cfd = -1;

  /* A data connection holds the record (ftps/coalesce.h): the flush
   * meets the closed socket. */
  errno = 0;
  ck_assert_int_eq(ftps_tls_write(c.server, "data", 4, &want), 4);
  ck_assert_int_eq(ftps_tls_flush(c.server, &want), -1);
  ck_assert_int_eq(errno, EPIPE);
  ck_assert_str_ne(ftps_tls_error(c.server), "");
  ck_assert_int_eq(ftps_tls_shutdown(c.server, &want), -1);
  conn_close(&c);
  SSL_CTX_free(cctx);
}
END_TEST

/* binding */

struct mode {
  const char *name;
  int version;
  long client_opts;
};

static const struct mode modes[] = {
  { "TLSv1.3 tickets", TLS1_3_VERSION, 0 },
  { "TLSv1.2 tickets", TLS1_2_VERSION, 0 },
  { "TLSv1.2 session IDs", TLS1_2_VERSION, SSL_OP_NO_TICKET },
};

/* mode_client_ctx - a client context for one mode */
static SSL_CTX *mode_client_ctx(const struct mode *m) {
  SSL_CTX *cctx = client_ctx(m->version, m->version);

  SSL_CTX_set_options(cctx, m->client_opts);
  return cctx;
}

/* ctrl_connect - a control connection (resuming sess if not NULL) after
 * its handshake and one round trip; returns the session the client now
 * holds, for its data connections */
static SSL_SESSION *ctrl_connect(struct conn *c, SSL_CTX *cctx,
    SSL_SESSION *sess) {
  SSL_SESSION *held;

  conn_open(c, sctx, FTPS_TLS_CTRL, cctx, sess);
  ck_assert_msg(conn_handshake(c) == 0, "control handshake: %s", c->err.msg);
  round_trip(c);
  held = SSL_get1_session(c->client);
  ck_assert_ptr_nonnull(held);
  ck_assert_int_eq(SSL_SESSION_is_resumable(held), 1);
  return held;
}

/* data_verify - a data connection resuming sess (if not NULL): handshake,
 * one round trip; returns ftps_binding_verify's result, errno kept, and
 * ftps_tls_resumed in *resumed */
static int data_verify(SSL_CTX *cctx, SSL_SESSION *sess, int *resumed,
    int *tickets, struct ftps_error *err) {
  struct conn c;
  int rc, xerrno;

  conn_open(&c, sctx, FTPS_TLS_DATA, cctx, sess);
  ck_assert_msg(conn_handshake(&c) == 0, "data handshake: %s", c.err.msg);
  round_trip(&c);
  *resumed = ftps_tls_resumed(c.server);
  ck_assert_int_eq(SSL_session_reused(c.client), *resumed);
  if (tickets != NULL) {
    *tickets = c.tickets;
  }

  ftps_error_clear(err);
  errno = 0;
  rc = ftps_binding_verify(ftps_tls_ssl(c.server), err);
  xerrno = errno;
  conn_close(&c);
  errno = xerrno;
  return rc;
}

/* assert_data_resumes - count data connections resuming sess all pass */
static void assert_data_resumes(SSL_CTX *cctx, SSL_SESSION *sess, int count,
    const char *what) {
  struct ftps_error err;
  int n, resumed = 0;

  for (n = 0; n < count; n++) {
    ck_assert_msg(data_verify(cctx, sess, &resumed, NULL, &err) == 0,
      "%s, data connection %d: %s", what, n, err.msg);
    ck_assert_int_eq(resumed, 1);
  }
}

/* The data connection resumes this FTP session's control session. */
START_TEST(test_binding_resume) {
  const struct mode *m = &modes[_i];
  SSL_CTX *cctx = mode_client_ctx(m);
  struct conn ctrl;
  SSL_SESSION *sess;

  sess = ctrl_connect(&ctrl, cctx, NULL);
  if (m->client_opts & SSL_OP_NO_TICKET) {
    ck_assert_int_eq(SSL_SESSION_has_ticket(sess), 0);
  } else {
    ck_assert_int_eq(SSL_SESSION_has_ticket(sess), 1);
  }

  /* An FTP session opens many data connections with the same session. */
  assert_data_resumes(cctx, sess, 3, m->name);

  SSL_SESSION_free(sess);
  conn_close(&ctrl);
  SSL_CTX_free(cctx);
}
END_TEST

/* A data connection with a full handshake proves nothing. */
START_TEST(test_binding_no_session) {
  const struct mode *m = &modes[_i];
  SSL_CTX *cctx = mode_client_ctx(m);
  struct ftps_error err;
  struct conn ctrl;
  SSL_SESSION *sess;
  int resumed = -1;

  sess = ctrl_connect(&ctrl, cctx, NULL);
  ck_assert_int_eq(data_verify(cctx, NULL, &resumed, NULL, &err), -1);
  ck_assert_int_eq(errno, EPERM);
  ck_assert_int_eq(resumed, 0);
  ck_assert_msg(strstr(err.msg, "did not resume") != NULL, "%s", err.msg);

  SSL_SESSION_free(sess);
  conn_close(&ctrl);
  SSL_CTX_free(cctx);
}
END_TEST

/* Another FTP session's data connection (another process: another token)
 * resumes A's session: the TLS resumption works, the binding refuses. */
START_TEST(test_binding_other_session) {
  const struct mode *m = &modes[_i];
  SSL_CTX *cctx = mode_client_ctx(m);
  struct ftps_error err;
  struct conn ctrl;
  SSL_SESSION *sess_a;
  int resumed = 0;

  sess_a = ctrl_connect(&ctrl, cctx, NULL);
  ck_assert_int_eq(data_verify(cctx, sess_a, &resumed, NULL, &err), 0);

  ck_assert_int_eq(ftps_binding_renew(), 0);     /* FTP session B */
  ck_assert_int_eq(data_verify(cctx, sess_a, &resumed, NULL, &err), -1);
  ck_assert_int_eq(errno, EPERM);
  ck_assert_int_eq(resumed, 1);
  ck_assert_msg(strstr(err.msg, "another FTP session") != NULL, "%s",
    err.msg);

  SSL_SESSION_free(sess_a);
  conn_close(&ctrl);
  SSL_CTX_free(cctx);
}
END_TEST

/* A session authenticated under one context (vhost) is never resumed
 * under another that the connection switched to before its handshake (as
 * SNI does), although the ticket decrypts (same initial context) or the
 * session is in the same cache: a full handshake, or a refusal. */
START_TEST(test_binding_other_vhost) {
  const struct mode *m = &modes[_i];
  SSL_CTX *cctx = mode_client_ctx(m), *other = server_ctx(NULL);
  struct ftps_error err;
  struct conn ctrl, c;
  SSL_SESSION *sess;
  int rc;

  sess = ctrl_connect(&ctrl, cctx, NULL);

  /* A data connection under the other vhost: refused either way. */
  conn_open(&c, sctx, FTPS_TLS_DATA, cctx, sess);
  ck_assert_ptr_nonnull(SSL_set_SSL_CTX(ftps_tls_ssl(c.server), other));
  rc = conn_handshake(&c);
  if (rc == 0) {
    round_trip(&c);
    ftps_error_clear(&err);
    ck_assert_int_eq(ftps_binding_verify(ftps_tls_ssl(c.server), &err), -1);
    ck_assert_int_eq(errno, EPERM);
  }
  conn_close(&c);

  /* A control connection under the other vhost: never resumed. */
  conn_open(&c, sctx, FTPS_TLS_CTRL, cctx, sess);
  ck_assert_ptr_nonnull(SSL_set_SSL_CTX(ftps_tls_ssl(c.server), other));
  if (conn_handshake(&c) == 0) {
    ck_assert_msg(!ftps_tls_resumed(c.server), "%s: resumed under another "
      "vhost", m->name);
  }
  conn_close(&c);

  /* Under its own vhost it still resumes. */
  assert_data_resumes(cctx, sess, 1, m->name);

  SSL_SESSION_free(sess);
  conn_close(&ctrl);
  SSL_CTX_free(other);
  SSL_CTX_free(cctx);
}
END_TEST

/* Data connections issue no tickets (proftpd#959), whether they resume or
 * not; control connections do, unless the client refuses TLS 1.2 tickets. */
START_TEST(test_binding_data_issues_no_tickets) {
  const struct mode *m = &modes[_i];
  SSL_CTX *cctx = mode_client_ctx(m);
  struct ftps_error err;
  struct conn ctrl;
  SSL_SESSION *sess;
  int resumed = 0, tickets = -1;

  sess = ctrl_connect(&ctrl, cctx, NULL);
  if (m->client_opts & SSL_OP_NO_TICKET) {
    ck_assert_int_eq(ctrl.tickets, 0);
  } else {
    ck_assert_int_ge(ctrl.tickets, 1);
  }

  ck_assert_int_eq(data_verify(cctx, sess, &resumed, &tickets, &err), 0);
  ck_assert_int_eq(resumed, 1);
  ck_assert_int_eq(tickets, 0);

  /* Not even after a full handshake. */
  ck_assert_int_eq(data_verify(cctx, NULL, &resumed, &tickets, &err), -1);
  ck_assert_int_eq(resumed, 0);
  ck_assert_int_eq(tickets, 0);

  SSL_SESSION_free(sess);
  conn_close(&ctrl);
  SSL_CTX_free(cctx);
}
END_TEST

/* Tickets a client kept (client cache on, as curl has it). */
static SSL_SESSION *kept[8];
static int nkept;

static int keep_session(SSL *ssl, SSL_SESSION *sess) {
  (void) ssl;
  if (nkept < (int) NELEMS(kept)) {
    kept[nkept++] = sess;
    return 1;
  }
  return 0;
}

/* With SSL_SESS_CACHE_CLIENT, an OpenSSL client uses a TLS 1.3 ticket once.
 * Data connections issue none, so such a client has exactly the control
 * connection's ticket (SSL_CTX_set_num_tickets: 1) for its data
 * connections; a spent one means a full handshake, which the binding
 * refuses. */
START_TEST(test_binding_tls13_single_use) {
  SSL_CTX *cctx = client_ctx(TLS1_3_VERSION, TLS1_3_VERSION);
  struct ftps_error err;
  struct conn ctrl;
  SSL_SESSION *sess;
  int resumed = 0, i;

  SSL_CTX_set_session_cache_mode(cctx,
    SSL_SESS_CACHE_CLIENT|SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(cctx, keep_session);
  nkept = 0;

  sess = ctrl_connect(&ctrl, cctx, NULL);
  ck_assert_int_eq(nkept, (int) SSL_CTX_get_num_tickets(sctx));
  ck_assert_int_eq(nkept, 1);

  for (i = 0; i < nkept; i++) {
    ck_assert_int_eq(SSL_SESSION_is_resumable(kept[i]), 1);
    ck_assert_msg(data_verify(cctx, kept[i], &resumed, NULL, &err) == 0,
      "ticket %d: %s", i, err.msg);
    ck_assert_int_eq(resumed, 1);
    ck_assert_int_eq(SSL_SESSION_is_resumable(kept[i]), 0);
  }

  /* No data connection added a ticket. */
  ck_assert_int_eq(nkept, 1);

  ck_assert_int_eq(data_verify(cctx, kept[0], &resumed, NULL, &err), -1);
  ck_assert_int_eq(errno, EPERM);
  ck_assert_int_eq(resumed, 0);

  for (i = 0; i < nkept; i++) {
    SSL_SESSION_free(kept[i]);
  }
  nkept = 0;
  SSL_SESSION_free(sess);
  conn_close(&ctrl);
  SSL_CTX_free(cctx);
}
END_TEST

/* What keeps such a client going: a fresh ticket on the control connection
 * before each transfer (ftps_tls_new_ticket), which the client reads with
 * the 150 reply before its data handshake. */
START_TEST(test_binding_tls13_ticket_refresh) {
  SSL_CTX *cctx = client_ctx(TLS1_3_VERSION, TLS1_3_VERSION);
  struct ftps_error err;
  struct conn ctrl;
  SSL_SESSION *sess;
  int resumed = 0, i;

  SSL_CTX_set_session_cache_mode(cctx,
    SSL_SESS_CACHE_CLIENT|SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(cctx, keep_session);
  nkept = 0;

  sess = ctrl_connect(&ctrl, cctx, NULL);
  ck_assert_int_eq(nkept, 1);
  ck_assert_int_eq(data_verify(cctx, kept[0], &resumed, NULL, &err), 0);

  /* That one spent: each refresh hands over one more usable ticket. */
  for (i = 1; i < 6; i++) {
    ck_assert_int_eq(ftps_tls_new_ticket(ctrl.server), 0);
    round_trip(&ctrl);
    ck_assert_int_eq(nkept, i + 1);
    ck_assert_msg(data_verify(cctx, kept[i], &resumed, NULL, &err) == 0,
      "refreshed ticket %d: %s", i, err.msg);
    ck_assert_int_eq(resumed, 1);
  }

  for (i = 0; i < nkept; i++) {
    SSL_SESSION_free(kept[i]);
  }
  nkept = 0;
  SSL_SESSION_free(sess);
  conn_close(&ctrl);
  SSL_CTX_free(cctx);
}
END_TEST

/* Under TLS 1.2 there is nothing to refresh: tickets and IDs are reused. */
START_TEST(test_binding_tls12_refresh_noop) {
  SSL_CTX *cctx = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
  struct conn ctrl;
  SSL_SESSION *sess;

  sess = ctrl_connect(&ctrl, cctx, NULL);
  ck_assert_int_eq(ftps_tls_new_ticket(ctrl.server), 0);
  ck_assert_int_eq(ftps_tls_new_ticket(NULL), -1);

  SSL_SESSION_free(sess);
  conn_close(&ctrl);
  SSL_CTX_free(cctx);
}
END_TEST

/* A data connection the client aborts (no close_notify) must not cost the
 * FTP session its TLS session: OpenSSL evicts the session of an SSL freed
 * without a shutdown, and session-ID clients would then be refused on every
 * later data connection. */
START_TEST(test_binding_survives_aborted_data) {
  const struct mode *m = &modes[_i];
  SSL_CTX *cctx = mode_client_ctx(m);
  unsigned char buf[16];
  struct conn ctrl, data;
  SSL_SESSION *sess;
  int want = 0;

  sess = ctrl_connect(&ctrl, cctx, NULL);

  conn_open(&data, sctx, FTPS_TLS_DATA, cctx, sess);
  ck_assert_int_eq(conn_handshake(&data), 0);
  round_trip(&data);
  close(data.cfd);
  data.cfd = -1;
  errno = 0;
  ck_assert_int_eq(ftps_tls_read(data.server, buf, sizeof(buf), &want), -1);
  ck_assert_int_eq(errno, ECONNRESET);
  ftps_tls_free(data.server);
  data.server = NULL;
  /* The client's own OpenSSL would forget the session too; real clients
   * (Python, curl) keep theirs, so keep it here: only the server side is
   * under test. */
  SSL_set_shutdown(data.client, SSL_SENT_SHUTDOWN|SSL_RECEIVED_SHUTDOWN);
  SSL_free(data.client);
  data.client = NULL;
  close(data.sfd);
  data.sfd = -1;

  assert_data_resumes(cctx, sess, 2, m->name);

  SSL_SESSION_free(sess);
  conn_close(&ctrl);
  SSL_CTX_free(cctx);
}
END_TEST

/* FTP session B's control connection resumes a session of A: the client
 * must come away with a session of B for B's data connections. */
START_TEST(test_binding_ctrl_renews) {
  const struct mode *m = &modes[_i];
  SSL_CTX *cctx = mode_client_ctx(m);
  struct ftps_error err;
  struct conn ctrl_a, ctrl_b;
  SSL_SESSION *sess_a, *sess_b;
  int resumed = 0;

  sess_a = ctrl_connect(&ctrl_a, cctx, NULL);
  conn_close(&ctrl_a);

  ck_assert_int_eq(ftps_binding_renew(), 0);     /* FTP session B */
  sess_b = ctrl_connect(&ctrl_b, cctx, sess_a);
  ck_assert_int_eq(ftps_tls_resumed(ctrl_b.server), 1);

  ck_assert_msg(data_verify(cctx, sess_b, &resumed, NULL, &err) == 0,
    "%s: %s", m->name, err.msg);
  ck_assert_int_eq(resumed, 1);

  if (!(m->client_opts & SSL_OP_NO_TICKET)) {
    const unsigned char *tick_a, *tick_b;
    size_t len_a, len_b;

    /* A new ticket, and A's old one is still refused in B. */
    SSL_SESSION_get0_ticket(sess_a, &tick_a, &len_a);
    SSL_SESSION_get0_ticket(sess_b, &tick_b, &len_b);
    ck_assert(len_b > 0);
    ck_assert(len_a != len_b || memcmp(tick_a, tick_b, len_a) != 0);
    ck_assert_int_eq(data_verify(cctx, sess_a, &resumed, NULL, &err), -1);
    ck_assert_int_eq(errno, EPERM);
    ck_assert_int_eq(resumed, 1);
  }

  SSL_SESSION_free(sess_a);
  SSL_SESSION_free(sess_b);
  conn_close(&ctrl_b);
  SSL_CTX_free(cctx);
}
END_TEST

/* A session of one TLS version offered to a data connection of another:
 * no resumption, so no binding. */
START_TEST(test_binding_version_change) {
  SSL_CTX *cctx12 = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
  SSL_CTX *cctx13 = client_ctx(TLS1_3_VERSION, TLS1_3_VERSION);
  struct ftps_error err;
  struct conn ctrl;
  SSL_SESSION *sess;
  int resumed = -1;

  sess = ctrl_connect(&ctrl, cctx12, NULL);
  conn_close(&ctrl);
  ck_assert_int_eq(data_verify(cctx13, sess, &resumed, NULL, &err), -1);
  ck_assert_int_eq(errno, EPERM);
  ck_assert_int_eq(resumed, 0);
  SSL_SESSION_free(sess);

  sess = ctrl_connect(&ctrl, cctx13, NULL);
  conn_close(&ctrl);
  ck_assert_int_eq(data_verify(cctx12, sess, &resumed, NULL, &err), -1);
  ck_assert_int_eq(errno, EPERM);
  ck_assert_int_eq(resumed, 0);
  SSL_SESSION_free(sess);

  SSL_CTX_free(cctx12);
  SSL_CTX_free(cctx13);
}
END_TEST

START_TEST(test_binding_bad_args) {
  struct ftps_error err;

  errno = 0;
  ck_assert_int_eq(ftps_binding_install(NULL, &err), -1);
  ck_assert_int_eq(errno, EINVAL);
  errno = 0;
  ck_assert_int_eq(ftps_binding_mark_ctrl(NULL), -1);
  ck_assert_int_eq(errno, EINVAL);
  errno = 0;
  ck_assert_int_eq(ftps_binding_mark_data(NULL), -1);
  ck_assert_int_eq(errno, EINVAL);
  errno = 0;
  ck_assert_int_eq(ftps_binding_verify(NULL, &err), -1);
  ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* drain: our end is the TLS client (SSCN ON), the peer an OpenSSL server
 * with its default TLS 1.3 tickets */

/* drain_open - c->server is our client end, c->client the peer server */
static SSL_CTX *drain_open(struct conn *c, int version, SSL_CTX **pctx) {
  SSL_CTX *octx = SSL_CTX_new(TLS_client_method());
  SSL_CTX *peer = SSL_CTX_new(TLS_server_method());
  int fds[2], done_ours = 0, done_peer = 0, i;

  ck_assert_ptr_nonnull(octx);
  ck_assert_ptr_nonnull(peer);
  ck_assert_int_eq(SSL_CTX_set_min_proto_version(peer, version), 1);
  ck_assert_int_eq(SSL_CTX_set_max_proto_version(peer, version), 1);
  ck_assert_int_eq(SSL_CTX_use_certificate_chain_file(peer,
    unit_fixture("selfsigned.pem")), 1);
  ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(peer,
    unit_fixture("selfsigned.pem"), SSL_FILETYPE_PEM), 1);

  memset(c, 0, sizeof(*c));
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  c->sfd = fds[0];
  c->cfd = fds[1];
  set_nonblocking(c->sfd);
  set_nonblocking(c->cfd);
  c->server = ftps_tls_new(octx, c->sfd, FTPS_TLS_DATA_CLIENT, &c->err);
  ck_assert_msg(c->server != NULL, "ftps_tls_new: %s", c->err.msg);
  c->client = SSL_new(peer);
  ck_assert_int_eq(SSL_set_fd(c->client, c->cfd), 1);
  SSL_set_accept_state(c->client);

  for (i = 0; i < STEP_LIMIT && !(done_ours && done_peer); i++) {
    int want = 0, rc;

    if (!done_ours) {
      errno = 0;
      done_ours = ftps_tls_handshake(c->server, &want, &c->err) == 0;
      ck_assert_msg(done_ours || errno == EAGAIN, "handshake: %s",
        c->err.msg);
    }
    if (!done_peer) {
      rc = SSL_do_handshake(c->client);
      done_peer = rc == 1;
      ck_assert(done_peer || client_would_block(c->client, rc));
    }
  }
  ck_assert(done_ours && done_peer);
  *pctx = peer;
  return octx;
}

static void drain_close(struct conn *c, SSL_CTX *octx, SSL_CTX *peer) {
  conn_close(c);
  SSL_CTX_free(octx);
  SSL_CTX_free(peer);
}

/* peer_read - what the peer reads now: bytes, 0 at close_notify, -1 */
static int peer_read(struct conn *c, char *buf, int len) {
  int rc = SSL_read(c->client, buf, len);

  if (rc > 0) {
    return rc;
  }
  return SSL_get_error(c->client, rc) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

/* unread - bytes waiting in our socket */
static int unread(struct conn *c) {
  char b;
  ssize_t n = recv(c->sfd, &b, 1, MSG_PEEK|MSG_DONTWAIT);

  return n > 0 ? 1 : 0;
}

/* After our close_notify, drain reads the peer's tickets (TLS 1.3), and
 * what it sends after our close_notify, and ends at the peer's; nothing is
 * left unread in the socket. */
START_TEST(test_tls_drain_peer_close_notify) {
  struct conn c;
  SSL_CTX *peer, *octx = drain_open(&c, versions[_i], &peer);
  char buf[64];
  int want = 0;

  ck_assert_int_eq(ftps_tls_write(c.server, "file", 4, &want), 4);
  ck_assert_int_eq(ftps_tls_flush(c.server, &want), 0);
  errno = 0;
  ck_assert_int_eq(ftps_tls_drain(c.server, &want), -1);
  ck_assert_int_eq(errno, EPIPE);     /* no close_notify sent yet */
  ck_assert_int_eq(ftps_tls_shutdown(c.server, &want), 0);

  /* the tickets are read, the peer has not closed: wait */
  errno = 0;
  ck_assert_int_eq(ftps_tls_drain(c.server, &want), -1);
  ck_assert_int_eq(errno, EAGAIN);
  ck_assert_int_eq(want, FTPS_WANT_READ);
  ck_assert_int_eq(unread(&c), 0);

  ck_assert_int_eq(peer_read(&c, buf, sizeof(buf)), 4);
  ck_assert_int_eq(peer_read(&c, buf, sizeof(buf)), 0);
  /* data after our close_notify is ignored (RFC 8446 section 6.1) */
  ck_assert_int_eq(SSL_write(c.client, "late", 4), 4);
  errno = 0;
  ck_assert_int_eq(ftps_tls_drain(c.server, &want), -1);
  ck_assert_int_eq(errno, EAGAIN);
  ck_assert_int_ge(SSL_shutdown(c.client), 0);
  ck_assert_int_eq(ftps_tls_drain(c.server, &want), 0);
  ck_assert_int_eq(unread(&c), 0);
  drain_close(&c, octx, peer);
}
END_TEST

/* A peer that reads everything, then closes its socket without
 * close_notify, has closed too; one that resets the connection has not
 * taken what we sent (with unread bytes, a close resets). */
START_TEST(test_tls_drain_peer_eof) {
  struct conn c;
  SSL_CTX *peer, *octx = drain_open(&c, versions[_i], &peer);
  char buf[16];
  int want = 0;

  ck_assert_int_eq(ftps_tls_shutdown(c.server, &want), 0);
  ck_assert_int_eq(peer_read(&c, buf, sizeof(buf)), 0);
  SSL_free(c.client);
  c.client = NULL;
  close(c.cfd);
  c.cfd = -1;
  errno = 0;
  ck_assert_msg(ftps_tls_drain(c.server, &want) == 0, "drain: errno %d, %s",
    errno, ftps_tls_error(c.server));
  ck_assert_int_eq(unread(&c), 0);
  drain_close(&c, octx, peer);

  octx = drain_open(&c, versions[_i], &peer);
  ck_assert_int_eq(ftps_tls_write(c.server, "file", 4, &want), 4);
  ck_assert_int_eq(ftps_tls_flush(c.server, &want), 0);
  ck_assert_int_eq(ftps_tls_shutdown(c.server, &want), 0);
  close(c.cfd);
  c.cfd = -1;
  errno = 0;
  ck_assert_int_eq(ftps_tls_drain(c.server, &want), -1);
  ck_assert_int_eq(errno, ECONNRESET);
  drain_close(&c, octx, peer);
}
END_TEST

Suite *tls_suite(void) {
  Suite *s = suite_create("tls");
  TCase *tc;

  tc = tcase_create("context");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_context_defaults);
  tcase_add_test(tc, test_context_props);
  tcase_add_test(tc, test_context_null_props);
  tcase_add_test(tc, test_warmup_default);
  tcase_add_test(tc, test_warmup_tls13_only);
  tcase_add_loop_test(tc, test_context_bad_props, 0, NELEMS(bad_props_cases));
  tcase_add_test(tc, test_context_bad_keypair);
  tcase_add_loop_test(tc, test_handshake_version, 0, NELEMS(versions));
  tcase_add_test(tc, test_handshake_tls11_refused);
  tcase_add_test(tc, test_handshake_weak_cipher_refused);
  tcase_add_test(tc, test_handshake_tls12_only_server);
  tcase_add_test(tc, test_handshake_full_chain);
  suite_add_tcase(s, tc);

  tc = tcase_create("io");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_tls_new_bad_args);
  tcase_add_test(tc, test_tls_new_bio);
  tcase_add_test(tc, test_tls_info);
  tcase_add_loop_test(tc, test_tls_round_trip, 0, NELEMS(versions));
  tcase_add_loop_test(tc, test_tls_large_write, 0, NELEMS(versions));
  tcase_add_loop_test(tc, test_tls_shutdown, 0, NELEMS(versions));
  tcase_add_loop_test(tc, test_tls_client_close_notify, 0, NELEMS(versions));
  tcase_add_loop_test(tc, test_tls_read_ahead_close_notify, 0,
    NELEMS(versions));
  tcase_add_loop_test(tc, test_tls_truncation, 0, NELEMS(versions));
  tcase_add_loop_test(tc, test_tls_write_after_peer_gone, 0,
    NELEMS(versions));
  suite_add_tcase(s, tc);

  tc = tcase_create("binding");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, test_binding_resume, 0, NELEMS(modes));
  tcase_add_loop_test(tc, test_binding_no_session, 0, NELEMS(modes));
  tcase_add_loop_test(tc, test_binding_other_session, 0, NELEMS(modes));
  tcase_add_loop_test(tc, test_binding_other_vhost, 0, NELEMS(modes));
  tcase_add_loop_test(tc, test_binding_data_issues_no_tickets, 0,
    NELEMS(modes));
  tcase_add_test(tc, test_binding_tls13_single_use);
  tcase_add_test(tc, test_binding_tls13_ticket_refresh);
  tcase_add_test(tc, test_binding_tls12_refresh_noop);
  tcase_add_loop_test(tc, test_binding_survives_aborted_data, 0, NELEMS(modes));
  tcase_add_loop_test(tc, test_binding_ctrl_renews, 0, NELEMS(modes));
  tcase_add_test(tc, test_binding_version_change);
  tcase_add_test(tc, test_binding_bad_args);
  suite_add_tcase(s, tc);

  tc = tcase_create("drain");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, test_tls_drain_peer_close_notify, 0,
    NELEMS(versions));
  tcase_add_loop_test(tc, test_tls_drain_peer_eof, 0, NELEMS(versions));
  suite_add_tcase(s, tc);

  return s;
}

FTPS_UNIT_MAIN(tls_suite)
