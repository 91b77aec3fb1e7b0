/*
 * policy.c - which TLSRequired governs a command (ftps/policy.h).
 */
#include "ftps/policy.h"
#include "ftps/session.h"

/* How far a listing's reach is checked (mod_ls's recursion has no limit
 * by default): a tree deeper or larger than this is taken as reaching a
 * protected directory (fail closed). */
#define FTPS_POLICY_MAX_DEPTH  64
#define FTPS_POLICY_MAX_DIRS   8000   /* under pr_table's 8192 */

/* A walk below a listing's starting point. */
struct reach {
  cmd_rec *cmd;
  pr_table_t *seen;             /* "dev:ino:depth:pattern" looked at */
  unsigned int level;           /* below the starting point */
  const char *found;            /* the first that requires data TLS */
};

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

/* dir_requires_data - the TLSRequired in force at directory dir (with the
 * .ftpaccess files on the way) demands a protected data channel */
static int dir_requires_data(cmd_rec *cmd, const char *dir) {
  struct ftps_required *found;
  char *best = dir_best_path(cmd->tmp_pool, dir);

  if (best == NULL) {
    best = pstrdup(cmd->tmp_pool, dir);
  }
  load_ftpaccess(cmd, best);
  found = get_param_ptr(get_dir_ctxt(cmd->tmp_pool, best), "TLSRequired",
    FALSE);
  return found != NULL &&
    found->data == FTPS_DATA_REQUIRED;
}

/* first_visit - 1 if the directory st was not yet looked at this way (each
 * directory once for each way it is reached: symbolic links may loop), 0
 * if it was, -1 past FTPS_POLICY_MAX_DIRS directories */
static int first_visit(struct reach *r, const struct stat *st,
    const char *pattern, unsigned int depth) {
  char buf[80], *key;

  pr_snprintf(buf, sizeof(buf), "%lu:%lu:%u:", (unsigned long) st->st_dev,
    (unsigned long) st->st_ino, depth);
  key = pstrcat(r->cmd->tmp_pool, buf, pattern != NULL ? pattern : "", NULL);
  if (pr_table_get(r->seen, key, NULL) != NULL) {
    return 0;
  }

  if (pr_table_count(r->seen) >= FTPS_POLICY_MAX_DIRS) {
    return -1;
  }
  (void) pr_table_add(r->seen, key, "", 1);
  return 1;
}

/* walk - look at dir and below it: at the directories whose names match
 * the glob components in pattern (NULL: none left), then at depth levels
 * more (UINT_MAX: all; symbolic links followed, as a glob or ShowSymlinks
 * off would); 1 when one requires data TLS or the tree is too large */
static int walk(struct reach *r, const char *dir, const char *pattern,
    unsigned int depth) {
  struct dirent *ent;
  struct stat st;
  void *dh;
  char *comp = NULL;
  const char *next = NULL;
  int res = 0;

  if (pr_fsio_stat(dir, &st) < 0) {
    return 0;
  }

  res = first_visit(r, &st, pattern, depth);
  if (res == 0) {
    return 0;
  }

  if (res < 0 ||
      r->level > FTPS_POLICY_MAX_DEPTH) {
    r->found = "(a tree too large or too deep to be checked)";
    return 1;
  }

  if (dir_requires_data(r->cmd, dir)) {
    r->found = pstrdup(r->cmd->tmp_pool, dir);
    return 1;
  }
  res = 0;

  /* mod_ls lists what a glob's last component matches, not the content
   * of the directories it matches (unless -R). */
  if (depth == 0 &&
      (pattern == NULL ||
       strchr(pattern, '/') == NULL)) {
    return 0;
  }

  if (pattern != NULL) {
    comp = pstrdup(r->cmd->tmp_pool, pattern);
    next = strchr(pattern, '/');
    if (next != NULL) {
      comp[next - pattern] = '\0';
      next++;
    }
  }

  dh = pr_fsio_opendir(dir);
  if (dh == NULL) {
    return 0;
  }

  r->level++;
  while (res == 0 &&
         (ent = pr_fsio_readdir(dh)) != NULL) {
    char *sub;

    if (strcmp(ent->d_name, ".") == 0 ||
        strcmp(ent->d_name, "..") == 0 ||
        (comp != NULL &&
         pr_fnmatch(comp, ent->d_name, 0) != 0)) {
      continue;
    }

    sub = pdircat(r->cmd->tmp_pool, dir, ent->d_name, NULL);
    if (pr_fsio_stat(sub, &st) == 0 &&
        S_ISDIR(st.st_mode)) {
      res = walk(r, sub, next, comp != NULL || depth == UINT_MAX ? depth :
        depth - 1);
    }
  }
  r->level--;
  (void) pr_fsio_closedir(dh);
  return res;
}

/* is_recursive - an option word asks for -R, or ListOptions does */
static int is_recursive(const char *opts) {
  config_rec *c;

  if (strchr(opts, 'R') != NULL) {
    return TRUE;
  }

  c = find_config(CURRENT_CONF, CONF_PARAM, "ListOptions", FALSE);
  return c != NULL &&
    c->argv[0] != NULL &&
    strchr((char *) c->argv[0], 'R') != NULL;
}

/* glob_split - for a path with glob characters: its directory part
 * before the first globbing component (returned), and in *pattern the
 * components from there on; NULL without glob characters */
static char *glob_split(pool *p, const char *path, const char **pattern) {
  char *base, *slash;
  const char *glob = strpbrk(path, "*?[");

  if (glob == NULL) {
    return NULL;
  }

  base = pstrdup(p, path);
  base[glob - path] = '\0';
  slash = strrchr(base, '/');
  if (slash == NULL) {
    *pattern = path;
    return ".";
  }

  *pattern = path + (slash - base) + 1;
  if (slash == base) {
    base[1] = '\0';

  } else {
    *slash = '\0';
  }
  return base;
}

const char *ftps_policy_listing_reaches(cmd_rec *cmd) {
  struct reach r;
  char *arg, *word, *opts = "";
  char *targets[16];
  unsigned int ntargets = 0, i;
  int recursive;

  if (cmd == NULL ||
      (pr_cmd_cmp(cmd, PR_CMD_LIST_ID) != 0 &&
       pr_cmd_cmp(cmd, PR_CMD_NLST_ID) != 0)) {
    return NULL;
  }

  arg = pstrdup(cmd->tmp_pool, cmd->arg != NULL ? cmd->arg : "");
  while ((word = pr_str_get_word(&arg, 0)) != NULL) {
    if (*word == '-') {
      opts = pstrcat(cmd->tmp_pool, opts, word, NULL);

    } else if (ntargets < sizeof(targets) / sizeof(targets[0])) {
      targets[ntargets++] = word;

    } else {
      return "(more paths than can be checked)";
    }
  }
  if (ntargets == 0) {
    targets[ntargets++] = ".";
  }

  recursive = is_recursive(opts);
  memset(&r, 0, sizeof(r));
  r.cmd = cmd;
  r.seen = pr_table_alloc(cmd->tmp_pool, 0);
  for (i = 0; i < ntargets; i++) {
    const char *pattern = NULL;
    char *base = glob_split(cmd->tmp_pool, targets[i], &pattern);
    unsigned int depth = recursive ? UINT_MAX : 0;

    /* A plain target's own rule was checked with the command's; a glob
     * may reach below the directory it starts from. */
    if (base == NULL) {
      if (!recursive) {
        continue;
      }
      base = targets[i];
    }

    if (walk(&r, base, pattern, depth) != 0) {
      return r.found;
    }
  }
  return NULL;
}
