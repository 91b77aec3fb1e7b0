/*
 * ocsp.c - OCSP requests and response checks for stapling (ftps/ocsp.h).
 *
 * A staple is the server's word to the client that its certificate is not
 * revoked: one that is forged, stale or says "revoked" must never be sent
 * (RFC 6066 section 8 lets a server send nothing instead), so everything a
 * client would check is checked here first.
 */
#define _DEFAULT_SOURCE            /* timegm */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/httperr.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "ftps/ocsp.h"

X509 *ftps_ocsp_find_issuer(X509 *cert, STACK_OF(X509) *chain) {
  int i;

  for (i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
    X509 *c = sk_X509_value(chain, i);

    if (X509_check_issued(c, cert) == X509_V_OK) {
      return c;
    }
  }
  return NULL;
}

char *ftps_ocsp_responder_url(X509 *cert) {
  STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(cert);
  char *url = NULL;

  if (urls != NULL &&
      sk_OPENSSL_STRING_num(urls) > 0) {
    url = strdup(sk_OPENSSL_STRING_value(urls, 0));
  }
  X509_email_free(urls);
  if (url == NULL) {
    errno = ENOENT;
  }
  return url;
}

int ftps_ocsp_request(X509 *cert, X509 *issuer, int nonce,
    unsigned char **der, size_t *len, struct ftps_error *err) {
  OCSP_REQUEST *req = OCSP_REQUEST_new();
  OCSP_CERTID *id = OCSP_cert_to_id(NULL, cert, issuer);
  int n = -1;

  *der = NULL;
  if (req != NULL &&
      id != NULL &&
      OCSP_request_add0_id(req, id) != NULL) {
    id = NULL;                     /* now the request's */
    if (!nonce ||
        OCSP_request_add1_nonce(req, NULL, -1) == 1) {
      n = i2d_OCSP_REQUEST(req, der);
    }
  }
  OCSP_CERTID_free(id);
  OCSP_REQUEST_free(req);
  if (n <= 0) {
    ftps_error_set_ssl(err, "cannot build an OCSP request");
    errno = ENOMEM;
    return -1;
  }
  *len = (size_t) n;
  return 0;
}

/* asn1_time - t as a time_t (0 when t is NULL or unreadable) */
static time_t asn1_time(const ASN1_GENERALIZEDTIME *t) {
  struct tm tm;

  if (t == NULL ||
      ASN1_TIME_to_tm(t, &tm) != 1) {
    return 0;
  }
  return timegm(&tm);
}

/* verify_signature - the response is signed by issuer, or by a responder
 * whose certificate issuer signed for OCSP signing (OCSP_basic_verify's
 * issuer check) */
static int verify_signature(OCSP_BASICRESP *bs, X509 *issuer,
    STACK_OF(X509) *untrusted, struct ftps_error *err) {
  X509_STORE *store = X509_STORE_new();
  STACK_OF(X509) *certs = untrusted != NULL ? sk_X509_dup(untrusted) :
    sk_X509_new_null();
  int ok = 0;

  /* The issuer is the anchor, even when it is an intermediate CA: the
   * client checks the path above it when it checks the certificate. */
  if (store != NULL &&
      certs != NULL &&
      X509_STORE_add_cert(store, issuer) == 1 &&
      X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN) == 1 &&
      sk_X509_push(certs, issuer) > 0) {
    ok = OCSP_basic_verify(bs, certs, store, 0) == 1;
  }
  sk_X509_free(certs);
  X509_STORE_free(store);
  if (!ok) {
    ftps_error_set_ssl(err, "the OCSP response is not signed by the "
      "certificate's issuer or a responder it authorized");
    errno = EPERM;
    return -1;
  }
  return 0;
}

/* find_single - cert's status in bs; the certificate ID is made with each
 * hash the responder used (SHA-1 is usual, RFC 6960 allows others) */
static int find_single(OCSP_BASICRESP *bs, X509 *cert, X509 *issuer,
    int *status, int *reason, ASN1_GENERALIZEDTIME **thisupd,
    ASN1_GENERALIZEDTIME **nextupd) {
  int i, found = 0;

  for (i = 0; i < OCSP_resp_count(bs) && !found; i++) {
    OCSP_SINGLERESP *single = OCSP_resp_get0(bs, i);
    const OCSP_CERTID *sid = OCSP_SINGLERESP_get0_id(single);
    ASN1_OBJECT *md_oid = NULL;
    const EVP_MD *md;
    OCSP_CERTID *id;

    if (OCSP_id_get0_info(NULL, &md_oid, NULL, NULL,
          (OCSP_CERTID *) sid) != 1 ||
        (md = EVP_get_digestbyobj(md_oid)) == NULL) {
      continue;
    }
    id = OCSP_cert_to_id(md, cert, issuer);
    if (id != NULL &&
        OCSP_resp_find_status(bs, id, status, reason, NULL, thisupd,
          nextupd) == 1) {
      found = 1;
    }
    OCSP_CERTID_free(id);
  }
  return found ? 0 : -1;
}

/* check_nonce - a nonce in the request must come back unchanged
 * (RFC 6960 section 4.4.1); its absence is tolerated */
static int check_nonce(OCSP_BASICRESP *bs, const unsigned char *req,
    size_t req_len, struct ftps_error *err) {
  const unsigned char *p = req;
  OCSP_REQUEST *r;
  int res;

  if (req == NULL) {
    return 0;
  }
  r = d2i_OCSP_REQUEST(NULL, &p, (long) req_len);
  if (r == NULL) {
    ftps_error_set_ssl(err, "cannot read the OCSP request");
    errno = EINVAL;
    return -1;
  }
  res = OCSP_check_nonce(r, bs);
  OCSP_REQUEST_free(r);
  if (res == 0) {
    ftps_error_set(err, "the OCSP response's nonce is not the request's "
      "(a replayed response?)");
    errno = EPERM;
    return -1;
  }
  return 0;
}

/* check_times - thisUpdate not ahead of now, nextUpdate after both */
static int check_times(struct ftps_ocsp_status *st, time_t now,
    struct ftps_error *err) {
  if (st->this_update == 0) {
    ftps_error_set(err, "the OCSP response has no readable thisUpdate");
    errno = EINVAL;
    return -1;
  }
  if (st->next_update != 0 &&
      st->next_update <= st->this_update) {
    ftps_error_set(err, "the OCSP response's nextUpdate is not after its "
      "thisUpdate");
    errno = EINVAL;
    return -1;
  }
  st->valid_until = st->next_update != 0 ? st->next_update :
    st->this_update + FTPS_OCSP_NO_NEXT_UPDATE_LIFE;
  if (st->this_update > now + FTPS_OCSP_SKEW) {
    ftps_error_set(err, "the OCSP response is not valid yet (thisUpdate "
      "%lds ahead of our clock)", (long) (st->this_update - now));
    errno = ETIME;
    return -1;
  }
  if (st->valid_until <= now) {
    ftps_error_set(err, "the OCSP response expired %lds ago%s",
      (long) (now - st->valid_until), st->next_update != 0 ? " (nextUpdate)" :
      " (no nextUpdate: taken as valid for an hour)");
    errno = ETIME;
    return -1;
  }
  return 0;
}

/* check_status - the certificate's status must be good */
static int check_status(const struct ftps_ocsp_status *st,
    struct ftps_error *err) {
  if (st->cert_status == V_OCSP_CERTSTATUS_GOOD) {
    return 0;
  }
  if (st->cert_status == V_OCSP_CERTSTATUS_REVOKED) {
    ftps_error_set(err, "the OCSP responder says the certificate is "
      "REVOKED (reason: %s)", st->reason >= 0 ?
      OCSP_crl_reason_str(st->reason) : "none given");
    errno = EKEYREVOKED;

  } else {
    ftps_error_set(err, "the OCSP responder does not know the certificate "
      "(status unknown)");
    errno = ENOKEY;
  }
  return -1;
}

/* read_basic - the basic response inside a successful OCSPResponse */
static OCSP_BASICRESP *read_basic(const unsigned char *der, size_t len,
    struct ftps_ocsp_status *st, struct ftps_error *err) {
  const unsigned char *p = der;
  OCSP_RESPONSE *resp = NULL;
  OCSP_BASICRESP *bs = NULL;

  if (len > 0 && len <= FTPS_OCSP_MAX_RESPONSE) {
    resp = d2i_OCSP_RESPONSE(NULL, &p, (long) len);
  }
  if (resp == NULL ||
      p != der + len) {
    OCSP_RESPONSE_free(resp);
    ftps_error_set_ssl(err, "not a DER OCSP response");
    errno = EINVAL;
    return NULL;
  }
  st->response_status = OCSP_response_status(resp);
  if (st->response_status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    ftps_error_set(err, "the OCSP responder answered %s",
      OCSP_response_status_str(st->response_status));
    OCSP_RESPONSE_free(resp);
    errno = EAGAIN;
    return NULL;
  }
  bs = OCSP_response_get1_basic(resp);
  OCSP_RESPONSE_free(resp);
  if (bs == NULL) {
    ftps_error_set_ssl(err, "the OCSP response is not a basic response");
    errno = EINVAL;
  }
  return bs;
}

int ftps_ocsp_check(const unsigned char *der, size_t len, X509 *cert,
    X509 *issuer, STACK_OF(X509) *untrusted, const unsigned char *req,
    size_t req_len, unsigned int flags, time_t now,
    struct ftps_ocsp_status *st, struct ftps_error *err) {
  ASN1_GENERALIZEDTIME *thisupd = NULL, *nextupd = NULL;
  OCSP_BASICRESP *bs;
  int res = -1;

  memset(st, 0, sizeof(*st));
  st->response_status = st->cert_status = st->reason = -1;
  ftps_error_clear(err);

  bs = read_basic(der, len, st, err);
  if (bs == NULL) {
    return -1;
  }

  if (((flags & FTPS_OCSP_NO_VERIFY) ||
       verify_signature(bs, issuer, untrusted, err) == 0) &&
      check_nonce(bs, req, req_len, err) == 0) {
    if (find_single(bs, cert, issuer, &st->cert_status, &st->reason,
          &thisupd, &nextupd) < 0) {
      st->cert_status = -1;
      ftps_error_set(err, "the OCSP response has no status for this "
        "certificate");
      errno = ENOENT;

    } else {
      st->this_update = asn1_time(thisupd);
      st->next_update = asn1_time(nextupd);
      res = check_status(st, err) == 0 && check_times(st, now, err) == 0 ?
        0 : -1;
    }
  }

  OCSP_BASICRESP_free(bs);
  return res;
}

time_t ftps_ocsp_refresh_at(const struct ftps_ocsp_status *st, time_t now) {
  time_t at = st->this_update + (st->valid_until - st->this_update) / 2;

  if (at < now + FTPS_OCSP_REFRESH_MIN) {
    at = now + FTPS_OCSP_REFRESH_MIN;
  }
  return at;
}

int ftps_ocsp_read_file(const char *path, unsigned char **der, size_t *len,
    struct ftps_error *err) {
  struct stat st;
  unsigned char *buf;
  ssize_t n;
  size_t got = 0;
  int fd, xerrno;

  *der = NULL;
  /* O_NONBLOCK: the master reads this file at its ticks, and open() of a
   * FIFO put in its place would wait for a writer, holding up the master
   * (no session is accepted) for good; fstat() below refuses it. */
  fd = open(path, O_RDONLY|O_NOCTTY|O_CLOEXEC|O_NONBLOCK);
  if (fd < 0 ||
      fstat(fd, &st) < 0) {
    xerrno = errno;
    ftps_error_set(err, "cannot read it: %s", strerror(xerrno));
    if (fd >= 0) {
      close(fd);
    }
    errno = xerrno;
    return -1;
  }
  if (!S_ISREG(st.st_mode) ||
      st.st_size <= 0 ||
      st.st_size > FTPS_OCSP_MAX_RESPONSE) {
    ftps_error_set(err, "not a regular file of 1 to %d bytes",
      FTPS_OCSP_MAX_RESPONSE);
    close(fd);
    errno = EINVAL;
    return -1;
  }

  buf = malloc((size_t) st.st_size);
  while (buf != NULL &&
         got < (size_t) st.st_size &&
         ((n = read(fd, buf + got, (size_t) st.st_size - got)) > 0 ||
          (n < 0 && errno == EINTR))) {
    got += n > 0 ? (size_t) n : 0;
  }
  xerrno = buf == NULL ? ENOMEM : errno;
  close(fd);
  if (buf == NULL ||
      got != (size_t) st.st_size) {
    ftps_error_set(err, "cannot read it: %s", buf == NULL ?
      strerror(ENOMEM) : "short read");
    free(buf);
    errno = buf == NULL ? xerrno : EIO;
    return -1;
  }
  *der = buf;
  *len = got;
  return 0;
}

const char *ftps_ocsp_status_str(int cert_status) {
  switch (cert_status) {
    case V_OCSP_CERTSTATUS_GOOD:
      return "good";
    case V_OCSP_CERTSTATUS_REVOKED:
      return "revoked";
    case V_OCSP_CERTSTATUS_UNKNOWN:
      return "unknown";
  }
  return "none";
}

int ftps_ocsp_is_response(const unsigned char *der, size_t len) {
  const unsigned char *p = der;
  OCSP_RESPONSE *resp;
  int ok;

  if (der == NULL || len == 0 || len > FTPS_OCSP_MAX_RESPONSE) {
    return 0;
  }
  resp = d2i_OCSP_RESPONSE(NULL, &p, (long) len);
  ok = resp != NULL && p == der + len;
  OCSP_RESPONSE_free(resp);
  ERR_clear_error();
  return ok;
}

/* printable - up to max bytes of text into buf, those outside printable
 * ASCII as \xNN: the responder's words (plain HTTP, which anyone on the
 * path can write) go into the log, where a terminal escape or a carriage
 * return would hide or forge lines */
static const char *printable(char *buf, size_t bufsz, const char *text,
    size_t max) {
  size_t i, out = 0;

  for (i = 0; text[i] != '\0' && i < max && out + 5 < bufsz; i++) {
    unsigned char c = (unsigned char) text[i];

    if (c >= 0x20 && c < 0x7f && c != '\\') {
      buf[out++] = (char) c;

    } else {
      out += (size_t) snprintf(buf + out, bufsz - out, "\\x%02x", c);
    }
  }
  buf[out] = '\0';
  return buf;
}

/* http_status - "answered with HTTP status 500 (Internal Server Error)"
 * from OpenSSL's error data "code=500, reason=Internal Server Error" */
static void http_status(char *buf, size_t bufsz, const char *data) {
  const char *reason;
  char safe[420];
  int code = 0;

  if (data == NULL ||
      sscanf(data, "code=%d", &code) != 1) {
    snprintf(buf, bufsz, "answered with an HTTP status other than 200");
    return;
  }
  reason = strstr(data, "reason=");
  if (reason != NULL) {
    snprintf(buf, bufsz, "answered with HTTP status %d (%s)", code,
      printable(safe, sizeof(safe), reason + 7, 100));

  } else {
    snprintf(buf, bufsz, "answered with HTTP status %d", code);
  }
}

/* http_answer - after a failed exchange: what the responder answered that
 * was not a response (an HTTP error status, something that is not HTTP)
 * into buf; 0 when it did not answer at all (no connection, a timeout) */
static int http_answer(char *buf, size_t bufsz) {
  const char *data = NULL;
  unsigned long e;
  int flags = 0;

  while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
    if (ERR_GET_LIB(e) != ERR_LIB_HTTP) {
      continue;
    }
    switch (ERR_GET_REASON(e)) {
      case HTTP_R_RECEIVED_ERROR:
      case HTTP_R_STATUS_CODE_UNSUPPORTED:
      case HTTP_R_REDIRECTION_NOT_ENABLED:
        http_status(buf, bufsz, (flags & ERR_TXT_STRING) ? data : NULL);
        ERR_clear_error();
        return 1;
      case HTTP_R_RESPONSE_PARSE_ERROR:
      case HTTP_R_HEADER_PARSE_ERROR:
      case HTTP_R_RESPONSE_LINE_TOO_LONG:
      case HTTP_R_RECEIVED_WRONG_HTTP_VERSION:
        snprintf(buf, bufsz, "answered with something that is not HTTP "
          "(%s)", ERR_reason_error_string(e));
        ERR_clear_error();
        return 1;
      case HTTP_R_MAX_RESP_LEN_EXCEEDED:
      case HTTP_R_INCONSISTENT_CONTENT_LENGTH:
      case HTTP_R_ERROR_PARSING_CONTENT_LENGTH:
        snprintf(buf, bufsz, "answered with a body that is not an OCSP "
          "response (%s)", ERR_reason_error_string(e));
        ERR_clear_error();
        return 1;
    }
  }
  return 0;
}

/* read_body - the body of a response not expected to be ASN.1, read from
 * the connection (non-blocking: waited for until end) up to one byte past
 * the limit; 0, or -1 (why) on a timeout or failure */
static int read_body(BIO *resp, time_t end, unsigned char **body,
    size_t *len, char *why, size_t whysz) {
  unsigned char *buf = malloc(FTPS_OCSP_MAX_RESPONSE + 1);
  size_t total = 0;

  if (buf == NULL) {
    snprintf(why, whysz, "out of memory");
    return -1;
  }
  while (total <= FTPS_OCSP_MAX_RESPONSE) {
    int n = BIO_read(resp, buf + total,
      (int) (FTPS_OCSP_MAX_RESPONSE + 1 - total));

    if (n > 0) {
      total += (size_t) n;
      continue;
    }
    if (n == 0 ||
        !BIO_should_retry(resp)) {
      break;
    }
    if (BIO_wait(resp, end, 100) <= 0) {
      free(buf);
      ERR_clear_error();
      snprintf(why, whysz, "the response did not come whole within the "
        "timeout (TLSStaplingTimeout)");
      return -1;
    }
  }
  *body = buf;
  *len = total;
  return 0;
}

int ftps_ocsp_exchange(const char *url, const unsigned char *req,
    size_t req_len, int timeout, unsigned char **body, size_t *len,
    char *why, size_t whysz) {
  char *host = NULL, *port = NULL, *path = NULL;
  OSSL_HTTP_REQ_CTX *rctx = NULL;   /* holds the connection the body is
                                     * read from */
  BIO *mem, *resp = NULL;
  int use_ssl = 0, res;

  *body = NULL;
  *len = 0;
  mem = BIO_new_mem_buf(req, (int) req_len);
  if (mem != NULL &&
      OSSL_HTTP_parse_url(url, &use_ssl, NULL, &host, &port, NULL, &path,
        NULL, NULL) == 1) {
    /* Neither a content type nor ASN.1 is demanded: whatever comes with a
     * 200 is read, so that the log can say what it was. */
    resp = OSSL_HTTP_transfer(&rctx, host, port, path, use_ssl, NULL, NULL,
      NULL, NULL, NULL, NULL, 0, NULL, "application/ocsp-request", mem,
      NULL, 0, FTPS_OCSP_MAX_RESPONSE, timeout, 0);
  }
  if (resp != NULL) {
    res = read_body(resp, time(NULL) + timeout, body, len, why, whysz);

  } else if (http_answer(why, whysz)) {
    res = 1;

  } else {
    (void) ftps_error_ssl_reasons(why, whysz);
    res = -1;
  }
  OSSL_HTTP_close(rctx, res == 0);
  BIO_free(mem);
  OPENSSL_free(host);
  OPENSSL_free(port);
  OPENSSL_free(path);
  return res;
}
