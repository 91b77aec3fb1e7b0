/*
 * error.c - error text for the lower layers (see ftps/error.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "ftps/error.h"

void ftps_error_clear(struct ftps_error *err) {
  if (err != NULL) {
    err->msg[0] = '\0';
  }
}

static void error_vset(struct ftps_error *err, const char *fmt, va_list ap) {
  int n;

  n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
  if (n < 0) {
    err->msg[0] = '\0';
  }
}

void ftps_error_set(struct ftps_error *err, const char *fmt, ...) {
  va_list ap;

  /* A stale queue would be blamed on the next, unrelated failure. */
  ERR_clear_error();
  if (err == NULL) {
    return;
  }

  va_start(ap, fmt);
  error_vset(err, fmt, ap);
  va_end(ap);
}

char *ftps_error_ssl_reasons(char *buf, size_t bufsz) {
  unsigned long code;
  size_t used = 0;

  if (bufsz == 0) {
    return buf;
  }
  buf[0] = '\0';

  while ((code = ERR_get_error()) != 0) {
    const char *reason = ERR_reason_error_string(code);
    char unknown[32];
    int n;

    if (reason == NULL) {
      snprintf(unknown, sizeof(unknown), "error %lx", code);
      reason = unknown;
    }

    /* The same reason often appears twice as the error unwinds. */
    if (strstr(buf, reason) != NULL) {
      continue;
    }

    n = snprintf(buf + used, bufsz - used, "%s%s", used > 0 ? ", " : "",
      reason);
    if (n < 0 || (size_t) n >= bufsz - used) {
      ERR_clear_error();
      break;
    }
    used += n;
  }

  return buf;
}

void ftps_error_set_ssl(struct ftps_error *err, const char *fmt, ...) {
  va_list ap;
  char reasons[FTPS_ERROR_MAX];
  size_t len;

  ftps_error_ssl_reasons(reasons, sizeof(reasons));
  if (err == NULL) {
    return;
  }

  va_start(ap, fmt);
  error_vset(err, fmt, ap);
  va_end(ap);

  len = strlen(err->msg);
  if (reasons[0] != '\0' && len + 3 < sizeof(err->msg)) {
    size_t room = sizeof(err->msg) - len - 3, n = strlen(reasons);

    if (n > room) {
      n = room;
    }
    memcpy(err->msg + len, ": ", 2);
    memcpy(err->msg + len + 2, reasons, n);
    err->msg[len + 2 + n] = '\0';
  }
}

int ftps_error_pem_end(void) {
  unsigned long code = ERR_peek_last_error();

  if (ERR_GET_LIB(code) == ERR_LIB_PEM &&
      ERR_GET_REASON(code) == PEM_R_NO_START_LINE) {
    ERR_clear_error();
    return 1;
  }
  return 0;
}
