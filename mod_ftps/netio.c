/*
 * netio.c - TLS on ProFTPD's control and data streams (ftps/netio.h).
 *
 * The TLS layer (tls.c) takes one non-blocking step at a time; this file
 * waits between steps with poll(), handling ProFTPD's signals (timers,
 * SIGURG aborts) while it waits.  Returning EAGAIN to the core instead
 * would cost a 200 ms back-off per wait (PR_TUNABLE_EINTR_RETRY_INTERVAL).
 */
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <time.h>

#include "ftps/netio.h"
#include "ftps/dataconn.h"
#include "ftps/deferstore.h"
#include "ftps/log.h"
#include "ftps/rekey.h"
#include "ftps/sendfile.h"

/* How long a close_notify may take to send before we give up on it. */
#define NETIO_SHUTDOWN_TIMEOUT_MS 5000L

/* How long the control connection must stay quiet after a transfer before
 * its memory is given back: clients sending file after file would
 * otherwise fault the same pages in again for every transfer. */
#define NETIO_IDLE_TRIM_MS 100

/* A ticket sent after a transfer serves the next data command if that
 * comes within this time, or half the ticket's lifetime if that is
 * shorter; later, a fresh one goes with its reply. */
#define NETIO_TICKET_FRESH_MS 60000LL

static pool *netio_pool = NULL;
static pr_netio_t *prev_ctrl = NULL, *prev_data = NULL;
/* The settings of the vhost the session is on (ftps_netio_configure). */
static struct ftps_netio_settings cur;
/* The context the control handshake began in: its session cache and
 * ticket keys hold the control session, so data connections are created
 * from it even after SNI chose another vhost (whose certificate they
 * present: data_rules.cert_ctx). */
static SSL_CTX *ctrl_ctx = NULL;
static struct ftps_dataconn_rules data_rules;

/* A connection's read and write streams may sit on different descriptors
 * (ProFTPD dups the control socket to 0 and 1): TLS is attached to the
 * pair of streams, not to a descriptor. */
struct attached {
  struct ftps_tls *tls;
  pr_netio_stream_t *in, *out;
  struct ftps_rekey_state rekey;   /* TLSRenegotiate */
  int aborted;                     /* ABOR (or SIGURG), or its I/O failed:
                                    * no close_notify */
};

static struct attached ctrl_conn, data_conn;

static int data_released = FALSE;     /* a data TLS freed, memory not yet
                                       * given back */
static long long data_closing = 0;    /* when our close_notify ended a
                                       * download as TLS client; 0: not */
static int replies_blocked = FALSE;   /* by transfer_failed */
static int ticket_due = FALSE;        /* a protected data command ended */
static long long ticket_sent = 0;     /* when the ticket for the next one
                                       * went out; 0: none yet */

/* now_ms - a monotonic clock, in milliseconds */
static long long now_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long) ts.tv_sec * 1000LL + ts.tv_nsec / 1000000LL;
}

/* deadline_after - the deadline secs from now; 0 means none */
static long long deadline_after(int secs) {
  return secs > 0 ? now_ms() + (long long) secs * 1000LL : 0;
}

/* wait_fd - wait until fd is ready for want (FTPS_WANT_*), or the deadline
 * (0: none) passes (ETIMEDOUT), or the stream is aborted (ECONNABORTED) */
static int wait_fd(pr_netio_stream_t *nstrm, int fd, int want,
    long long deadline) {
  struct pollfd pfd;

  for (;;) {
    int timeout = -1, rc;

    /* A signal may have arrived while OpenSSL was in read() or write()
     * (it retries on EINTR): run its handler before sleeping again. */
    errno = 0;
    pr_signals_handle();

    if (deadline > 0) {
      long long left = deadline - now_ms();

      if (left <= 0) {
        errno = ETIMEDOUT;
        return -1;
      }
      timeout = left > 60000 ? 60000 : (int) left;
    }

    pfd.fd = fd;
    pfd.events = (want == FTPS_WANT_WRITE) ? POLLOUT : POLLIN;
    pfd.revents = 0;

    rc = poll(&pfd, 1, timeout);
    if (rc > 0) {
      return 0;
    }

    if (rc < 0 && errno != EINTR) {
      return -1;
    }

    if (nstrm != NULL &&
        (nstrm->strm_flags & PR_NETIO_SESS_ABORT)) {
      errno = ECONNABORTED;
      return -1;
    }

    /* Timers and signal handlers run at the top of the loop; errno 0
     * there skips the core's 200 ms back-off. */
  }
}

/* set_nonblocking - make fd non-blocking for a handshake or closure, so
 * that TLSTimeoutHandshake holds even when the peer sends nothing (the
 * control socket is blocking); returns the old flags, to restore, or -1
 * with errno: without it the timeout could not hold, so the caller fails */
static int set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL);

  if (flags < 0) {
    return -1;
  }
  if (!(flags & O_NONBLOCK) &&
      fcntl(fd, F_SETFL, flags|O_NONBLOCK) < 0) {
    return -1;
  }
  return flags;
}

/* restore_flags - undo set_nonblocking: 0, or -1 with errno (the core
 * would then read commands from a socket it takes for blocking) */
static int restore_flags(int fd, int flags) {
  if (!(flags & O_NONBLOCK) &&
      fcntl(fd, F_SETFL, flags) < 0) {
    return -1;
  }
  return 0;
}

/* A non-blocking TLS step: 0 when done, -1/EAGAIN with *want to wait. */
typedef int tls_step_fn(struct ftps_tls *tls, int *want);

/* run_step - repeat step until it is done, waiting for the socket in
 * between; 0, or -1 with errno (ETIMEDOUT once the deadline, 0 for none,
 * has passed) */
static int run_step(pr_netio_stream_t *nstrm, struct ftps_tls *tls,
    tls_step_fn *step, long long deadline) {
  int want = 0;

  while (step(tls, &want) < 0) {
    if (errno != EAGAIN ||
        wait_fd(nstrm, ftps_tls_fd(tls), want, deadline) < 0) {
      return -1;
    }
  }
  return 0;
}

/* handshake_step - ftps_tls_handshake as a tls_step_fn (the reason of a
 * failure stays in ftps_tls_error) */
static int handshake_step(struct ftps_tls *tls, int *want) {
  return ftps_tls_handshake(tls, want, NULL);
}

/* handshake - run a server handshake to completion within the timeout */
static int handshake(struct ftps_tls *tls, struct ftps_error *err) {
  int xerrno;

  if (run_step(NULL, tls, handshake_step,
      deadline_after(cur.timeout)) == 0) {
    return 0;
  }

  xerrno = errno;
  if (xerrno == ETIMEDOUT) {
    ftps_error_set(err, "TLS handshake timed out after %d seconds "
      "(TLSTimeoutHandshake)", cur.timeout);

  } else if (*ftps_tls_error(tls) != '\0') {
    ftps_error_set(err, "%s", ftps_tls_error(tls));

  } else {
    ftps_error_set(err, "TLS handshake failed: %s", strerror(xerrno));
  }
  errno = xerrno;
  return -1;
}

/* conn_of - the connection nstrm belongs to, if TLS is attached to it */
static struct attached *conn_of(pr_netio_stream_t *nstrm) {
  struct attached *conn;

  conn = (nstrm->strm_type == PR_NETIO_STRM_CTRL) ? &ctrl_conn : &data_conn;
  if (conn->tls != NULL &&
      (nstrm == conn->in || nstrm == conn->out)) {
    return conn;
  }
  return NULL;
}

/* tls_of - the TLS attached to nstrm, or NULL */
static struct ftps_tls *tls_of(pr_netio_stream_t *nstrm) {
  struct attached *conn = conn_of(nstrm);

  return conn != NULL ? conn->tls : NULL;
}

/* attach - tls now protects the streams in and out */
static void attach(struct attached *conn, struct ftps_tls *tls,
    pr_netio_stream_t *in, pr_netio_stream_t *out) {
  conn->tls = tls;
  conn->in = in;
  conn->out = out;
  conn->aborted = FALSE;
  ftps_rekey_start(&conn->rekey, now_ms());
}

/* release - free the TLS of conn, if any, and forget the streams */
static void release(struct attached *conn) {
  if (conn->tls != NULL &&
      conn == &data_conn) {
    ftps_dataconn_end(conn->tls, &data_rules);
    data_released = TRUE;
    data_closing = 0;
    /* sendfile must not outlive the kernel TLS of this connection */
    (void) ftps_sendfile_allow(FALSE);
  }

  if (conn->tls != NULL &&
      conn->rekey.count > 0) {
    ftps_log("%s connection: %u TLS 1.3 key updates (TLSRenegotiate)",
      conn == &ctrl_conn ? "control" : "data", conn->rekey.count);
  }
  ftps_tls_free(conn->tls);
  attach(conn, NULL, NULL, NULL);
}

/* prev_of - the NetIO that handles nstrm when no TLS is attached */
static pr_netio_t *prev_of(pr_netio_stream_t *nstrm) {
  return (nstrm->strm_type == PR_NETIO_STRM_CTRL) ? prev_ctrl : prev_data;
}

/* detach - free the TLS of nstrm's connection, if any */
static void detach(pr_netio_stream_t *nstrm) {
  struct attached *conn = conn_of(nstrm);

  if (conn != NULL) {
    release(conn);
  }
}

/* send_close_notify - end the TLS stream cleanly, waiting a little */
static int send_close_notify(pr_netio_stream_t *nstrm,
    struct ftps_tls *tls) {
  if (run_step(nstrm, tls, ftps_tls_shutdown,
      now_ms() + NETIO_SHUTDOWN_TIMEOUT_MS) < 0) {
    pr_trace_msg(FTPS_TRACE_CHANNEL, 9, "close_notify not sent: %s",
      ftps_tls_error(tls));
    return -1;
  }
  return 0;
}

/* transfer_failed - the peer of a transfer that the core calls complete
 * did not get its end (our close_notify could not be sent, or the peer did
 * not take our close): for it the transfer failed.  Say so in TLSLog,
 * answer 426 now, and keep the core's "226 Transfer complete", which
 * follows, from the client (replies stay blocked until the next command:
 * ftps_netio_before_cmd). */
static void transfer_failed(const char *why) {
  ftps_log("data connection: %s: the transfer failed for the peer; "
    "answering 426", why);
  pr_response_send_async(R_426, "Transfer aborted. Data connection closed.");
  if (pr_response_block(TRUE) == 0) {
    replies_blocked = TRUE;
  }
}

/* transfer_cut - a complete transfer's final close_notify could not be
 * sent: the client saw the stream end without it */
static void transfer_cut(struct ftps_tls *tls) {
  char why[256];

  pr_snprintf(why, sizeof(why), "the final close_notify could not be sent "
    "within %ld ms (%s)", NETIO_SHUTDOWN_TIMEOUT_MS, ftps_tls_error(tls));
  transfer_failed(why);
}

/* linger_ms - how long the core waits for a peer to close its side of a
 * data connection (TimeoutLinger), in milliseconds */
static long long linger_ms(void) {
  config_rec *c = find_config(main_server->conf, CONF_PARAM, "TimeoutLinger",
    FALSE);
  int secs = c != NULL ? *((int *) c->argv[0]) : PR_TUNABLE_TIMEOUTLINGER;

  return secs > 0 ? secs * 1000LL : 0;
}

/* finish_close - as the TLS client of a download (SSCN ON), before the
 * socket is closed: read what the peer sends until it closes (its
 * close_notify or its FIN), within TimeoutLinger of our close_notify.  A
 * TLS 1.3 server sends session tickets after the handshake, which the
 * sending side never reads; closed with them unread, the socket is reset
 * by the kernel (RFC 1122 section 4.2.2.13), and the reset destroys the
 * end of the file the peer has not read yet, while the core, whose
 * lingering close stops at the first byte the peer sends, answers 226.
 * A peer that neither closes nor sends is left to the kernel (nothing
 * unread: an orderly close); one that reset the connection, broke the
 * stream or still sends gets 426. */
static void finish_close(pr_netio_stream_t *nstrm, struct ftps_tls *tls) {
  long long deadline = data_closing + linger_ms();
  int unread = 0, flags, res, xerrno;

  /* The core made the socket blocking for its lingering close. */
  data_closing = 0;
  flags = set_nonblocking(ftps_tls_fd(tls));
  res = run_step(nstrm, tls, ftps_tls_drain, deadline);
  xerrno = errno;
  restore_flags(ftps_tls_fd(tls), flags);
  /* EPIPE: no close_notify went out, and send_close_notify's failure is
   * the transfer's. */
  if (res == 0 ||
      xerrno == EPIPE) {
    return;
  }
  if (xerrno != ETIMEDOUT &&
      xerrno != ECONNABORTED) {
    transfer_failed(ftps_tls_error(tls));
    return;
  }

  if (ioctl(ftps_tls_fd(tls), FIONREAD, &unread) == 0 &&
      unread == 0) {
    ftps_log("data connection: the peer did not close within TimeoutLinger "
      "(%lld ms) of our close_notify; nothing of it unread, closing",
      linger_ms());
    return;
  }
  transfer_failed("the peer was still sending when we had to close");
}

/* netio_abort_cb - the core aborts a transfer (ABOR, in band or by
 * SIGURG): whatever closes the data connection now must not send
 * close_notify, or the client would take the cut transfer for complete. */
static void netio_abort_cb(pr_netio_stream_t *nstrm) {
  struct attached *conn = conn_of(nstrm);

  if (conn != NULL &&
      conn == &data_conn) {
    conn->aborted = TRUE;
  }
  prev_of(nstrm)->abort(nstrm);
}

static int netio_close_cb(pr_netio_stream_t *nstrm) {
  struct ftps_tls *tls = tls_of(nstrm);

  if (tls != NULL &&
      nstrm->strm_type == PR_NETIO_STRM_CTRL) {
    (void) send_close_notify(nstrm, tls);
  }
  if (tls != NULL &&
      data_closing > 0 &&
      nstrm->strm_type == PR_NETIO_STRM_DATA) {
    finish_close(nstrm, tls);
  }
  detach(nstrm);
  return prev_of(nstrm)->close(nstrm);
}

static pr_netio_stream_t *netio_open_cb(pr_netio_stream_t *nstrm, int fd,
    int mode) {
  return prev_of(nstrm)->open(nstrm, fd, mode);
}

static pr_netio_stream_t *netio_reopen_cb(pr_netio_stream_t *nstrm, int fd,
    int mode) {
  return prev_of(nstrm)->reopen(nstrm, fd, mode);
}

/* send_due_ticket - the ticket for the next data connection, sent while
 * the client reads the last reply, so that neither its making nor its
 * sending waits in the next command's reply */
static void send_due_ticket(pr_netio_stream_t *nstrm, struct ftps_tls *tls) {
  if (!ticket_due ||
      tls == NULL) {
    return;
  }
  ticket_due = FALSE;

  if (ftps_tls_new_ticket(tls) < 0 ||
      run_step(nstrm, tls, ftps_tls_send_queued,
        now_ms() + NETIO_SHUTDOWN_TIMEOUT_MS) < 0) {
    ftps_log("control connection: %s", ftps_tls_error(tls));
    return;
  }
  ticket_sent = now_ms();
}

/* idle_trim - give a transfer's buffers (records read ahead, records
 * gathered) back to the system, not only to malloc, once the control
 * connection has been quiet for NETIO_IDLE_TRIM_MS, so that an idle session
 * keeps none of a transfer's memory; a command that comes sooner postpones
 * it (the next quiet wait tries again).  Only between commands (see
 * ctrl_idle_work): during one, the trim would hold a closing data
 * connection's port, and a narrow PassivePorts range, a little longer. */
static void idle_trim(int fd) {
  struct pollfd pfd;

  if (!data_released) {
    return;
  }

  pfd.fd = fd;
  pfd.events = POLLIN;
  pfd.revents = 0;
  if (poll(&pfd, 1, NETIO_IDLE_TRIM_MS) != 0) {
    return;
  }

  data_released = FALSE;
  (void) malloc_trim(0);
}

/* ctrl_idle_work - the control connection is about to wait for the next
 * command; not during a transfer, whose ABOR checks poll it too */
static void ctrl_idle_work(pr_netio_stream_t *nstrm, struct ftps_tls *tls) {
  if (session.d != NULL ||
      (session.sf_flags & SF_XFER)) {
    return;
  }

  send_due_ticket(nstrm, tls);
  if (tls == NULL ||
      !ftps_tls_read_ready(tls)) {
    idle_trim(nstrm->strm_fd);
  }
}

static int netio_poll_cb(pr_netio_stream_t *nstrm) {
  struct ftps_tls *tls = tls_of(nstrm);

  if (nstrm->strm_type == PR_NETIO_STRM_CTRL &&
      nstrm->strm_mode == PR_NETIO_IO_RD) {
    /* The command that cut a transfer is answered: replies flow again. */
    if (session.d == NULL) {
      ftps_netio_before_cmd();
    }
    ctrl_idle_work(nstrm, tls);
  }

  /* Bytes already inside the TLS layer: select() would not see them. */
  if (tls != NULL &&
      nstrm->strm_mode == PR_NETIO_IO_RD &&
      ftps_tls_read_ready(tls)) {
    return 1;
  }
  return prev_of(nstrm)->poll(nstrm);
}

/* rekey_due - are conn's keys due, n bytes having just gone through?
 *
 * A data connection renews only the keys of what we send: a downloading
 * client never writes, so the KeyUpdate it would answer with would sit
 * unread when we close, and the kernel would reset the connection under
 * the client's last bytes; an uploading client never reads, and our
 * KeyUpdate would reset its close in the same way (proftpd#959 is that
 * trap with session tickets).  The client's own sending keys are its own
 * to renew. */
static int rekey_due(struct attached *conn, size_t n, int writing) {
  if (conn == &data_conn) {
    return writing &&
      cur.rekey_data_kb > 0 &&
      ftps_rekey_data_due(&conn->rekey,
        (unsigned long long) cur.rekey_data_kb * 1024ULL, n, now_ms());
  }

  return cur.rekey_ctrl_secs > 0 &&
    ftps_rekey_ctrl_due(&conn->rekey, cur.rekey_ctrl_secs, now_ms());
}

/* key_update_both_step, key_update_own_step - ftps_tls_key_update as
 * tls_step_fns: the control connection, where the client both reads and
 * writes, renews both directions; a data connection only ours */
static int key_update_both_step(struct ftps_tls *tls, int *want) {
  return ftps_tls_key_update(tls, TRUE, want);
}

static int key_update_own_step(struct ftps_tls *tls, int *want) {
  return ftps_tls_key_update(tls, FALSE, want);
}

/* rekey - TLSRenegotiate: new TLS 1.3 traffic keys (RFC 8446 section
 * 4.6.3), both ways on the control connection, ours on a data connection
 * (see rekey_due), so that no key protects more than the configured amount
 * of data or time.  A failure only stops further updates on conn: the
 * connection itself reports any real breakage at its next I/O. */
static void rekey(pr_netio_stream_t *nstrm, struct attached *conn) {
  const char *which = conn == &ctrl_conn ? "control" : "data";

  if (run_step(nstrm, conn->tls, conn == &ctrl_conn ?
      key_update_both_step : key_update_own_step,
      now_ms() + NETIO_SHUTDOWN_TIMEOUT_MS) < 0) {
    /* ENOTSUP: this connection's keys cannot be updated (TLS 1.2, kernel
     * TLS), and the reason says which. */
    ftps_log("%s connection: %s%s", which, errno == ENOTSUP ? "" :
      "TLS key update failed: ", ftps_tls_error(conn->tls));
    conn->rekey.off = TRUE;
    return;
  }

  ftps_rekey_done(&conn->rekey, now_ms());
  pr_trace_msg(FTPS_TRACE_CHANNEL, 9, "%s connection: TLS 1.3 key update "
    "%u sent", which, conn->rekey.count);
}

/* io_failed - log why TLS I/O on nstrm failed; -1, errno kept */
static int io_failed(pr_netio_stream_t *nstrm, struct ftps_tls *tls) {
  int xerrno = errno;
  struct attached *conn = conn_of(nstrm);

  ftps_log("%s connection: %s", nstrm->strm_type == PR_NETIO_STRM_CTRL ?
    "control" : "data", ftps_tls_error(tls));

  /* The transfer failed: the core aborts it, but after a failed write it
   * closes the data connection as it closes a complete one.  No
   * close_notify is due (nor missed) for a transfer that never ended. */
  if (conn == &data_conn) {
    conn->aborted = TRUE;
  }
  errno = xerrno;
  return -1;
}

/* read_buffered - after a read: append what the TLS layer already holds
 * (records read ahead), up to len bytes, without waiting; the bytes added.
 * The core then writes the file in large pieces too.  A close_notify or an
 * error met here is left for the next read to report. */
static size_t read_buffered(struct ftps_tls *tls, char *buf, size_t len) {
  size_t got = 0;

  while (got < len &&
         ftps_tls_read_ready(tls)) {
    int want = 0;
    ssize_t n = ftps_tls_read(tls, buf + got, len - got, &want);

    if (n <= 0) {
      break;
    }
    got += (size_t) n;
  }
  return got;
}

/* tls_io - read or write through the TLS of conn, waiting as needed;
 * returns what the core's read()/write() would */
static int tls_io(pr_netio_stream_t *nstrm, struct attached *conn, char *buf,
    size_t len, int writing) {
  struct ftps_tls *tls = conn->tls;
  int want = 0;

  for (;;) {
    ssize_t n = writing ? ftps_tls_write(tls, buf, len, &want) :
      ftps_tls_read(tls, buf, len, &want);

    if (n > 0) {
      if (writing &&
          run_step(nstrm, tls, ftps_tls_flush, 0) < 0) {
        return io_failed(nstrm, tls);
      }
      if (!writing &&
          conn == &data_conn) {
        n += (ssize_t) read_buffered(tls, buf + n, len - (size_t) n);
      }
      if (rekey_due(conn, (size_t) n, writing)) {
        rekey(nstrm, conn);
      }
    }
    if (n >= 0) {
      return (int) n;
    }

    if (errno != EAGAIN) {
      return io_failed(nstrm, tls);
    }

    if (wait_fd(nstrm, nstrm->strm_fd, want, 0) < 0) {
      return -1;
    }
  }
}

static int netio_read_cb(pr_netio_stream_t *nstrm, char *buf, size_t len) {
  struct attached *conn = conn_of(nstrm);

  if (conn == NULL) {
    return prev_of(nstrm)->read(nstrm, buf, len);
  }
  return tls_io(nstrm, conn, buf, len, FALSE);
}

static int netio_write_cb(pr_netio_stream_t *nstrm, char *buf, size_t len) {
  struct attached *conn = conn_of(nstrm);

  if (conn == NULL) {
    return prev_of(nstrm)->write(nstrm, buf, len);
  }
  return tls_io(nstrm, conn, buf, len, TRUE);
}

/* data_aborted - 1 if the data connection of nstrm is being closed because
 * its transfer was aborted: by SIGURG or an ABOR the core peeked at (the
 * abort callback), or by an ABOR it read from a TLS control connection
 * (which it cannot peek at) and dispatched in the middle of the transfer,
 * whose handler closes the data connection as if the transfer were
 * complete; or by a file read that failed (the core then closes the data
 * connection as it closes a complete one, and answers 451). */
static int data_aborted(pr_netio_stream_t *nstrm) {
  return data_conn.aborted ||
    ftps_deferstore_read_failed() ||
    (nstrm->strm_flags & PR_NETIO_SESS_ABORT) ||
    XFER_ABORTED ||
    session.curr_cmd_id == PR_CMD_ABOR_ID ||
    session.curr_cmd_id == PR_CMD_QUIT_ID;
}

static int netio_shutdown_cb(pr_netio_stream_t *nstrm, int how) {
  struct ftps_tls *tls = tls_of(nstrm);

  /* The core shuts a data connection down through its write stream when a
   * transfer completes, and through its read stream when it aborts one.
   * Only a complete transfer may end with close_notify: without it the
   * client knows the data is truncated. */
  if (tls != NULL &&
      nstrm->strm_type == PR_NETIO_STRM_CTRL) {
    (void) send_close_notify(nstrm, tls);

  } else if (tls != NULL &&
      nstrm->strm_mode == PR_NETIO_IO_WR &&
      !data_aborted(nstrm)) {
    if (send_close_notify(nstrm, tls) < 0) {
      /* Only where we sent the data: after an upload, the client's own
       * close_notify marked the end (it may be gone already). */
      if (session.xfer.direction == PR_NETIO_IO_WR) {
        transfer_cut(tls);
      }

    } else if (data_rules.client_mode) {
      /* As TLS client, the peer's close is awaited in netio_close_cb,
       * after the core's half-close (below) and its own lingering wait. */
      data_closing = now_ms();
    }
  }
  return prev_of(nstrm)->shutdown(nstrm, how);
}

/* send_data_ticket - the ticket for the client's next data connection,
 * sent now, before the data (ftps_dataconn_hands_ticket says when).  A
 * failure costs at most the next data connection (425), not this one. */
static void send_data_ticket(pr_netio_stream_t *nstrm, struct ftps_tls *tls) {
  if (ftps_tls_new_ticket(tls) < 0 ||
      run_step(nstrm, tls, ftps_tls_send_queued,
        now_ms() + NETIO_SHUTDOWN_TIMEOUT_MS) < 0) {
    ftps_log("data connection: no ticket for the next one: %s",
      ftps_tls_error(tls));
  }
}

static int netio_postopen_cb(pr_netio_stream_t *nstrm) {
  struct ftps_error err;
  struct ftps_tls *tls;

  if (nstrm->strm_type != PR_NETIO_STRM_DATA) {
    return prev_of(nstrm)->postopen(nstrm);
  }

  /* The read and write streams of a data connection share one socket:
   * the first postopen does the handshake for both. */
  if (tls_of(nstrm) != NULL) {
    return 0;
  }
  release(&data_conn);

  if (!cur.data_protect) {
    return prev_of(nstrm)->postopen(nstrm);
  }

  tls = ftps_dataconn_new(nstrm, &data_rules);
  if (tls == NULL) {
    return -1;
  }

  ftps_error_clear(&err);
  if (handshake(tls, &err) < 0) {
    return ftps_dataconn_handshake_failed(nstrm, tls, &data_rules, err.msg);
  }

  if (ftps_dataconn_check(tls, &data_rules, &err) < 0) {
    /* End its TLS with close_notify first.  Closed without it, the
     * client's TLS library reports a truncated stream (OpenSSL 3:
     * "unexpected eof", and Python's ftplib then fails in unwrap())
     * instead of reading the 425 that says why.  The empty stream is never
     * taken as a transfer: the reply says it failed. */
    (void) send_close_notify(nstrm, tls);
    return ftps_dataconn_refuse(nstrm, tls, &data_rules, err.msg);
  }

  attach(&data_conn, tls, session.d != NULL ? session.d->instrm : nstrm,
    session.d != NULL ? session.d->outstrm : nstrm);
  ftps_dataconn_accepted(tls, &data_rules);
  if (ftps_dataconn_hands_ticket(tls, &data_rules)) {
    send_data_ticket(nstrm, tls);
  }
  return 0;
}

/* netio_new - our NetIO, chaining to what handled type before */
static pr_netio_t *netio_new(int type, pr_netio_t **prev) {
  pr_netio_t *netio;

  *prev = pr_get_netio(type);
  if (*prev == NULL) {
    /* A fresh NetIO carries the core's own callbacks. */
    *prev = pr_alloc_netio2(netio_pool, NULL, NULL);
  }

  netio = pr_alloc_netio2(netio_pool, &ftps_module, NULL);
  netio->abort = netio_abort_cb;
  netio->close = netio_close_cb;
  netio->open = netio_open_cb;
  netio->poll = netio_poll_cb;
  netio->postopen = netio_postopen_cb;
  netio->read = netio_read_cb;
  netio->reopen = netio_reopen_cb;
  netio->shutdown = netio_shutdown_cb;
  netio->write = netio_write_cb;
  return netio;
}

int ftps_netio_install(const struct ftps_netio_settings *set) {
  pr_netio_t *ctrl, *data;

  ftps_netio_configure(set);
  if (netio_pool == NULL) {
    netio_pool = make_sub_pool(session.pool ? session.pool : permanent_pool);
    pr_pool_tag(netio_pool, MOD_FTPS_VERSION " netio pool");
  }

  ctrl = netio_new(PR_NETIO_STRM_CTRL, &prev_ctrl);
  data = netio_new(PR_NETIO_STRM_DATA, &prev_data);

  if (pr_unregister_netio(PR_NETIO_STRM_CTRL|PR_NETIO_STRM_DATA) < 0 &&
      errno != ENOENT) {
    return -1;
  }
  if (pr_register_netio(ctrl, PR_NETIO_STRM_CTRL) < 0 ||
      pr_register_netio(data, PR_NETIO_STRM_DATA) < 0) {
    return -1;
  }
  return 0;
}

void ftps_netio_configure(const struct ftps_netio_settings *set) {
  cur = *set;
  if (cur.rekey_ctrl_secs < 0) {
    cur.rekey_ctrl_secs = 0;
  }
  if (cur.rekey_data_kb < 0) {
    cur.rekey_data_kb = 0;
  }

  data_rules.ctx = ctrl_ctx != NULL ? ctrl_ctx : cur.ctx;
  data_rules.cert_ctx = (ctrl_ctx != NULL && cur.ctx != ctrl_ctx) ?
    cur.ctx : NULL;
  data_rules.client_ctx = cur.client_ctx;
  data_rules.kernel_tls = cur.kernel_tls;
  data_rules.require_reuse = cur.data_require_reuse;
  data_rules.client_mode = cur.data_client_mode;
}

int ftps_netio_ctrl_start(struct ftps_error *err) {
  pr_netio_stream_t *in = session.c->instrm;
  struct ftps_tls *tls;
  int flags, res, xerrno;

  /* Bytes the client sent after "AUTH" were read in clear: a man in the
   * middle may have injected them.  Drop them (mod_tls Bug#3624). */
  if (in->strm_buf != NULL) {
    in->strm_buf->current = NULL;
    in->strm_buf->remaining = in->strm_buf->buflen;
  }

  ctrl_ctx = cur.ctx;
  tls = ftps_tls_new(ctrl_ctx, PR_NETIO_FD(in), FTPS_TLS_CTRL, err);
  if (tls == NULL) {
    return -1;
  }

  flags = set_nonblocking(PR_NETIO_FD(in));
  if (flags < 0) {
    xerrno = errno;
    ftps_error_set(err, "cannot make the control socket non-blocking for "
      "the handshake: %s", strerror(xerrno));
    ftps_tls_free(tls);
    errno = xerrno;
    return -1;
  }

  res = handshake(tls, err);
  xerrno = errno;
  if (restore_flags(PR_NETIO_FD(in), flags) < 0 &&
      res == 0) {
    xerrno = errno;
    ftps_error_set(err, "cannot make the control socket blocking again "
      "after the handshake: %s", strerror(xerrno));
    res = -1;
  }

  if (res < 0) {
    ftps_tls_free(tls);
    errno = xerrno;
    return -1;
  }

  attach(&ctrl_conn, tls, session.c->instrm, session.c->outstrm);

  /* Kept for the data connections' check: after CCC the control
   * connection's TLS is gone, its client certificate must not be. */
  X509_free(data_rules.ctrl_cert);
  data_rules.ctrl_cert = SSL_get1_peer_certificate(ftps_tls_ssl(tls));
  ftps_netio_configure(&cur);
  return 0;
}

/* peer_sent_record - 1 if the next byte waiting on fd starts a TLS record
 * (content types 20 to 23; TLS 1.3 hides a close_notify in type 23), not
 * an FTP command in clear */
static int peer_sent_record(int fd) {
  unsigned char type = 0;

  return recv(fd, &type, 1, MSG_PEEK) == 1 && type >= 20 && type <= 23;
}

/* close_ctrl_tls - CCC's closure on a non-blocking socket: send our
 * close_notify, then take the client's.  RFC 4217 section 6 wants both, but
 * curl's default CCC mode never sends its own and goes on in clear: when
 * the next bytes are not a TLS record, the closure was one-way.  A TLS
 * record that is not close_notify ends the session. */
static int close_ctrl_tls(struct ftps_tls *tls, struct ftps_error *err) {
  long long deadline = deadline_after(cur.timeout);
  int fd = ftps_tls_fd(tls);

  if (run_step(NULL, tls, ftps_tls_shutdown, deadline) < 0) {
    ftps_error_set(err, "CCC: cannot send close_notify: %s",
      ftps_tls_error(tls));
    return -1;
  }

  if (wait_fd(NULL, fd, FTPS_WANT_READ, deadline) < 0) {
    ftps_error_set(err, "CCC: the client sent nothing after close_notify");
    return -1;
  }

  if (!peer_sent_record(fd)) {
    ftps_log("CCC: the client went on in clear without close_notify");
    return 0;
  }

  if (run_step(NULL, tls, ftps_tls_close, deadline) < 0) {
    ftps_error_set(err, "CCC: %s", errno == ETIMEDOUT ?
      "no close_notify from the client in time" : ftps_tls_error(tls));
    return -1;
  }
  return 0;
}

int ftps_netio_ctrl_clear(struct ftps_error *err) {
  struct ftps_tls *tls = ctrl_conn.tls;
  int flags, res, xerrno;

  if (tls == NULL) {
    errno = EINVAL;
    return -1;
  }

  flags = set_nonblocking(ftps_tls_fd(tls));
  if (flags < 0) {
    xerrno = errno;
    ftps_error_set(err, "CCC: cannot make the control socket non-blocking: "
      "%s", strerror(xerrno));
    release(&ctrl_conn);
    errno = xerrno;
    return -1;
  }

  res = close_ctrl_tls(tls, err);
  if (restore_flags(ftps_tls_fd(tls), flags) < 0 &&
      res == 0) {
    ftps_error_set(err, "CCC: cannot make the control socket blocking "
      "again: %s", strerror(errno));
    res = -1;
  }

  release(&ctrl_conn);
  data_rules.after_ccc = TRUE;
  return res;
}

/* ticket_fresh - 1 if the ticket sent after the last data command will
 * still resume a data connection made now */
static int ticket_fresh(struct ftps_tls *tls) {
  long long window = NETIO_TICKET_FRESH_MS;
  long lifetime = ftps_tls_session_lifetime(tls);

  if (ticket_sent <= 0) {
    return FALSE;
  }
  if (lifetime > 0 &&
      (long long) lifetime * 500LL < window) {
    window = (long long) lifetime * 500LL;
  }
  return now_ms() - ticket_sent < window;
}

void ftps_netio_ticket_before_data(void) {
  int fresh = ticket_fresh(ctrl_conn.tls);

  ticket_due = FALSE;
  ticket_sent = 0;
  if (fresh ||
      ctrl_conn.tls == NULL) {
    return;
  }

  /* None sent since the last transfer (the first one, a pipelined
   * command), or a stale one: queue it, to go with the reply (150). */
  if (ftps_tls_new_ticket(ctrl_conn.tls) < 0) {
    ftps_log("control connection: %s", ftps_tls_error(ctrl_conn.tls));
  }
}

void ftps_netio_ticket_after_data(void) {
  ticket_due = ctrl_conn.tls != NULL;
  ticket_sent = 0;
}

void ftps_netio_before_cmd(void) {
  if (replies_blocked) {
    replies_blocked = FALSE;
    (void) pr_response_block(FALSE);
  }
}

struct ftps_tls *ftps_netio_ctrl_tls(void) {
  return ctrl_conn.tls;
}
