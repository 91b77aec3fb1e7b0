/*
 * ftps/deferstore.h - an overwritten upload keeps its old content until the
 * upload's data connection has proven itself.
 *
 * mod_xfer opens (and truncates, or creates) a STOR/APPE target before the
 * data connection exists; a data connection then refused for not resuming
 * the control session (RFC 4217 section 10.2) would leave the old file
 * empty, or a new empty one (proftpd#1931).  A thin FSIO layer at "/" opens
 * an existing target without O_TRUNC and truncates it only when the first
 * byte arrives (or at close, when an empty upload completed); a new target
 * that stays empty after a refusal is removed again.
 */
#ifndef FTPS_DEFERSTORE_H
#define FTPS_DEFERSTORE_H

#include "mod_ftps.h"

/* ftps_deferstore_install - add the layer for this session; -1 if it
 * cannot be added (the uploads then behave as without it) */
int ftps_deferstore_install(pool *p);

/* ftps_deferstore_expect - before an upload of path (STOR overwrites, APPE
 * never truncates): remember what the upload may damage */
void ftps_deferstore_expect(pool *p, const char *path, int overwrite);

/* ftps_deferstore_failed - the upload failed: if its data connection was
 * refused, remove the new empty file it created; forget the upload */
void ftps_deferstore_failed(void);

/* ftps_deferstore_forget - no upload is pending any more */
void ftps_deferstore_forget(void);

#endif /* FTPS_DEFERSTORE_H */
