/*
 * ftps/deferstore.h - only a successful upload may replace a file's
 * content.
 *
 * mod_xfer opens (and truncates, or creates) a STOR/APPE target before the
 * data connection exists.  A data connection that is then refused (for not
 * resuming the control session, RFC 4217 section 10.2; or a PORT target
 * that refuses the connection), or one that ends before its first byte,
 * would leave the old file empty, or a new empty one (proftpd#1931); with
 * DeleteAbortedStores the core would even delete the old file.  A thin
 * FSIO layer at "/" therefore:
 *  - opens an existing target without O_TRUNC and truncates it when the
 *    first byte arrives, or, for an empty upload, once the command has
 *    succeeded;
 *  - keeps an existing target from being deleted (DeleteAbortedStores)
 *    while no byte of the upload has arrived, or when the upload only
 *    added to it (APPE, a restarted STOR);
 *  - cuts the old tail off at the close when the new bytes went past our
 *    write callback (a layer above ours, such as mod_quotatab's);
 *  - removes again the new, empty file of an upload that failed;
 *  - notes a file read that fails during a data command: the download
 *    it aborts must not end with close_notify.
 * Once a byte has arrived the file is overwritten in place, as ProFTPD
 * does (HiddenStores keeps the original until the upload completes).
 *
 * The state is a fixed set of statics: nothing grows per upload.
 */
#ifndef FTPS_DEFERSTORE_H
#define FTPS_DEFERSTORE_H

#include "mod_ftps.h"

/* ftps_deferstore_install - add the layer for this session (once); -1
 * with errno if it cannot be added */
int ftps_deferstore_install(pool *p);

/* ftps_deferstore_expect - before an upload of path (STOR overwrites, APPE
 * and a restarted STOR do not truncate): remember what it may damage */
void ftps_deferstore_expect(const char *path, int overwrite);

/* ftps_deferstore_succeeded - the upload succeeded: an empty upload over
 * an existing file now empties it.  0, or -1 with errno when the file
 * could not be emptied (it then keeps its old content) */
int ftps_deferstore_succeeded(void);

/* ftps_deferstore_failed - the upload failed: an existing file that got no
 * byte keeps its content; a new file left empty is removed */
void ftps_deferstore_failed(void);

/* ftps_deferstore_forget - no upload is pending any more */
void ftps_deferstore_forget(void);

/* ftps_deferstore_watch_reads - a data command begins: from now on, note
 * a file read that fails (a download the core aborts for it must not end
 * with close_notify, as a complete one does) */
void ftps_deferstore_watch_reads(void);

/* ftps_deferstore_read_failed - 1 if a file read failed since the data
 * command began, else 0 */
int ftps_deferstore_read_failed(void);

#endif /* FTPS_DEFERSTORE_H */
