/*
 * log.c - mod_ftps's own log file (TLSLog) and trace channel.
 */
#include "ftps/log.h"

static int log_fd = -1;

int ftps_log_open(server_rec *s) {
  const char *path;
  int res, xerrno;

  path = get_param_ptr(s->conf, "TLSLog", FALSE);
  if (path == NULL ||
      strcasecmp(path, "none") == 0) {
    return 0;
  }

  ftps_log_close();

  /* The log may live where only root can write; open it before the
   * session chroots or drops privileges for good. */
  PRIVS_ROOT
  res = pr_log_openfile(path, &log_fd, PR_LOG_SYSTEM_MODE);
  xerrno = errno;
  PRIVS_RELINQUISH

  if (res == 0) {
    return 0;
  }

  log_fd = -1;
  switch (res) {
    case PR_LOG_WRITABLE_DIR:
      pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION
        ": TLSLog %s: the directory is world-writable; not logging", path);
      break;

    case PR_LOG_SYMLINK:
      pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION
        ": TLSLog %s: is a symbolic link; not logging", path);
      break;

    default:
      pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION
        ": TLSLog %s: cannot open: %s", path, strerror(xerrno));
      break;
  }

  errno = xerrno;
  return -1;
}

void ftps_log_close(void) {
  if (log_fd >= 0) {
    (void) close(log_fd);
    log_fd = -1;
  }
}

void ftps_log(const char *fmt, ...) {
  char buf[1024];
  va_list ap;

  va_start(ap, fmt);
  pr_vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);

  pr_trace_msg(FTPS_TRACE_CHANNEL, 5, "%s", buf);
  if (log_fd >= 0) {
    (void) pr_log_writefile(log_fd, MOD_FTPS_VERSION, "%s", buf);
  }
}

/* diags_cb - TLSOptions EnableDiags: each handshake step and every alert,
 * as OpenSSL names them (no key material passes through here) */
static void diags_cb(const SSL *ssl, int where, int ret) {
  const char *side = SSL_is_server(ssl) ? "server" : "client";

  if (where & SSL_CB_ALERT) {
    ftps_log("diags: %s alert %s: %s", (where & SSL_CB_READ) ? "received" :
      "sent", SSL_alert_type_string_long(ret),
      SSL_alert_desc_string_long(ret));

  } else if (where & SSL_CB_HANDSHAKE_START) {
    ftps_log("diags: %s handshake started", side);

  } else if (where & SSL_CB_HANDSHAKE_DONE) {
    ftps_log("diags: %s handshake done: %s, %s%s", side, SSL_get_version(ssl),
      SSL_get_cipher_name(ssl), SSL_session_reused(ssl) ? ", resumed" : "");

  } else if (where & SSL_CB_LOOP) {
    ftps_log("diags: %s %s", side, SSL_state_string_long(ssl));

  } else if ((where & SSL_CB_EXIT) && ret == 0) {
    ftps_log("diags: %s failed in %s", side, SSL_state_string_long(ssl));
  }
}

void ftps_log_diags(SSL_CTX *ctx) {
  if (ctx != NULL) {
    SSL_CTX_set_info_callback(ctx, diags_cb);
  }
}
