/*
 * rekey.c - when a connection's TLS 1.3 keys are due (ftps/rekey.h).
 *
 * RFC 8446 section 5.5 bounds how much data one key may protect; the
 * administrator's TLSRenegotiate sets tighter bounds: bytes on a data
 * connection, time on the control connection.
 */
#include "ftps/rekey.h"

void ftps_rekey_start(struct ftps_rekey_state *st, long long now_ms) {
  st->since_bytes = 0;
  st->last_ms = now_ms;
  st->count = 0;
  st->off = 0;
}

int ftps_rekey_data_due(struct ftps_rekey_state *st,
    unsigned long long limit, size_t n, long long now_ms) {
  if (st->off ||
      limit == 0) {
    return 0;
  }

  st->since_bytes += n;
  if (st->since_bytes < limit) {
    return 0;
  }

  /* The first update may come at once; later ones keep their distance. */
  return st->count == 0 ||
    now_ms - st->last_ms >= FTPS_REKEY_SPACING_MS;
}

int ftps_rekey_ctrl_due(const struct ftps_rekey_state *st, long secs,
    long long now_ms) {
  return !st->off &&
    secs > 0 &&
    now_ms - st->last_ms >= (long long) secs * 1000LL;
}

void ftps_rekey_done(struct ftps_rekey_state *st, long long now_ms) {
  st->since_bytes = 0;
  st->last_ms = now_ms;
  st->count++;
}
