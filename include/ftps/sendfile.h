/*
 * ftps/sendfile.h - what mod_xfer knows of data protection: downloads by
 * sendfile(2) only where the kernel encrypts.
 *
 * mod_xfer never uses sendfile under PROT P: it learns from each PROT
 * command (its POST_CMD handler) that the data channel is protected, and
 * sendfile would bypass the NetIO layer that encrypts.  On a data
 * connection whose sending side kernel TLS has taken (ftps/ktls.h), the
 * kernel encrypts whatever is written to the socket, sendfile included:
 * that is what OpenSSL's SSL_sendfile() does.  So for exactly such a
 * connection mod_xfer is told "PROT C" (its own handler, called
 * directly), and "PROT P" again as soon as the connection is released or
 * the command ends.  Every other connection, and every moment outside one,
 * leaves mod_xfer with what the client asked for: the fail-safe state is
 * "protected, no sendfile".
 */
#ifndef FTPS_SENDFILE_H
#define FTPS_SENDFILE_H

/* ftps_sendfile_allow - after a data handshake: 1 lets mod_xfer use
 * sendfile on this connection (only if its sending side is kernel TLS);
 * 0 returns mod_xfer to "protected".  Returns the state now in force
 * (1: sendfile allowed); 0 also when mod_xfer is not loaded. */
int ftps_sendfile_allow(int kernel_send);

/* ftps_sendfile_forbid - tell mod_xfer the data channel is protected, as
 * if "PROT P" had been accepted (after AUTH SSL, which protects it without
 * a PROT command) */
void ftps_sendfile_forbid(void);

#endif /* FTPS_SENDFILE_H */
