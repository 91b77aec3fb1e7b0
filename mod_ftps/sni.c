/*
 * sni.c - the TLS server name indication (RFC 6066 section 3) chooses the
 * name-based vhost of a control connection (ftps/sni.h).
 *
 * A client that sends SNI names the host it wants before any FTP command
 * could (RFC 7151 section 3.2.2 ties SNI to HOST): the vhost whose
 * ServerName or ServerAlias matches presents its own certificate in the
 * handshake, and once the handshake is done the session moves to that vhost
 * as a HOST command would move it.  The choice is made in the ClientHello
 * callback, before OpenSSL picks the version or accepts a session ticket,
 * so that the vhost's protocol range and client-certificate rules decide
 * the handshake and a ticket from another vhost is not resumed (binding.c).
 * An unknown name, an IP address or a vhost without TLS leaves the session
 * where it is (mod_tls would end it with an unrecognized_name alert),
 * unless TLSOptions StrictSNI, which refuses a name (not an IP address)
 * that this address and port do not answer to; a name that contradicts an
 * earlier HOST ends the handshake.  Data connections never switch by their
 * own SNI; they take the settings of the vhost the session moved to
 * (netio.c).  The same callback notes an ALPN list without "ftp", which
 * the ALPN callback refuses (context.c).
 */
#include <arpa/inet.h>
#include <ctype.h>

#include "ftps/sni.h"
#include "ftps/alpn.h"
#include "ftps/binding.h"
#include "ftps/config.h"
#include "ftps/log.h"
#include "ftps/server.h"

static server_rec *sni_server = NULL;   /* chosen, not yet switched to */
static char sni_name[256];

int ftps_sni_use_ctx(SSL *ssl, SSL_CTX *ctx) {
  STACK_OF(X509_NAME) *names;
  const char *groups;
  uint64_t opts;

  if (SSL_set_SSL_CTX(ssl, ctx) == NULL) {
    return -1;
  }

  /* SSL_set_SSL_CTX() changes the certificate only: the options, ticket
   * count, protocol range, key-exchange groups and verification the
   * connection got from the context it began on stay (TLSSessionTickets,
   * TLSSessionCache off, TLSServerCipherPreference,
   * AllowClientRenegotiations, TLSProtocol, TLSECDHCurve,
   * TLSVerifyClient).  Called from the ClientHello callback, all of this
   * is in place before OpenSSL picks the version and looks at a ticket. */
  opts = SSL_CTX_get_options(ctx);
  SSL_clear_options(ssl, SSL_get_options(ssl) & ~opts);
  SSL_set_options(ssl, opts);
  /* Data connections issue no tickets, whatever the vhost (tls.c,
   * proftpd#959). */
  if (!ftps_binding_is_data(ssl)) {
    SSL_set_num_tickets(ssl, SSL_CTX_get_num_tickets(ctx));
  }
  if (SSL_set_min_proto_version(ssl,
        SSL_CTX_get_min_proto_version(ctx)) != 1 ||
      SSL_set_max_proto_version(ssl,
        SSL_CTX_get_max_proto_version(ctx)) != 1) {
    return -1;
  }
  /* SSL_new() copied the groups of the first context: the vhost's
   * TLSECDHCurve (or the default list, without the costly large
   * finite-field groups) must decide, as after HOST. */
  groups = ftps_server_ctx_groups(ctx);
  if (groups != NULL &&
      SSL_set1_groups_list(ssl, groups) != 1) {
    return -1;
  }
  SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx),
    SSL_CTX_get_verify_callback(ctx));
  SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(ctx));

  names = SSL_dup_CA_list(SSL_CTX_get_client_CA_list(ctx));
  if (names != NULL) {
    SSL_set_client_CA_list(ssl, names);
  }
  return 0;
}

/* hello_name - the host_name the ClientHello's server_name extension
 * carries (RFC 6066 section 3: one entry), into buf; 0 when there is none
 * (a malformed extension is then refused by OpenSSL's own parsing), -1
 * for an empty name, which OpenSSL lets through */
static int hello_name(SSL *ssl, char *buf, size_t bufsz) {
  const unsigned char *p;
  size_t len, list, n;

  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p,
      &len) != 1 ||
      len < 5) {
    return 0;
  }

  list = ((size_t) p[0] << 8) | p[1];
  n = ((size_t) p[3] << 8) | p[4];
  if (len == 5 &&
      list == 3 &&
      p[2] == TLSEXT_NAMETYPE_host_name &&
      n == 0) {
    return -1;
  }
  if (list != len - 2 ||
      p[2] != TLSEXT_NAMETYPE_host_name ||
      n == 0 ||
      n != list - 3 ||
      n >= bufsz ||
      memchr(p + 5, '\0', n) != NULL) {
    return 0;
  }

  memcpy(buf, p + 5, n);
  buf[n] = '\0';
  return 1;
}

/* is_host_name - name is spelt as a DNS host name (RFC 6066 section 3:
 * the fully qualified name, in ASCII): letters, digits, '-', '.', the '_'
 * some private names carry, and the ':' of an IPv6 address (which RFC
 * 6066 does not allow, but some clients send).  Anything else (control
 * characters above all) would travel on into notes, the environment and
 * other modules' logs. */
static int is_host_name(const char *name) {
  const char *p;

  for (p = name; *p != '\0'; p++) {
    if (!isalnum((unsigned char) *p) &&
        *p != '-' &&
        *p != '.' &&
        *p != '_' &&
        *p != ':') {
      return 0;
    }
  }
  return 1;
}

/* is_ip_literal - name is an IPv4 or IPv6 address.  Not
 * pr_netaddr_is_v6(), which says no to every IPv6 address under "UseIPv6
 * off": StrictSNI then refused the literal a client sent. */
static int is_ip_literal(const char *name) {
  unsigned char buf[sizeof(struct in6_addr)];

  return inet_pton(AF_INET, name, buf) == 1 ||
    inet_pton(AF_INET6, name, buf) == 1;
}

/* renegotiation - the ClientHello of a TLS 1.2 renegotiation (TLSOptions
 * AllowClientRenegotiations).  What the first handshake settled stays: the
 * vhost (SNI does not move the session again), and, where client
 * certificates are asked for, the certificate the session was judged by
 * (its names, a certificate login, the data connections' comparison).  A
 * renegotiation could present another one, so there it is refused (RFC
 * 5746 protects renegotiation from splicing, not from a change of
 * identity). */
static int renegotiation(SSL *ssl, int *alert) {
  if (SSL_get_verify_mode(ssl) == SSL_VERIFY_NONE) {
    return SSL_CLIENT_HELLO_SUCCESS;
  }

  ftps_log("renegotiation refused: client certificates are asked for, and "
    "a renegotiation could present another one than the session was "
    "judged by");
  *alert = SSL_AD_HANDSHAKE_FAILURE;
  return SSL_CLIENT_HELLO_ERROR;
}

/* alias_of - is name one of the ServerAlias names (or patterns, as
 * bindings.c matches them) of the server the connection is on?  The
 * namebinds do not list a server's aliases when no other server shares its
 * address and port. */
static int alias_of(const char *name) {
  config_rec *c;

  c = find_config(main_server->conf, CONF_PARAM, "ServerAlias", FALSE);
  for (; c != NULL;
       c = find_config_next(c, c->next, CONF_PARAM, "ServerAlias", FALSE)) {
    const char *alias = c->argv[0];

    if (alias != NULL &&
        (strcasecmp(alias, name) == 0 ||
         (pr_str_is_fnmatch(alias) == TRUE &&
          pr_fnmatch(alias, name, PR_FNM_NOESCAPE|PR_FNM_CASEFOLD) == 0))) {
      return 1;
    }
  }
  return 0;
}

/* known_name - under TLSOptions StrictSNI, is name one this address and
 * port answer to: a name HOST would accept (a namebind: a ServerAlias, or
 * the DNS name of a <VirtualHost>, RFC 7151), or the ServerName or a
 * ServerAlias of the server the connection is on?  named is what the
 * namebinds gave (or NULL).  ALPACA (CVE-2021-3618): a client that asks
 * for another host was sent here by someone else, and must not reach an
 * FTP session that a shared certificate would vouch for. */
static int known_name(const char *name, server_rec *named) {
  return named != NULL ||
    (main_server->ServerName != NULL &&
     strcasecmp(main_server->ServerName, name) == 0) ||
    alias_of(name);
}

/* refuse_name - end the handshake with unrecognized_name (RFC 6066
 * section 3), saying why */
static int refuse_name(SSL *ssl, const char *name, const char *why,
    int *alert) {
  ftps_log("%s connection: SNI '%s' %s: handshake refused (TLSOptions "
    "StrictSNI)", ftps_binding_is_data(ssl) ? "data" : "control", name, why);
  *alert = SSL_AD_UNRECOGNIZED_NAME;
  return SSL_CLIENT_HELLO_ERROR;
}

/* choose_vhost - SNI on a control connection moves it to the vhost the
 * name names (s, from the namebinds), unless IgnoreSNI */
static int choose_vhost(SSL *ssl, const char *name, server_rec *s,
    int strict, int *alert) {
  const char *host;
  SSL_CTX *ctx;

  if (ftps_server_options(main_server) & FTPS_OPT_IGNORE_SNI) {
    return SSL_CLIENT_HELLO_SUCCESS;
  }

  host = pr_table_get(session.notes, "mod_core.host", NULL);
  if (host != NULL &&
      strcasecmp(host, name) != 0) {
    ftps_log("SNI '%s' contradicts HOST '%s': handshake refused", name, host);
    *alert = SSL_AD_ACCESS_DENIED;
    return SSL_CLIENT_HELLO_ERROR;
  }

  /* AUTH after login (TLSOptions AllowPerUser): the user was
   * authenticated under the vhost the session is on, and mod_core refuses
   * HOST after login.  Moving now would run the session under another
   * vhost's rules (<Limit>, TLSRequired) with this vhost's login. */
  if (session.user != NULL &&
      s != NULL &&
      s != main_server) {
    ftps_log("SNI '%s' names vhost '%s' after user %s logged in on '%s': "
      "handshake refused (a session stays on the vhost that authenticated "
      "it)", name, s->ServerName, session.user, main_server->ServerName);
    *alert = SSL_AD_ACCESS_DENIED;
    return SSL_CLIENT_HELLO_ERROR;
  }

  /* mod_core lets HOST follow AUTH only when it matches this name. */
  (void) pr_table_remove(session.notes, "mod_tls.sni", NULL);
  if (pr_table_add_dup(session.notes, "mod_tls.sni", name, 0) < 0) {
    ftps_log("SNI '%s': cannot note the name: %s", name, strerror(errno));
  }

  if (s == NULL || s == main_server) {
    if (s == NULL) {
      ftps_log("SNI '%s' names no vhost here; staying with '%s'", name,
        main_server->ServerName);
    }
    return SSL_CLIENT_HELLO_SUCCESS;
  }

  ctx = ftps_server_engine(s) ? ftps_server_ctx(s) : NULL;
  /* A vhost that refuses its sessions (a restart found no usable
   * certificate or CA/CRL file for it) refuses this one too, as HOST to
   * it would: the client asked for it, and must not be served another
   * vhost's certificate and rules under its name. */
  if (ctx == NULL &&
      ftps_server_engine(s) &&
      ftps_server_unavailable(s)) {
    ftps_log("SNI '%s' names vhost '%s', which has no usable certificate "
      "or CA/CRL file: handshake refused", name, s->ServerName);
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  if (ctx == NULL) {
    if (strict) {
      return refuse_name(ssl, name, "names a vhost without TLS", alert);
    }
    ftps_log("SNI '%s' names vhost '%s', which has no TLS certificate; "
      "staying with '%s'", name, s->ServerName, main_server->ServerName);
    return SSL_CLIENT_HELLO_SUCCESS;
  }

  /* From here the vhost's TLSProtocol decides the version, as it would
   * after HOST: one it does not allow ends the handshake. */
  if (ftps_sni_use_ctx(ssl, ctx) < 0) {
    ftps_log("SNI '%s': cannot use the settings of vhost '%s'", name,
      s->ServerName);
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }

  sni_server = s;
  sstrncpy(sni_name, name, sizeof(sni_name));
  ftps_log("SNI '%s': vhost '%s'", name, s->ServerName);
  return SSL_CLIENT_HELLO_SUCCESS;
}

/* judge_name - the server name of a session's connection: the vhost of a
 * control connection is chosen here, and not in the server name callback,
 * which OpenSSL runs only after it accepted a TLS 1.3 ticket: the ticket
 * is then judged under the chosen vhost (binding.c refuses one from
 * another vhost: a full handshake).  Data connections never switch by
 * their own SNI, but StrictSNI judges their name too: ALPACA's download
 * and reflection attacks send a foreign client to a passive data port. */
static int judge_name(SSL *ssl, int *alert) {
  char name[256];
  server_rec *s;
  int found, strict, data = ftps_binding_is_data(ssl);

  /* An empty name (RFC 6066 section 3 allows none) names no host here
   * either: StrictSNI refuses it like any other unknown name. */
  strict = (ftps_server_options(main_server) & FTPS_OPT_STRICT_SNI) != 0;
  found = hello_name(ssl, name, sizeof(name));
  if (found < 0 &&
      strict) {
    return refuse_name(ssl, "", "is empty", alert);
  }
  if (found <= 0) {
    return SSL_CLIENT_HELLO_SUCCESS;
  }

  /* Also under IgnoreSNI: OpenSSL keeps the name, and it becomes the
   * TLS_SERVER_NAME note and variable.  Data connections' names go
   * nowhere. */
  if (!data &&
      !is_host_name(name)) {
    ftps_log("SNI '%s' is not a host name: handshake refused", name);
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_CLIENT_HELLO_ERROR;
  }

  /* An IP address is no name (RFC 6066 section 3), yet some clients
   * (lftp) send one: as if there were none. */
  if (is_ip_literal(name)) {
    return SSL_CLIENT_HELLO_SUCCESS;
  }

  s = pr_namebind_get_server(name, main_server->addr, session.c->local_port);
  if (strict &&
      !known_name(name, s)) {
    return refuse_name(ssl, name, "names no host here", alert);
  }

  return data ? SSL_CLIENT_HELLO_SUCCESS :
    choose_vhost(ssl, name, s, strict, alert);
}

/* note_alpn - a client whose ALPN list lacks "ftp" is refused by the ALPN
 * callback (context.c, alpn.c) with no_application_protocol, unless the
 * vhost's TLSOptions AllowAnyALPN: the TLSLog names what it offered (once
 * per session where it is served: not for each data connection). */
static void note_alpn(SSL *ssl) {
  const unsigned char *p;
  server_rec *s = sni_server != NULL ? sni_server : main_server;
  int data = ftps_binding_is_data(ssl), allowed;
  char list[128];
  size_t len;

  if (SSL_client_hello_get0_ext(ssl,
      TLSEXT_TYPE_application_layer_protocol_negotiation, &p, &len) != 1 ||
      len < 2 ||
      (((size_t) p[0] << 8) | p[1]) != len - 2 ||
      ftps_alpn_find(p + 2, len - 2, FTPS_ALPN_FTP) != 0) {
    return;
  }

  allowed = (ftps_server_options(s) & FTPS_OPT_ALLOW_ANY_ALPN) != 0;
  if (allowed && data) {
    return;
  }
  ftps_log("%s connection: the client offers ALPN '%s', without 'ftp': %s",
    data ? "data" : "control",
    ftps_alpn_str(p + 2, len - 2, list, sizeof(list)),
    allowed ? "served (TLSOptions AllowAnyALPN)" :
      "refused with no_application_protocol (a client of another protocol "
      "sent here, as in the ALPACA attack; TLSOptions AllowAnyALPN would "
      "serve it)");
}

/* hello_cb - the ClientHello, before OpenSSL looks at the session it
 * offers or picks the version: SNI (judge_name) and the ALPN note */
static int hello_cb(SSL *ssl, int *alert, void *arg) {
  int rc;

  /* A Finished message already exchanged: this is a renegotiation. */
  (void) arg;
  if (SSL_get_finished(ssl, NULL, 0) > 0) {
    return renegotiation(ssl, alert);
  }

  /* Not a session's connection (the master's warm-up handshakes). */
  if (session.c == NULL) {
    return SSL_CLIENT_HELLO_SUCCESS;
  }

  rc = judge_name(ssl, alert);
  if (rc == SSL_CLIENT_HELLO_SUCCESS) {
    note_alpn(ssl);
  }
  return rc;
}

/* ack_cb - acknowledge the server name (OpenSSL then keeps it with a new
 * session); the choice was made in hello_cb */
static int ack_cb(SSL *ssl, int *alert, void *arg) {
  (void) ssl;
  (void) alert;
  (void) arg;
  return SSL_TLSEXT_ERR_OK;
}

void ftps_sni_install(SSL_CTX *ctx) {
  SSL_CTX_set_client_hello_cb(ctx, hello_cb, NULL);
  SSL_CTX_set_tlsext_servername_callback(ctx, ack_cb);
}

/* dispatch_host - what other modules do after a HOST command that changed
 * the vhost (mod_core resets timeouts, AuthOrder and the like).  The
 * dispatcher points session.curr_cmd_rec (curr_cmd, curr_cmd_id,
 * curr_phase) at the command it runs; this short-lived HOST runs in the
 * middle of AUTH (or before the first command, implicit FTPS), so what was
 * there is put back before the HOST command's pool goes. */
static int dispatch_host(pool *p, const char *name) {
  const char *saved_cmd = session.curr_cmd;
  int saved_id = session.curr_cmd_id, saved_phase = session.curr_phase;
  cmd_rec *saved_rec = session.curr_cmd_rec, *cmd;
  int res = 0;

  cmd = pr_cmd_alloc(p, 2, pstrdup(p, C_HOST), pstrdup(p, name));
  if (cmd == NULL) {
    return -1;
  }
  cmd->arg = pstrdup(cmd->pool, name);
  cmd->cmd_class = CL_AUTH;
  cmd->cmd_id = pr_cmd_get_id(C_HOST);
  if (pr_cmd_dispatch_phase(cmd, POST_CMD, 0) < 0) {
    res = -1;
  }
  (void) pr_cmd_dispatch_phase(cmd, LOG_CMD, 0);

  session.curr_cmd = saved_cmd;
  session.curr_cmd_id = saved_id;
  session.curr_cmd_rec = saved_rec;
  session.curr_phase = saved_phase;
  destroy_pool(cmd->pool);
  return res;
}

int ftps_sni_switch(pool *p) {
  server_rec *s = sni_server;

  sni_server = NULL;
  if (s == NULL ||
      s == main_server) {
    return 0;
  }

  /* mod_core refuses a later HOST for another name by this note: without
   * it the session must not go on. */
  (void) pr_table_remove(session.notes, "mod_core.host", NULL);
  if (pr_table_add_dup(session.notes, "mod_core.host", sni_name, 0) < 0) {
    ftps_log("SNI '%s': cannot note the host: %s", sni_name,
      strerror(errno));
    return -1;
  }

  session.prev_server = main_server;
  main_server = s;
  pr_event_generate("core.session-reinit", s);
  if (dispatch_host(p, sni_name) < 0) {
    ftps_log("SNI '%s': a POST_CMD handler of HOST failed", sni_name);
  }
  return 1;
}
