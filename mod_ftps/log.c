/*
 * log.c - mod_ftps's own log file (TLSLog) and trace channel.
 */
#include "ftps/log.h"

static int log_fd = -1;

int ftps_log_open(server_rec *s) {
  const char *path;
  int res, xerrno;

  path = get_param_ptr(s->conf, "TLSLog", FALSE);
  if (path == NULL ||
      strcasecmp(path, "none") == 0) {
    return 0;
  }

  ftps_log_close();

  /* The log may live where only root can write; open it before the
   * session chroots or drops privileges for good. */
  PRIVS_ROOT
  res = pr_log_openfile(path, &log_fd, PR_LOG_SYSTEM_MODE);
  xerrno = errno;
  PRIVS_RELINQUISH

  if (res == 0) {
    return 0;
  }

  log_fd = -1;
  switch (res) {
    case PR_LOG_WRITABLE_DIR:
      pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION
        ": TLSLog %s: the directory is world-writable; not logging", path);
      break;

    case PR_LOG_SYMLINK:
      pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION
        ": TLSLog %s: is a symbolic link; not logging", path);
      break;

    default:
      pr_log_pri(PR_LOG_WARNING, MOD_FTPS_VERSION
        ": TLSLog %s: cannot open: %s", path, strerror(xerrno));
      break;
  }

  errno = xerrno;
  return -1;
}

void ftps_log_close(void) {
  if (log_fd >= 0) {
    (void) close(log_fd);
    log_fd = -1;
  }
}

void ftps_log(const char *fmt, ...) {
  char buf[1024];
  va_list ap;

  va_start(ap, fmt);
  pr_vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);

  pr_trace_msg(FTPS_TRACE_CHANNEL, 5, "%s", buf);
  if (log_fd >= 0) {
    (void) pr_log_writefile(log_fd, MOD_FTPS_VERSION, "%s", buf);
  }
}
