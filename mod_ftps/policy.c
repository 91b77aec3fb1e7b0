/*
 * policy.c - which TLSRequired governs a command (ftps/policy.h).
 */
#include "ftps/policy.h"
#include "ftps/session.h"

/* target_of - the path a transfer command names, or NULL: the argument of
 * RETR/STOR/APPE, or the first word of LIST/NLST/MLSD's that is not an
 * option ("LIST -la secure") */
static char *target_of(cmd_rec *cmd) {
  char *arg, *word;

  if (cmd == NULL ||
      cmd->argc < 2 ||
      cmd->arg == NULL ||
      !ftps_sess_is_data_cmd(cmd->argv[0])) {
    return NULL;
  }

  if (pr_cmd_cmp(cmd, PR_CMD_RETR_ID) == 0 ||
      pr_cmd_cmp(cmd, PR_CMD_STOR_ID) == 0 ||
      pr_cmd_cmp(cmd, PR_CMD_APPE_ID) == 0) {
    return pstrdup(cmd->tmp_pool, cmd->arg);
  }

  arg = pstrdup(cmd->tmp_pool, cmd->arg);
  while ((word = pr_str_get_word(&arg, 0)) != NULL) {
    if (*word != '-') {
      return word;
    }
  }
  return NULL;
}

/* load_ftpaccess - read the .ftpaccess files on the way to path (or its
 * directory, for a file not yet there), as the core does for the command's
 * own checks, which come after ours */
static void load_ftpaccess(cmd_rec *cmd, const char *path) {
  struct stat st;
  char *dir, *slash;

  if (pr_fsio_stat(path, &st) == 0) {
    build_dyn_config(cmd->tmp_pool, path, &st, TRUE);
    return;
  }

  dir = pstrdup(cmd->tmp_pool, path);
  slash = strrchr(dir, '/');
  if (slash == NULL) {
    return;
  }
  *slash = '\0';
  if (*dir != '\0' &&
      pr_fsio_stat(dir, &st) == 0) {
    build_dyn_config(cmd->tmp_pool, dir, &st, TRUE);
  }
}

void ftps_policy_required(cmd_rec *cmd, struct ftps_required *req) {
  struct ftps_required *found;
  xaset_t *set = CURRENT_CONF;
  char *target;

  target = target_of(cmd);
  if (target != NULL) {
    /* Resolve "..", symlinks and the like, as the command itself will. */
    char *best = dir_best_path(cmd->tmp_pool, target);

    if (best != NULL) {
      target = best;
    }
    load_ftpaccess(cmd, target);
    set = get_dir_ctxt(cmd->tmp_pool, target);
  }

  found = get_param_ptr(set, "TLSRequired", FALSE);
  if (found != NULL) {
    *req = *found;

  } else {
    memset(req, 0, sizeof(*req));
  }
}
