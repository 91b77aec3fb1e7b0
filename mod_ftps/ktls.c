/*
 * ktls.c - does this kernel offer kernel TLS (see ftps/ktls.h)?
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ftps/ktls.h"

#ifndef TCP_ULP
# define TCP_ULP 31
#endif

static int ktls_ok = 0;
static char ktls_why[128] = "not probed";

static void set_reason(const char *what, int xerrno) {
  if (xerrno != 0) {
    snprintf(ktls_why, sizeof(ktls_why), "%s: %s", what, strerror(xerrno));

  } else {
    snprintf(ktls_why, sizeof(ktls_why), "%s", what);
  }
}

/* loopback_pair - a connected TCP pair on 127.0.0.1: 0, or -1 (errno) */
static int loopback_pair(int *client, int *server) {
  struct sockaddr_in sin;
  socklen_t len = sizeof(sin);
  int lfd, xerrno;

  *client = *server = -1;
  lfd = socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0);
  if (lfd < 0) {
    return -1;
  }

  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr *) &sin, sizeof(sin)) < 0 ||
      listen(lfd, 1) < 0 ||
      getsockname(lfd, (struct sockaddr *) &sin, &len) < 0) {
    goto fail;
  }

  *client = socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0);
  if (*client < 0 ||
      connect(*client, (struct sockaddr *) &sin, sizeof(sin)) < 0) {
    goto fail;
  }
  *server = accept(lfd, NULL, NULL);
  if (*server < 0) {
    goto fail;
  }
  (void) close(lfd);
  return 0;

fail:
  xerrno = errno;
  if (*client >= 0) {
    (void) close(*client);
    *client = -1;
  }
  (void) close(lfd);
  errno = xerrno;
  return -1;
}

int ftps_ktls_probe(void) {
  int client, server, rc, xerrno;

  ktls_ok = 0;
  if (loopback_pair(&client, &server) < 0) {
    set_reason("cannot open a loopback TCP connection to ask the kernel",
      errno);
    return 0;
  }

  /* The kernel loads its tls module, when it has one, on this request.
   * Attaching the ULP alone changes nothing on the connection. */
  rc = setsockopt(server, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls"));
  xerrno = errno;
  (void) close(client);
  (void) close(server);

  if (rc == 0) {
    ktls_ok = 1;
    ktls_why[0] = '\0';

  } else if (xerrno == ENOENT) {
    set_reason("the kernel offers no tls ULP (no tls module)", 0);

  } else {
    set_reason("the kernel refused the tls ULP", xerrno);
  }
  return ktls_ok;
}

int ftps_ktls_available(void) {
  return ktls_ok;
}

const char *ftps_ktls_reason(void) {
  return ktls_why;
}
