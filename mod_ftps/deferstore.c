/*
 * deferstore.c - only a successful upload may replace a file's content
 * (ftps/deferstore.h).
 */
#include "ftps/deferstore.h"
#include "ftps/log.h"

static pr_fs_t *defer_fs = NULL;
static int read_failed = FALSE;   /* a file read failed during this data
                                   * command (ftps_deferstore_watch_reads) */

/* The pending upload.  Fixed storage: a session may send any number of
 * uploads, and ProFTPD's pools never give memory back. */
static struct {
  int pending;                    /* between expect and succeeded/failed */
  int existed;                    /* the target was a regular file */
  dev_t dev;                      /* ... this one */
  ino_t ino;
  int overwrite;                  /* STOR: its truncation is ours to do */
  int opened;                     /* ... and opened for the upload */
  int fd;                         /* the target, open for the upload */
  int truncating;                 /* ... with O_TRUNC: it replaces the
                                   * file (not APPE, not a restart) */
  int deferred;                   /* truncation still owed (no byte yet) */
  int arrived;                    /* a byte of the upload was written */
  int kept_fd;                    /* the target after its close, until the
                                   * command's outcome is known */
  int kept_errno;                 /* why kept_fd is -1 */
  char path[PR_TUNABLE_PATH_MAX]; /* the target */
} up = { FALSE, FALSE, 0, 0, FALSE, FALSE, -1, FALSE, FALSE, FALSE, -1, 0,
  "" };

/* next_fs - the layer below ours that implements the callback at offset */
static pr_fs_t *next_fs(size_t offset) {
  pr_fs_t *fs;

  for (fs = defer_fs->fs_next; fs != NULL; fs = fs->fs_next) {
    if (*(void **) ((char *) fs + offset) != NULL) {
      return fs;
    }
  }
  return NULL;
}

/* is_target - path is the existing file the pending upload is about */
static int is_target(const char *path) {
  struct stat st;

  return up.pending &&
    up.existed &&
    stat(path, &st) == 0 &&
    st.st_dev == up.dev &&
    st.st_ino == up.ino;
}

static int defer_open(pr_fh_t *fh, const char *path, int flags) {
  pr_fs_t *next = next_fs(offsetof(pr_fs_t, open));
  int fd, defer;

  if (next == NULL) {
    errno = ENOSYS;
    return -1;
  }

  if (up.fd >= 0 ||
      !is_target(path)) {
    return next->open(fh, path, flags);
  }

  defer = up.overwrite && (flags & O_TRUNC);
  fd = next->open(fh, path, defer ? flags & ~O_TRUNC : flags);
  if (fd >= 0) {
    up.opened = TRUE;
    up.fd = fd;
    up.truncating = (flags & O_TRUNC) ? TRUE : FALSE;
    up.deferred = defer;
    if (defer) {
      pr_trace_msg(FTPS_TRACE_CHANNEL, 9, "truncation of %s deferred until "
        "the upload's data arrive", path);
    }
  }
  return fd;
}

/* write_all - a short write (the disk filled up in the middle of the
 * buffer) is finished, or fails with the reason the next write gives:
 * mod_xfer answers any short write 451 (EIO), where a full disk is 452
 * (ENOSPC) and a quota 552 (EDQUOT, EFBIG), RFC 959 section 4.2.  A retry
 * of the whole buffer after a partial write would misplace it: EINTR is
 * retried here, from where the write stopped. */
static int write_all(pr_fs_t *next, pr_fh_t *fh, int fd, const char *buf,
    size_t len) {
  size_t done = 0;

  while (done < len) {
    int n = next->write(fh, fd, buf + done, len - done);

    if (n < 0 &&
        errno == EINTR &&
        done > 0) {
      pr_signals_handle();
      continue;
    }

    if (n <= 0) {
      if (done == 0) {
        return n;
      }
      if (n == 0) {
        errno = EIO;
      }
      return -1;
    }
    done += (size_t) n;
  }
  return (int) done;
}

static int defer_write(pr_fh_t *fh, int fd, const char *buf, size_t len) {
  pr_fs_t *next = next_fs(offsetof(pr_fs_t, write));

  if (next == NULL) {
    errno = ENOSYS;
    return -1;
  }

  if (fd == up.fd) {
    /* The upload is real: let the file be overwritten.  A failure fails
     * the write, and so the upload (mod_xfer logs it). */
    if (up.deferred &&
        ftruncate(fd, 0) < 0) {
      int xerrno = errno;

      ftps_log("upload of %s: cannot truncate the file: %s", up.path,
        strerror(xerrno));
      errno = xerrno;
      return -1;
    }
    up.deferred = FALSE;
    up.arrived = TRUE;
  }
  return write_all(next, fh, fd, buf, len);
}

/* close_deferred - the target is closed while its truncation is still
 * owed.  Bytes may have reached it past our write callback: a layer above
 * ours that writes by itself (mod_quotatab's, registered after login)
 * leaves the new data over the start of the old content.  The file
 * position, which mod_xfer's sequential writes from offset 0 advanced,
 * says how much: cut the old tail off there.  With no byte, keep a
 * descriptor (mod_xfer closes the file before the command's outcome is
 * known, on both paths alike), so that an empty upload that succeeds can
 * still empty this very file. */
static void close_deferred(int fd) {
  off_t pos = lseek(fd, 0, SEEK_CUR);

  if (pos > 0) {
    up.deferred = FALSE;
    up.arrived = TRUE;
    if (ftruncate(fd, pos) < 0) {
      int xerrno = errno;

      pr_log_pri(PR_LOG_ERR, MOD_FTPS_VERSION ": upload of %s: cannot cut "
        "the old content after the %lld new bytes: %s", up.path,
        (long long) pos, strerror(xerrno));
      ftps_log("upload of %s: cannot cut the old content after the %lld new "
        "bytes: %s", up.path, (long long) pos, strerror(xerrno));
    }
    return;
  }

  up.kept_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  up.kept_errno = errno;
}

/* defer_read - a read that fails (not EOF, not an interruption) fails
 * the download being sent: the core aborts it, but closes its data
 * connection as it closes a complete one (netio.c must then not send
 * close_notify) */
static int defer_read(pr_fh_t *fh, int fd, char *buf, size_t len) {
  pr_fs_t *next = next_fs(offsetof(pr_fs_t, read));
  int n;

  if (next == NULL) {
    errno = ENOSYS;
    return -1;
  }

  n = next->read(fh, fd, buf, len);
  if (n < 0 &&
      errno != EINTR &&
      errno != EAGAIN) {
    read_failed = TRUE;
  }
  return n;
}

static int defer_close(pr_fh_t *fh, int fd) {
  pr_fs_t *next = next_fs(offsetof(pr_fs_t, close));

  if (next == NULL) {
    errno = ENOSYS;
    return -1;
  }

  if (fd == up.fd) {
    up.fd = -1;
    if (up.deferred) {
      close_deferred(fd);
    }
  }
  return next->close(fh, fd);
}

/* defer_unlink - DeleteAbortedStores removes the target of a failed
 * upload: not a file that existed and got no byte of it, nor one that the
 * upload did not replace (APPE, a restarted STOR: the file held data of
 * its own before) */
static int defer_unlink(pr_fs_t *fs, const char *path) {
  pr_fs_t *next = next_fs(offsetof(pr_fs_t, unlink));

  (void) fs;
  if (next == NULL) {
    errno = ENOSYS;
    return -1;
  }

  if (is_target(path) &&
      (!up.arrived || !up.truncating)) {
    ftps_log("upload of %s failed %s: the existing file was kept (not "
      "removed for DeleteAbortedStores)", up.path, !up.arrived ?
      "before its first byte" : "while appending to it");
    return 0;
  }
  return next->unlink(next, path);
}

int ftps_deferstore_install(pool *p) {
  /* Created now, put in the chain at the first upload (raise_layer): a
   * file opened before login (mod_auth_file's AuthUserFile) would be tied
   * to our layer, and mod_statcache's unmount of "/" after login would
   * then leave that handle a layer that leads nowhere. */
  defer_fs = pr_create_fs(p, "mod_ftps");
  if (defer_fs == NULL) {
    return -1;
  }

  /* Every other callback stays NULL: the core passes those calls down to
   * the layer below (the system, or mod_vroot & co.). */
  defer_fs->open = defer_open;
  defer_fs->read = defer_read;
  defer_fs->write = defer_write;
  defer_fs->close = defer_close;
  defer_fs->unlink = defer_unlink;
  return 0;
}

/* raise_layer - put our layer back on top of "/".  A module that adds its
 * own layer after ours and opens files itself would open (and truncate)
 * the target before we see it; mod_statcache even unmounts the layer it
 * finds at "/" after login, ours.  On top again, we see the open first and
 * pass it on to the layer below. */
static int raise_layer(void) {
  int exact = FALSE;
  pr_fs_t *top, *prev;

  top = pr_get_fs("/", &exact);
  if (top == NULL ||
      top == defer_fs) {
    return 0;
  }

  /* Out of the chain where it still is, then pushed on top (pr_insert_fs
   * stacks a layer over the one registered at the same path). */
  for (prev = top; prev != NULL && prev->fs_next != defer_fs;
      prev = prev->fs_next) {
  }
  if (prev != NULL) {
    prev->fs_next = defer_fs->fs_next;
    if (defer_fs->fs_next != NULL) {
      defer_fs->fs_next->fs_prev = prev;
    }
  }
  /* pr_insert_fs sets fs_next where "/" has a layer; where it has none
   * (every layer unmounted), the chain goes on to what serves "/" now. */
  defer_fs->fs_prev = NULL;
  defer_fs->fs_next = top;
  if (pr_insert_fs(defer_fs, "/") != TRUE) {
    return -1;
  }
  pr_trace_msg(FTPS_TRACE_CHANNEL, 9, "FSIO layer put above '%s'",
    top->fs_name);
  return 0;
}

void ftps_deferstore_expect(const char *path, int overwrite) {
  struct stat st;

  ftps_deferstore_forget();
  if (raise_layer() < 0) {
    ftps_log("upload of %s: cannot put the layer that defers its "
      "truncation above the other FSIO layers: %s", path, strerror(errno));
  }
  if (strlen(path) >= sizeof(up.path)) {
    return;
  }

  if (pr_fsio_stat(path, &st) < 0) {
    if (errno != ENOENT) {
      return;
    }

  } else if (S_ISREG(st.st_mode)) {
    up.existed = TRUE;
    up.dev = st.st_dev;
    up.ino = st.st_ino;
    up.overwrite = overwrite;

  } else {
    return;
  }

  up.pending = TRUE;
  sstrncpy(up.path, path, sizeof(up.path));
}

int ftps_deferstore_succeeded(void) {
  int res = 0, xerrno = 0;

  if (up.deferred) {
    if (up.kept_fd < 0) {
      res = -1;
      xerrno = up.kept_errno;

    } else if (ftruncate(up.kept_fd, 0) < 0) {
      res = -1;
      xerrno = errno;
    }
  }
  ftps_deferstore_forget();
  errno = xerrno;
  return res;
}

void ftps_deferstore_failed(void) {
  struct stat st;

  if (!up.pending) {
    return;
  }

  if (up.opened &&
      !up.arrived) {
    ftps_log("upload of %s failed before its first byte: the existing file "
      "was left untouched", up.path);

  } else if (!up.existed &&
             pr_fsio_stat(up.path, &st) == 0 &&
             S_ISREG(st.st_mode) &&
             st.st_size == 0 &&
             pr_fsio_unlink(up.path) == 0) {
    ftps_log("upload of %s failed: removed the empty file it created",
      up.path);
  }
  ftps_deferstore_forget();
}

void ftps_deferstore_forget(void) {
  if (up.kept_fd >= 0) {
    (void) close(up.kept_fd);
  }
  up.pending = FALSE;
  up.existed = FALSE;
  up.overwrite = FALSE;
  up.opened = FALSE;
  up.fd = -1;
  up.truncating = FALSE;
  up.deferred = FALSE;
  up.arrived = FALSE;
  up.kept_fd = -1;
  up.path[0] = '\0';
}

void ftps_deferstore_watch_reads(void) {
  read_failed = FALSE;
  if (raise_layer() < 0) {
    ftps_log("cannot put the FSIO layer that watches file reads above the "
      "other layers: %s", strerror(errno));
  }
}

int ftps_deferstore_read_failed(void) {
  return read_failed;
}
