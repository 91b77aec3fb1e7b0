/*
 * sni.c - the TLS server name indication (RFC 6066 section 3) chooses the
 * name-based vhost of a control connection (ftps/sni.h).
 *
 * A client that sends SNI names the host it wants before any FTP command
 * could (RFC 7151 section 3.2.2 ties SNI to HOST): the vhost whose
 * ServerName or ServerAlias matches presents its own certificate in the
 * handshake, and once the handshake is done the session moves to that vhost
 * as a HOST command would move it.  An unknown name, an IP address or a
 * vhost without TLS leaves the session where it is (mod_tls would end it
 * with an unrecognized_name alert); a name that contradicts an earlier HOST
 * ends the handshake.  Data connections never switch.
 */
#include "ftps/sni.h"
#include "ftps/binding.h"
#include "ftps/config.h"
#include "ftps/log.h"
#include "ftps/server.h"

static server_rec *sni_server = NULL;   /* chosen, not yet switched to */
static char sni_name[256];

/* use_ctx - present ctx's certificate, and ask for client certificates,
 * issue tickets and renegotiate as its vhost does */
static int use_ctx(SSL *ssl, SSL_CTX *ctx) {
  STACK_OF(X509_NAME) *names;
  uint64_t opts;

  if (SSL_set_SSL_CTX(ssl, ctx) == NULL) {
    return -1;
  }

  /* SSL_set_SSL_CTX() keeps the options and ticket count the connection
   * got from the default server's context (TLSSessionTickets, TLSSessionCache
   * off, TLSServerCipherPreference, AllowClientRenegotiations); OpenSSL
   * reads them again after this callback. */
  opts = SSL_CTX_get_options(ctx);
  SSL_clear_options(ssl, SSL_get_options(ssl) & ~opts);
  SSL_set_options(ssl, opts);
  SSL_set_num_tickets(ssl, SSL_CTX_get_num_tickets(ctx));
  SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx),
    SSL_CTX_get_verify_callback(ctx));
  SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(ctx));

  names = SSL_dup_CA_list(SSL_CTX_get_client_CA_list(ctx));
  if (names != NULL) {
    SSL_set_client_CA_list(ssl, names);
  }
  return 0;
}

/* version_allowed - may ctx's vhost speak the version ssl negotiated? */
static int version_allowed(const SSL *ssl, SSL_CTX *ctx) {
  long min = SSL_CTX_get_min_proto_version(ctx);
  long max = SSL_CTX_get_max_proto_version(ctx);
  int version = SSL_version(ssl);

  return (min == 0 || version >= min) &&
    (max == 0 || version <= max);
}

/* sni_cb - during the ClientHello of a control handshake */
static int sni_cb(SSL *ssl, int *alert, void *arg) {
  const char *name, *host;
  server_rec *s;
  SSL_CTX *ctx;

  (void) arg;
  name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (ftps_binding_is_data(ssl) ||
      name == NULL ||
      *name == '\0' ||
      (ftps_server_options(main_server) & FTPS_OPT_IGNORE_SNI) ||
      pr_netaddr_is_v4(name) == TRUE ||
      pr_netaddr_is_v6(name) == TRUE) {
    return SSL_TLSEXT_ERR_OK;
  }

  host = pr_table_get(session.notes, "mod_core.host", NULL);
  if (host != NULL &&
      strcasecmp(host, name) != 0) {
    ftps_log("SNI '%s' contradicts HOST '%s': handshake refused", name, host);
    *alert = SSL_AD_ACCESS_DENIED;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }

  /* mod_core lets HOST follow AUTH only when it matches this name. */
  (void) pr_table_remove(session.notes, "mod_tls.sni", NULL);
  (void) pr_table_add_dup(session.notes, "mod_tls.sni", name, 0);

  s = pr_namebind_get_server(name, main_server->addr, session.c->local_port);
  if (s == NULL || s == main_server) {
    if (s == NULL) {
      ftps_log("SNI '%s' names no vhost here; staying with '%s'", name,
        main_server->ServerName);
    }
    return SSL_TLSEXT_ERR_OK;
  }

  ctx = ftps_server_engine(s) ? ftps_server_ctx(s) : NULL;
  if (ctx == NULL) {
    ftps_log("SNI '%s' names vhost '%s', which has no TLS certificate; "
      "staying with '%s'", name, s->ServerName, main_server->ServerName);
    return SSL_TLSEXT_ERR_OK;
  }

  /* OpenSSL picks the version before this callback, from the default
   * server's TLSProtocol, and SSL_set_SSL_CTX() does not revisit it: a
   * version the chosen vhost does not allow must end the handshake, as it
   * would after HOST. */
  if (!version_allowed(ssl, ctx)) {
    ftps_log("SNI '%s' names vhost '%s', whose TLSProtocol does not allow "
      "%s: handshake refused", name, s->ServerName, SSL_get_version(ssl));
    *alert = SSL_AD_PROTOCOL_VERSION;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }

  if (use_ctx(ssl, ctx) < 0) {
    ftps_log("SNI '%s': cannot use the certificate of vhost '%s'", name,
      s->ServerName);
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }

  sni_server = s;
  sstrncpy(sni_name, name, sizeof(sni_name));
  ftps_log("SNI '%s': vhost '%s'", name, s->ServerName);
  return SSL_TLSEXT_ERR_OK;
}

void ftps_sni_install(SSL_CTX *ctx) {
  SSL_CTX_set_tlsext_servername_callback(ctx, sni_cb);
}

/* dispatch_host - what other modules do after a HOST command that changed
 * the vhost (mod_core resets timeouts, AuthOrder and the like) */
static void dispatch_host(pool *p, const char *name) {
  cmd_rec *cmd;

  cmd = pr_cmd_alloc(p, 2, pstrdup(p, C_HOST), pstrdup(p, name));
  cmd->arg = pstrdup(cmd->pool, name);
  cmd->cmd_class = CL_AUTH;
  cmd->cmd_id = pr_cmd_get_id(C_HOST);
  (void) pr_cmd_dispatch_phase(cmd, POST_CMD, 0);
  (void) pr_cmd_dispatch_phase(cmd, LOG_CMD, 0);
  destroy_pool(cmd->pool);
}

int ftps_sni_switch(pool *p) {
  server_rec *s = sni_server;

  sni_server = NULL;
  if (s == NULL ||
      s == main_server) {
    return 0;
  }

  (void) pr_table_remove(session.notes, "mod_core.host", NULL);
  (void) pr_table_add_dup(session.notes, "mod_core.host", sni_name, 0);

  session.prev_server = main_server;
  main_server = s;
  pr_event_generate("core.session-reinit", s);
  dispatch_host(p, sni_name);
  return 1;
}
