/*
 * ftps/rekey.h - when a connection's TLS 1.3 keys are due for renewal
 * (TLSRenegotiate), as pure bookkeeping: the caller passes the clock and
 * sends the KeyUpdate (ftps_tls_key_update).
 */
#ifndef FTPS_REKEY_H
#define FTPS_REKEY_H

#include <stddef.h>

/* The least time between two key updates of a data connection, whatever
 * TLSRenegotiate data says: GnuTLS clients (lftp) end a connection that
 * gets more than 8 KeyUpdates in a second, as a guard against floods. */
#define FTPS_REKEY_SPACING_MS 250LL

struct ftps_rekey_state {
  unsigned long long since_bytes;  /* sent since the keys were new */
  long long last_ms;               /* when they were new */
  unsigned int count;              /* key updates so far */
  int off;                         /* no more updates (TLS 1.2, failure) */
};

/* ftps_rekey_start - a new connection, its keys new at now_ms */
void ftps_rekey_start(struct ftps_rekey_state *st, long long now_ms);

/* ftps_rekey_data_due - n more bytes went out on a data connection: are
 * its keys due (limit bytes since the last update, 0 = never), with the
 * updates at least FTPS_REKEY_SPACING_MS apart?  1 or 0. */
int ftps_rekey_data_due(struct ftps_rekey_state *st,
  unsigned long long limit, size_t n, long long now_ms);

/* ftps_rekey_ctrl_due - has a control connection had its keys for secs
 * seconds (0 = never)?  1 or 0. */
int ftps_rekey_ctrl_due(const struct ftps_rekey_state *st, long secs,
  long long now_ms);

/* ftps_rekey_done - the KeyUpdate went out at now_ms */
void ftps_rekey_done(struct ftps_rekey_state *st, long long now_ms);

#endif /* FTPS_REKEY_H */
