/*
 * ftps/server.h - each server's (vhost's) TLS settings and SSL_CTX, loaded
 * and validated once in the master at startup, inherited by sessions.
 */
#ifndef FTPS_SERVER_H
#define FTPS_SERVER_H

#include <openssl/ssl.h>

#include "mod_ftps.h"

/* ftps_server_load_all - for every server with TLSEngine on: read its
 * certificates and keys (as root), check them, and build its SSL_CTX.
 * Problems that must stop the daemon are logged, naming the directive, the
 * file and the reason, and make it return -1; warnings are logged too. */
int ftps_server_load_all(void);

/* ftps_server_free_all - free every SSL_CTX */
void ftps_server_free_all(void);

/* ftps_server_restart - at a restart: free every SSL_CTX, and leave each
 * server's last good certificates to the next ftps_server_load_all(),
 * which then keeps them for a server whose new files fail a check, and
 * refuses to start for no certificate problem (ftps/reload.h) */
void ftps_server_restart(void);

/* ftps_server_unload - the module goes for good: free everything */
void ftps_server_unload(void);

/* ftps_server_watch - FTPSCertificateWatch, in the master: servers whose
 * certificate, key or chain files changed (stat(), following links) read
 * them again; material that passes every check serves the sessions forked
 * from now on, otherwise the last good one stays and the change is tried
 * again when the files change again.  Returns how many servers took new
 * material. */
int ftps_server_watch(void);

/* ftps_server_watch_pending - how many servers ftps_server_watch() would
 * read again: their files differ from those of their last good material
 * (stat() only) */
int ftps_server_watch_pending(void);

/* ftps_server_watch_unhold - files held after TLSPassPhraseProvider hung
 * on them are read again at the next look (daily: a provider that hung
 * once must not cost a renewal for good) */
void ftps_server_watch_unhold(void);

/* ftps_server_warn_expiry - warn about every certificate that has expired
 * or expires within FTPSCertificateExpiryWarning days (daily) */
void ftps_server_warn_expiry(void);

/* ftps_server_unavailable - 1 if s has TLSEngine on but no certificate it
 * can serve (after a restart found none good): its sessions are refused */
int ftps_server_unavailable(server_rec *s);

/* ftps_server_ctx - the SSL_CTX of s, or NULL when s has no usable
 * certificate (AUTH is then answered with 431) */
SSL_CTX *ftps_server_ctx(server_rec *s);

/* ftps_server_ctx_groups - the key-exchange groups ctx (a server's
 * SSL_CTX) was given: its server's TLSECDHCurve, or the default; NULL if
 * ctx is no server's */
const char *ftps_server_ctx_groups(SSL_CTX *ctx);

/* ftps_server_client_ctx - the SSL_CTX for s's side of SSCN data
 * connections, where it is the TLS client (NULL with ftps_server_ctx) */
SSL_CTX *ftps_server_client_ctx(server_rec *s);

/* ftps_server_engine - 1 if TLSEngine is on for s */
int ftps_server_engine(server_rec *s);

/* ftps_server_options - the TLSOptions of s, OR-ed over every line */
unsigned long ftps_server_options(server_rec *s);

/* ftps_server_session_cache - 0 if TLSSessionCache is off for s, else 1;
 * *timeout (if not NULL) gets its lifetime in seconds, 0 for the default */
int ftps_server_session_cache(server_rec *s, long *timeout);

/* ftps_server_verify_client - TLSVerifyClient of s: FTPS_VERIFY_* */
int ftps_server_verify_client(server_rec *s);

/* ftps_server_rekey - TLSRenegotiate of s: seconds between key updates of
 * the control connection, kilobytes between those of a data connection
 * (0: never, also without the directive) */
void ftps_server_rekey(server_rec *s, long *ctrl_secs, long *data_kb);

/* ftps_server_kernel_tls - FTPSKernelTLS of s (on by default) */
int ftps_server_kernel_tls(server_rec *s);

/* ftps_server_handshake_timeout - TLSTimeoutHandshake of s, in seconds */
int ftps_server_handshake_timeout(server_rec *s);

#endif /* FTPS_SERVER_H */
