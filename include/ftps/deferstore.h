/*
 * ftps/deferstore.h - an overwritten upload keeps its old content until the
 * upload's data connection has proven itself.
 *
 * mod_xfer opens (and truncates) a STOR target before the data connection
 * exists; a data connection then refused for not resuming the control
 * session (RFC 4217 section 10.2) would leave the old file empty
 * (proftpd#1931).  A thin FSIO layer at "/" opens the target without
 * O_TRUNC, and truncates it only when the first byte arrives, or at close
 * when an empty upload completed.
 */
#ifndef FTPS_DEFERSTORE_H
#define FTPS_DEFERSTORE_H

#include "mod_ftps.h"

/* ftps_deferstore_install - add the layer for this session; -1 if it
 * cannot be added (the uploads then behave as without it) */
int ftps_deferstore_install(pool *p);

/* ftps_deferstore_expect - the next open of the file (dev, ino) that asks
 * for O_TRUNC is deferred */
void ftps_deferstore_expect(dev_t dev, ino_t ino);

/* ftps_deferstore_forget - no open is expected any more */
void ftps_deferstore_forget(void);

#endif /* FTPS_DEFERSTORE_H */
