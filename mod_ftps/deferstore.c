/*
 * deferstore.c - deferred truncation of overwritten uploads
 * (ftps/deferstore.h).
 */
#include "ftps/deferstore.h"
#include "ftps/log.h"
#include "ftps/netio.h"

static pr_fs_t *defer_fs = NULL;
static int expecting = FALSE;
static dev_t expect_dev;
static ino_t expect_ino;
static int deferred_fd = -1;
static char *new_path = NULL;     /* an upload target that did not exist */

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

/* is_expected - path is the file the pending STOR will overwrite */
static int is_expected(const char *path) {
  struct stat st;

  return expecting &&
    stat(path, &st) == 0 &&
    st.st_dev == expect_dev &&
    st.st_ino == expect_ino;
}

static int defer_open(pr_fh_t *fh, const char *path, int flags) {
  pr_fs_t *next = next_fs(offsetof(pr_fs_t, open));
  int fd;

  if (next == NULL) {
    errno = ENOSYS;
    return -1;
  }

  if (!(flags & O_TRUNC) ||
      !is_expected(path)) {
    return next->open(fh, path, flags);
  }

  expecting = FALSE;
  fd = next->open(fh, path, flags & ~O_TRUNC);
  if (fd >= 0) {
    deferred_fd = fd;
    pr_trace_msg(FTPS_TRACE_CHANNEL, 9, "truncation of %s deferred until "
      "the upload's data arrive", path);
  }
  return fd;
}

/* truncate_now - the upload is real: let the file be overwritten */
static int truncate_now(int fd) {
  deferred_fd = -1;
  return ftruncate(fd, 0);
}

static int defer_write(pr_fh_t *fh, int fd, const char *buf, size_t len) {
  pr_fs_t *next = next_fs(offsetof(pr_fs_t, write));

  if (next == NULL) {
    errno = ENOSYS;
    return -1;
  }

  if (fd == deferred_fd &&
      truncate_now(fd) < 0) {
    return -1;
  }
  return next->write(fh, fd, buf, len);
}

static int defer_close(pr_fh_t *fh, int fd) {
  pr_fs_t *next = next_fs(offsetof(pr_fs_t, close));

  if (next == NULL) {
    errno = ENOSYS;
    return -1;
  }

  if (fd == deferred_fd) {
    /* No data came: an empty upload that completed empties the file; a
     * refused data connection leaves it as it was. */
    if (ftps_netio_data_refused()) {
      deferred_fd = -1;
      ftps_log("upload refused: the existing file was left untouched");

    } else {
      (void) truncate_now(fd);
    }
  }
  return next->close(fh, fd);
}

int ftps_deferstore_install(pool *p) {
  defer_fs = pr_register_fs(p, "mod_ftps", "/");
  if (defer_fs == NULL) {
    return -1;
  }

  /* Every other callback stays NULL: the core passes those calls down to
   * the layer below (the system, or mod_vroot & co.). */
  defer_fs->open = defer_open;
  defer_fs->write = defer_write;
  defer_fs->close = defer_close;
  return 0;
}

void ftps_deferstore_expect(pool *p, const char *path, int overwrite) {
  struct stat st;

  ftps_deferstore_forget();
  if (pr_fsio_stat(path, &st) < 0) {
    if (errno == ENOENT) {
      new_path = pstrdup(p, path);
    }

  } else if (S_ISREG(st.st_mode) &&
             overwrite) {
    expecting = TRUE;
    expect_dev = st.st_dev;
    expect_ino = st.st_ino;
  }
}

void ftps_deferstore_failed(void) {
  struct stat st;

  if (new_path != NULL &&
      ftps_netio_data_refused() &&
      pr_fsio_stat(new_path, &st) == 0 &&
      S_ISREG(st.st_mode) &&
      st.st_size == 0 &&
      pr_fsio_unlink(new_path) == 0) {
    ftps_log("removed the empty file %s left by a refused data connection",
      new_path);
  }
  ftps_deferstore_forget();
}

void ftps_deferstore_forget(void) {
  expecting = FALSE;
  new_path = NULL;
}
