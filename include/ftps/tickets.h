/*
 * ftps/tickets.h - TLSSessionTicketKeys, and the master's ring of session
 * ticket keys (ticketkeys.h) in the life of the daemon: made at startup,
 * kept and renewed at restarts, rotated by a timer, locked again in each
 * session.
 */
#ifndef FTPS_TICKETS_H
#define FTPS_TICKETS_H

#include <openssl/ssl.h>

#include "mod_ftps.h"
#include "ftps/context.h"

/* usage: TLSSessionTicketKeys [age secs] [count n] */
modret_t *set_tlssessionticketkeys(cmd_rec *cmd);

/* ftps_tickets_start - in the master at every (re)start, before the
 * contexts are built: a new key in the ring (which a restart keeps), and
 * the rotation timer.  0, or -1 (logged). */
int ftps_tickets_start(void);

/* ftps_tickets_ctx - ctx of server s takes its tickets' keys from the
 * ring, and a scope derived from what authenticates a session on s (its
 * identity and client-certificate settings), the same after a restart as
 * long as these stay.  0, or -1 (logged). */
int ftps_tickets_ctx(server_rec *s, SSL_CTX *ctx,
  const struct ftps_context_props *props);

/* ftps_tickets_sess_init - in a new session: lock the ring in memory
 * again (fork does not pass locks on) */
void ftps_tickets_sess_init(void);

#endif /* FTPS_TICKETS_H */
