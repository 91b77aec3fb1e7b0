/*
 * ftps/ocsp.h - OCSP responses for stapling (RFC 6960, RFC 6066 section 8):
 * build the request for a certificate, ask the responder over HTTP, and
 * check a response before it is stapled.  Pure OpenSSL: no ProFTPD (the
 * glue, stapling.c, runs the exchange in a child of the master, off the
 * handshake path).
 */
#ifndef FTPS_OCSP_H
#define FTPS_OCSP_H

#include <stddef.h>
#include <time.h>
#include <openssl/x509.h>

#include "ftps/error.h"

/* A response without nextUpdate is stapled this long after thisUpdate
 * (mod_tls takes such a response for stale after an hour too). */
#define FTPS_OCSP_NO_NEXT_UPDATE_LIFE 3600
/* Clock skew allowed on thisUpdate (a responder slightly ahead of us). */
#define FTPS_OCSP_SKEW 300
/* Bounds on how soon to fetch again (seconds). */
#define FTPS_OCSP_REFRESH_MIN 60
#define FTPS_OCSP_RETRY 300
/* The largest response accepted (real ones are a few kilobytes). */
#define FTPS_OCSP_MAX_RESPONSE (64 * 1024)

/* ftps_ocsp_check flags */
#define FTPS_OCSP_NO_VERIFY 0x01   /* TLSStaplingOptions NoVerify: skip the
                                    * signature (times and status are still
                                    * checked) */

struct ftps_ocsp_status {
  int response_status;   /* OCSP_RESPONSE_STATUS_*, -1 unparsed */
  int cert_status;       /* V_OCSP_CERTSTATUS_*, -1 when not found */
  int reason;            /* revocation reason, -1 if none */
  time_t this_update;    /* 0 when unknown */
  time_t next_update;    /* 0 when absent */
  time_t valid_until;    /* when the staple must stop being sent */
};

/* ftps_ocsp_find_issuer - the certificate in chain that issued cert, or
 * NULL (not a new reference) */
X509 *ftps_ocsp_find_issuer(X509 *cert, STACK_OF(X509) *chain);

/* ftps_ocsp_responder_url - the first OCSP URL of cert's Authority
 * Information Access (RFC 5280 section 4.2.2.1), as a malloc'd string, or
 * NULL (ENOENT) */
char *ftps_ocsp_responder_url(X509 *cert);

/* ftps_ocsp_request - a DER OCSPRequest for cert (issued by issuer), with a
 * nonce (RFC 6960 section 4.4.1) unless nonce is 0.  *der is malloc'd
 * (free with OPENSSL_free).  Returns 0, or -1 with errno and err set. */
int ftps_ocsp_request(X509 *cert, X509 *issuer, int nonce,
  unsigned char **der, size_t *len, struct ftps_error *err);

/* ftps_ocsp_check - may this DER response be stapled for cert at now?  It
 * must be a successful response, signed by issuer or by a responder that
 * issuer delegated (RFC 6960 section 4.2.2.2; untrusted may hold that
 * responder's certificate when the response does not), carry cert's
 * status as good, have thisUpdate not in the future (FTPS_OCSP_SKEW) and
 * nextUpdate after thisUpdate and now.  When req (the DER request sent) has
 * a nonce, a response with another nonce is refused; one without is
 * accepted (many responders pre-sign).  st is filled as far as the
 * response could be read.  Returns 0, or -1 with errno and err set:
 * EINVAL malformed, EAGAIN the responder did not answer "successful",
 * EPERM bad signature or nonce, ENOENT no status for cert, EKEYREVOKED
 * revoked, ENOKEY status unknown, ETIME expired or not yet valid. */
int ftps_ocsp_check(const unsigned char *der, size_t len, X509 *cert,
  X509 *issuer, STACK_OF(X509) *untrusted, const unsigned char *req,
  size_t req_len, unsigned int flags, time_t now,
  struct ftps_ocsp_status *st, struct ftps_error *err);

/* ftps_ocsp_refresh_at - when to fetch a new response for one that was
 * good at now: halfway through its validity (as mod_tls does), never
 * sooner than FTPS_OCSP_REFRESH_MIN from now */
time_t ftps_ocsp_refresh_at(const struct ftps_ocsp_status *st, time_t now);

/* ftps_ocsp_read_file - read a DER response file (at most
 * FTPS_OCSP_MAX_RESPONSE bytes) into a malloc'd buffer.  Returns 0, or -1
 * with errno and err set. */
int ftps_ocsp_read_file(const char *path, unsigned char **der, size_t *len,
  struct ftps_error *err);

/* ftps_ocsp_status_str - "good", "revoked", "unknown" or "none" */
const char *ftps_ocsp_status_str(int cert_status);

/* ftps_ocsp_is_response - 1 if der holds one OCSP response (whatever
 * its status) and nothing after it, else 0 */
int ftps_ocsp_is_response(const unsigned char *der, size_t len);

/* ftps_ocsp_exchange - POST req to the responder at url (RFC 6960 appendix
 * A.1; blocking, bounded by timeout seconds): 0 with the body of its 200
 * answer in *body (malloc()ed, up to FTPS_OCSP_MAX_RESPONSE + 1 bytes,
 * whatever it holds), 1 when it answered with something else (an HTTP
 * error status, not HTTP: said in why), -1 when it did not answer (why) */
int ftps_ocsp_exchange(const char *url, const unsigned char *req,
  size_t req_len, int timeout, unsigned char **body, size_t *len,
  char *why, size_t whysz);

#endif /* FTPS_OCSP_H */
