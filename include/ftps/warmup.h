/*
 * ftps/warmup.h - one TLS handshake in memory, in the master, before any
 * session is forked.
 *
 * OpenSSL 3 builds much of its state at first use: the algorithms a
 * handshake fetches from the providers, their method caches, the random
 * generators.  A session process that does this itself after fork() pays
 * for it in CPU and in private memory (each page it writes is copied
 * from the master: about 500 KiB per session).  Done once in the master,
 * every session inherits the warm state and shares its pages.
 */
#ifndef FTPS_WARMUP_H
#define FTPS_WARMUP_H

#include <openssl/ssl.h>

/* ftps_warmup_run - handshakes (TLS 1.3, and TLS 1.2, as far as ctx allows
 * them) between an in-memory client and a server connection from ctx,
 * with a few bytes each way and a resumption.  Nothing of them stays in
 * ctx's session cache.  Returns the number of handshakes that completed
 * (0 is no error: a context that requires client certificates, say, only
 * warms less). */
int ftps_warmup_run(SSL_CTX *ctx);

/* ftps_warmup_probe - the TLS versions (FTPS_WARMUP_TLS13,
 * FTPS_WARMUP_TLS12) in which a handshake with ctx completes, the server
 * asking for no client certificate: can clients be served with ctx's
 * certificates (a renewal's test handshake, whatever TLSVerifyClient
 * says)? */
#define FTPS_WARMUP_TLS13 0x01
#define FTPS_WARMUP_TLS12 0x02
int ftps_warmup_probe(SSL_CTX *ctx);

#endif /* FTPS_WARMUP_H */
