/*
 * ftps/ktls.h - does this kernel offer kernel TLS (the `tls` TCP ULP)?
 *
 * With kernel TLS, OpenSSL hands the record layer of a connection to the
 * kernel after the handshake (SSL_OP_ENABLE_KTLS): the kernel encrypts
 * what the process writes and decrypts what it reads, and a download skips
 * a user-space pass over each chunk.  Whether a connection gets it depends
 * on the kernel (the `tls` module, which a container's kernel may lack),
 * on the protocol version and cipher, and on OpenSSL.  The kernel part is
 * asked once, in the master, here: OpenSSL is only told to try when the
 * kernel would accept, so that a kernel without the module costs no
 * failing system calls per connection.
 */
#ifndef FTPS_KTLS_H
#define FTPS_KTLS_H

/* ftps_ktls_probe - ask the kernel, on a loopback TCP connection, whether
 * it accepts the tls ULP: 1 yes, 0 no (ftps_ktls_reason() says why).  The
 * answer is kept for ftps_ktls_available(); call again to refresh it. */
int ftps_ktls_probe(void);

/* ftps_ktls_available - the last probe's answer (0 before any probe) */
int ftps_ktls_available(void);

/* ftps_ktls_reason - why kernel TLS is unavailable, for the logs ("the
 * kernel offers no tls ULP"); "" when it is available */
const char *ftps_ktls_reason(void);

#endif /* FTPS_KTLS_H */
