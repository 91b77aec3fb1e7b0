/*
 * ftps/ticketkeys.h - the keys that encrypt session tickets (RFC 5077
 * section 4; RFC 8446 section 4.6.1), made and rotated in the master.
 *
 * A ticket is the whole session, encrypted under a key only the server
 * knows: whoever steals that key can decrypt every session resumed or
 * begun under it (forward secrecy ends where the key lives).  So keys
 * rotate (TLSSessionTicketKeys, mod_tls's grammar "age secs", "count n"):
 *
 * - the master makes a key at its first start, at every restart, and
 *   every interval (a quarter of the age, at most an hour);
 * - the newest key encrypts; older ones only decrypt, until they are
 *   "age" old or more than "count" keys exist: a ticket under a key that
 *   is gone means a full handshake, never an error;
 * - sessions get the ring as it is when they fork; a session that lives
 *   longer than half the age makes a key of its own for its tickets (its
 *   data connections keep resuming; other processes cannot read them),
 *   and its data connections may resume its tickets under keys that aged
 *   out since (the binding demands the session's own token);
 * - the ring lives in one mapping, locked in memory where possible, kept
 *   out of core dumps and wiped when a key or the mapping goes; it
 *   outlives this DSO, which mod_dso unloads and loads again at every
 *   restart (its address waits in the master's environment), so clients
 *   resume across a reload.
 *
 * The ring also holds a random secret from which each vhost's ticket
 * scope (binding.h) is derived: stable across restarts, and different for
 * every vhost.
 */
#ifndef FTPS_TICKETKEYS_H
#define FTPS_TICKETKEYS_H

#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>

#include "ftps/error.h"

#define FTPS_TICKETKEYS_AGE_DEFAULT   43200U  /* mod_tls's: 12 h */
#define FTPS_TICKETKEYS_COUNT_DEFAULT 25U     /* mod_tls's */
#define FTPS_TICKETKEYS_AGE_MIN       10U     /* mod_tls: 60 */
#define FTPS_TICKETKEYS_COUNT_MAX     1000U
#define FTPS_TICKETKEYS_SCOPE_LEN     16

struct ftps_ticketkeys_conf {
  unsigned int max_age;     /* seconds a key decrypts */
  unsigned int max_count;   /* keys kept at most */
};

/* ftps_ticketkeys_conf_init - mod_tls's defaults */
void ftps_ticketkeys_conf_init(struct ftps_ticketkeys_conf *conf);

/* ftps_ticketkeys_parse - TLSSessionTicketKeys' parameters (argc words
 * after the directive name): "age" and "count", each followed by its
 * value, in any order, each at most once; age is a duration ("90",
 * "90s", "15m", "12h", "hh:mm:ss") of at least FTPS_TICKETKEYS_AGE_MIN
 * seconds, count a number from 1 to FTPS_TICKETKEYS_COUNT_MAX.  What is
 * not given keeps its default.  Returns 0, or -1 (EINVAL) with err naming
 * the word. */
int ftps_ticketkeys_parse(int argc, char *const *argv,
  struct ftps_ticketkeys_conf *conf, struct ftps_error *err);

/* ftps_ticketkeys_interval - seconds between the master's new keys */
unsigned int ftps_ticketkeys_interval(const struct ftps_ticketkeys_conf *conf);

/* ftps_ticketkeys_start - in the master, before the contexts are built:
 * find the ring a previous load of this module left (a restart) or make
 * one, apply conf (the oldest keys go if count shrank), and add a new key.
 * *made gets its serial number, *dropped the number of keys that went.
 * Returns 0, or -1 with errno (no memory, no random bytes). */
int ftps_ticketkeys_start(const struct ftps_ticketkeys_conf *conf,
  time_t now, unsigned long *made, int *dropped);

/* ftps_ticketkeys_rotate - the master's timer: drop keys that aged out,
 * add a new one (dropping the oldest beyond count).  As above. */
int ftps_ticketkeys_rotate(time_t now, unsigned long *made, int *dropped);

/* ftps_ticketkeys_count - keys in the ring (0 without one) */
int ftps_ticketkeys_count(void);

/* ftps_ticketkeys_newest - the serial number of the newest key (0: none) */
unsigned long ftps_ticketkeys_newest(void);

/* ftps_ticketkeys_lock - lock the ring in memory (locks are not inherited
 * across fork: a session calls this again).  0, or -1 with errno. */
int ftps_ticketkeys_lock(void);

/* ftps_ticketkeys_scope - the ticket scope of a vhost described by label
 * (HMAC-SHA256 under the ring's secret): the same label gives the same
 * scope across restarts.  0, or -1 (no ring, or OpenSSL failed). */
int ftps_ticketkeys_scope(const void *label, size_t len,
  unsigned char scope[FTPS_TICKETKEYS_SCOPE_LEN]);

/* ftps_ticketkeys_install - encrypt and decrypt ctx's tickets with the
 * ring (SSL_CTX_set_tlsext_ticket_key_evp_cb).  0, or -1 with err set. */
int ftps_ticketkeys_install(SSL_CTX *ctx, struct ftps_error *err);

/* ftps_ticketkeys_release - wipe and unmap the ring (unit tests; a daemon
 * keeps it for its restarts) */
void ftps_ticketkeys_release(void);

/* For the unit tests: the ticket key callback, with the clock given and
 * data = 1 on a data connection (binding.h). */
int ftps_ticketkeys_cb_at(time_t now, int data, unsigned char *name,
  unsigned char *iv, EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc);

#endif /* FTPS_TICKETKEYS_H */
