/*
 * warmup.c - in-memory handshakes that warm OpenSSL's state in the master
 * (see ftps/warmup.h).
 */
#include <string.h>

#include <openssl/err.h>

#include "ftps/warmup.h"

#define WARMUP_STEPS 64   /* handshake rounds before giving up */

/* pump - drive both ends until both handshakes are done; 1, or 0 */
static int pump(SSL *client, SSL *server) {
  int i, client_done = 0, server_done = 0;

  for (i = 0; i < WARMUP_STEPS && !(client_done && server_done); i++) {
    if (!client_done) {
      int rc = SSL_do_handshake(client);

      if (rc == 1) {
        client_done = 1;
      } else if (SSL_get_error(client, rc) != SSL_ERROR_WANT_READ) {
        return 0;
      }
    }

    if (!server_done) {
      int rc = SSL_do_handshake(server);

      if (rc == 1) {
        server_done = 1;
      } else if (SSL_get_error(server, rc) != SSL_ERROR_WANT_READ) {
        return 0;
      }
    }
  }
  return client_done && server_done;
}

/* exchange - a few bytes each way (the record layer's ciphers); 1 or 0 */
static int exchange(SSL *client, SSL *server) {
  char buf[16];
  int i;

  if (SSL_write(client, "warm", 4) != 4 ||
      SSL_write(server, "warm", 4) != 4) {
    return 0;
  }

  /* The client also takes the server's tickets here (TLS 1.3). */
  for (i = 0; i < 4; i++) {
    (void) SSL_read(server, buf, sizeof(buf));
    (void) SSL_read(client, buf, sizeof(buf));
  }
  return 1;
}

/* connect_pair - a client and a server connection from ctx joined by a
 * BIO pair; 0, or -1 */
static int connect_pair(SSL_CTX *cctx, SSL_CTX *ctx, SSL_SESSION *resume,
    int probe, SSL **client, SSL **server) {
  BIO *cbio = NULL, *sbio = NULL;

  *client = SSL_new(cctx);
  *server = SSL_new(ctx);
  if (*client == NULL || *server == NULL ||
      BIO_new_bio_pair(&cbio, 0, &sbio, 0) != 1) {
    return -1;
  }

  SSL_set_bio(*client, cbio, cbio);
  SSL_set_bio(*server, sbio, sbio);
  SSL_set_connect_state(*client);
  SSL_set_accept_state(*server);

  /* The server's callbacks (logging, SNI) are for sessions, not this. */
  SSL_set_info_callback(*server, NULL);
  SSL_set_msg_callback(*server, NULL);

  /* A probe judges the server's certificate: this client has none to
   * give, and a TLSVerifyClient that requires one must not make every
   * certificate look unservable alike. */
  if (probe) {
    SSL_set_verify(*server, SSL_VERIFY_NONE, NULL);
  }
  if (resume != NULL) {
    (void) SSL_set_session(*client, resume);
  }
  return 0;
}

/* handshake_once - one handshake of version (and a resumption of it);
 * the number that completed */
static int handshake_once(SSL_CTX *ctx, int version, int probe) {
  SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
  SSL_SESSION *sess = NULL;
  int round, done = 0;

  if (cctx == NULL ||
      SSL_CTX_set_min_proto_version(cctx, version) != 1 ||
      SSL_CTX_set_max_proto_version(cctx, version) != 1) {
    SSL_CTX_free(cctx);
    return 0;
  }
  SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);

  for (round = 0; round < 2; round++) {
    SSL *client = NULL, *server = NULL;
    int ok;

    ok = connect_pair(cctx, ctx, sess, probe, &client, &server) == 0 &&
      pump(client, server) &&
      exchange(client, server);
    if (ok) {
      done++;
      if (sess == NULL) {
        sess = SSL_get1_session(client);
      }
    }

    /* Nothing of this may resume later: out of the server's cache. */
    if (server != NULL &&
        SSL_get0_session(server) != NULL) {
      (void) SSL_CTX_remove_session(ctx, SSL_get0_session(server));
    }
    SSL_free(client);
    SSL_free(server);
    if (!ok) {
      break;
    }
  }

  SSL_SESSION_free(sess);
  SSL_CTX_free(cctx);
  return done;
}

int ftps_warmup_run(SSL_CTX *ctx) {
  int done = 0;

  if (ctx == NULL) {
    return 0;
  }

  done += handshake_once(ctx, TLS1_3_VERSION, 0);
  done += handshake_once(ctx, TLS1_2_VERSION, 0);

  /* What failed (a version the context refuses) is no error of ours. */
  ERR_clear_error();
  return done;
}

int ftps_warmup_probe(SSL_CTX *ctx) {
  int done = 0;

  if (ctx == NULL) {
    return 0;
  }
  if (handshake_once(ctx, TLS1_3_VERSION, 1) > 0) {
    done |= FTPS_WARMUP_TLS13;
  }
  if (handshake_once(ctx, TLS1_2_VERSION, 1) > 0) {
    done |= FTPS_WARMUP_TLS12;
  }
  ERR_clear_error();
  return done;
}
