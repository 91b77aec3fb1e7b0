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

/* unsafe - a byte that could end or disguise a log line (control
 * characters, DEL), or the backslash that starts our escapes */
static int unsafe(unsigned char c) {
  return c < 0x20 || c == 0x7f || c == '\\';
}

/* escape_into - src into dst (dstsz > 0 bytes, always terminated, cut at a
 * whole character) with every unsafe byte written as \xNN: what a peer sent
 * (an SNI name, a HOST or USER argument, a certificate's names) can then
 * neither start a forged line nor pass for one of our escapes. */
static void escape_into(char *dst, size_t dstsz, const char *src) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s;
  size_t i = 0;

  for (s = (const unsigned char *) src; *s != '\0'; s++) {
    if (!unsafe(*s)) {
      if (i + 1 >= dstsz) {
        break;
      }
      dst[i++] = (char) *s;
      continue;
    }

    if (i + 4 >= dstsz) {
      break;
    }
    dst[i++] = '\\';
    dst[i++] = 'x';
    dst[i++] = hex[*s >> 4];
    dst[i++] = hex[*s & 0x0f];
  }
  dst[i] = '\0';
}

const char *ftps_log_escape(pool *p, const char *s) {
  const unsigned char *c;
  size_t len, extra = 0;
  char *buf;

  if (s == NULL) {
    return NULL;
  }

  for (c = (const unsigned char *) s; *c != '\0'; c++) {
    if (unsafe(*c)) {
      extra += 3;
    }
  }
  if (extra == 0) {
    return s;
  }

  len = strlen(s) + extra + 1;
  buf = palloc(p, len);
  escape_into(buf, len, s);
  return buf;
}

/* write_line - a line to TLSLog.  A failing write (a full disk) loses the
 * record of refusals an admin relies on: say so in the system log, once
 * for each run of failures, not once per line. */
static void write_line(const char *line) {
  static int failing = FALSE;

  if (pr_log_writefile(log_fd, MOD_FTPS_VERSION, "%s", line) == 0) {
    failing = FALSE;
    return;
  }

  if (!failing) {
    failing = TRUE;
    pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION ": TLSLog: cannot write: "
      "%s; TLSLog lines are lost until writing works again",
      strerror(errno));
  }
}

void ftps_log(const char *fmt, ...) {
  char buf[1024], line[1024];
  va_list ap;

  va_start(ap, fmt);
  pr_vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);

  /* Every line is escaped here, whatever its arguments came from: no
   * caller has to remember which of them a peer controls. */
  escape_into(line, sizeof(line), buf);

  pr_trace_msg(FTPS_TRACE_CHANNEL, 5, "%s", line);
  if (log_fd >= 0) {
    write_line(line);
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
