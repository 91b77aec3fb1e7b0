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

/* Where a command names paths: from argv[from] to the end of the line
 * (names may hold blanks), and with "each" every word from there on as
 * well (a second path, as in SITE SYMLINK; or several, as for LIST).
 * "opts": leading words that begin with '-' are options (mod_ls). */
struct path_arg {
  const char *name;
  int from;
  int each;
  int opts;
};

/* The commands that name a file or directory, transfers and control
 * commands alike: what they reveal or change is at that path, whose rule
 * governs them (a <Directory> rule cannot be escaped by naming the path
 * from elsewhere, and a command sent from there is not held to it). */
static const struct path_arg path_cmds[] = {
  { C_RETR, 1, FALSE, FALSE }, { C_STOR, 1, FALSE, FALSE },
  { C_APPE, 1, FALSE, FALSE }, { C_MLSD, 1, FALSE, FALSE },
  { C_LIST, 1, TRUE, TRUE },   { C_NLST, 1, TRUE, TRUE },
  { C_STAT, 1, TRUE, TRUE },   { C_MLST, 1, FALSE, FALSE },
  { C_CWD, 1, FALSE, FALSE },  { C_XCWD, 1, FALSE, FALSE },
  { C_SIZE, 1, FALSE, FALSE }, { C_MDTM, 1, FALSE, FALSE },
  { C_MKD, 1, FALSE, FALSE },  { C_XMKD, 1, FALSE, FALSE },
  { C_RMD, 1, FALSE, FALSE },  { C_XRMD, 1, FALSE, FALSE },
  { C_DELE, 1, FALSE, FALSE }, { C_RNFR, 1, FALSE, FALSE },
  { C_RNTO, 1, FALSE, FALSE }, { C_MFMT, 2, FALSE, FALSE },
  { C_MFF, 2, FALSE, FALSE },
  { NULL, 0, FALSE, FALSE }
};

/* SITE's subcommands that name paths (mod_site, mod_site_misc, mod_copy);
 * argv[1] is the subcommand. */
static const struct path_arg site_cmds[] = {
  { "CHMOD", 3, FALSE, FALSE }, { "CHGRP", 3, FALSE, FALSE },
  { "CPFR", 2, FALSE, FALSE },  { "CPTO", 2, FALSE, FALSE },
  { "MKDIR", 2, FALSE, FALSE }, { "RMDIR", 2, FALSE, FALSE },
  { "COPY", 2, TRUE, FALSE },   { "SYMLINK", 2, TRUE, FALSE },
  { "UTIME", 2, TRUE, FALSE },
  { NULL, 0, FALSE, FALSE }
};

/* path_arg_of - how cmd names paths, or NULL if it names none */
static const struct path_arg *path_arg_of(cmd_rec *cmd) {
  const struct path_arg *list = path_cmds;
  const char *name;
  size_t i;

  if (cmd == NULL ||
      cmd->argc < 2 ||
      cmd->arg == NULL) {
    return NULL;
  }

  name = cmd->argv[0];
  if (strcasecmp(name, C_SITE) == 0) {
    list = site_cmds;
    name = cmd->argv[1];
  }

  for (i = 0; list[i].name != NULL; i++) {
    if (strcasecmp(list[i].name, name) == 0) {
      return (int) cmd->argc > list[i].from ? &list[i] : NULL;
    }
  }
  return NULL;
}

/* skip_word - past the blanks, then the word, at s */
static const char *skip_word(const char *s) {
  while (*s == ' ' || *s == '\t') {
    s++;
  }
  while (*s != '\0' && *s != ' ' && *s != '\t') {
    s++;
  }
  return s;
}

/* load_ftpaccess - read the .ftpaccess files on the way to path (or its
 * directory, for a file not yet there), as the core does for the command's
 * own checks, which come after ours */
static void load_ftpaccess(pool *p, const char *path) {
  struct stat st;
  char *dir, *slash;

  if (pr_fsio_stat(path, &st) == 0) {
    build_dyn_config(p, path, &st, TRUE);
    return;
  }

  dir = pstrdup(p, path);
  slash = strrchr(dir, '/');
  if (slash == NULL) {
    return;
  }
  *slash = '\0';
  if (*dir != '\0' &&
      pr_fsio_stat(dir, &st) == 0) {
    build_dyn_config(p, dir, &st, TRUE);
  }
}

/* rule_in - the TLSRequired of a configuration set (none: all 0) */
static void rule_in(xaset_t *set, struct ftps_required *req) {
  struct ftps_required *found;

  found = get_param_ptr(set, "TLSRequired", FALSE);
  if (found != NULL) {
    *req = *found;

  } else {
    memset(req, 0, sizeof(*req));
  }
}

/* rule_at - the TLSRequired at path (<Directory>, with the .ftpaccess
 * files on the way; "..", symbolic links and the like resolved as the
 * command itself will) */
static void rule_at(pool *p, const char *path, struct ftps_required *req) {
  char *best = dir_best_path(p, path);

  if (best == NULL) {
    best = pstrdup(p, path);
  }
  load_ftpaccess(p, best);
  rule_in(get_dir_ctxt(p, best), req);
}

/* stricter - fold rule r into acc: what any of them requires */
static void stricter(struct ftps_required *acc,
    const struct ftps_required *r) {
  acc->ctrl |= r->ctrl;
  acc->auth |= r->auth;
  /* required beats forbidden beats optional */
  if (r->data == FTPS_DATA_REQUIRED ||
      acc->data == FTPS_DATA_OPTIONAL) {
    acc->data = r->data;
  }
}

/* rule_of_paths - the strictest rule of the paths cmd names (as pa says);
 * -1 if it names none after all (options only) */
static int rule_of_paths(cmd_rec *cmd, const struct path_arg *pa,
    struct ftps_required *req) {
  struct ftps_required r;
  const char *rest = cmd->arg;
  int i, n = 0;

  /* cmd->arg is the line after argv[0]: skip to argv[from] */
  for (i = 1; i < pa->from; i++) {
    rest = skip_word(rest);
  }
  for (i = pa->from; pa->opts && i < (int) cmd->argc &&
       *((char *) cmd->argv[i]) == '-'; i++) {
    rest = skip_word(rest);
  }
  while (*rest == ' ' || *rest == '\t') {
    rest++;
  }

  memset(req, 0, sizeof(*req));
  if (*rest != '\0') {
    rule_at(cmd->tmp_pool, rest, &r);
    stricter(req, &r);
    n++;
  }

  for (; pa->each && i < (int) cmd->argc; i++) {
    rule_at(cmd->tmp_pool, cmd->argv[i], &r);
    stricter(req, &r);
    n++;
  }
  return n > 0 ? 0 : -1;
}

/* rule_here - the rule where the session is: its working directory (as
 * CWD set it; never the directory the core's checks of the previous
 * command looked at last, which session.dir_config may still point to);
 * before login, the server's (or <Anonymous>'s) */
static void rule_here(pool *p, struct ftps_required *req) {
  if (session.user == NULL ||
      session.cwd[0] == '\0') {
    rule_in(session.anon_config != NULL ? session.anon_config->subset :
      main_server->conf, req);
    return;
  }
  rule_at(p, session.cwd, req);
}

void ftps_policy_required(cmd_rec *cmd, struct ftps_required *req) {
  const struct path_arg *pa;
  pool *p;

  /* Before login no path is looked at: the core refuses (530) whatever
   * names one, and an unauthenticated client learns nothing of the
   * filesystem from our replies. */
  if (session.user != NULL &&
      cmd != NULL &&
      (pr_cmd_cmp(cmd, PR_CMD_CDUP_ID) == 0 ||
       pr_cmd_cmp(cmd, PR_CMD_XCUP_ID) == 0)) {
    rule_at(cmd->tmp_pool, "..", req);
    return;
  }

  pa = session.user != NULL ? path_arg_of(cmd) : NULL;
  if (pa != NULL &&
      rule_of_paths(cmd, pa, req) == 0) {
    return;
  }

  p = make_sub_pool(cmd != NULL ? cmd->tmp_pool : permanent_pool);
  rule_here(p, req);
  destroy_pool(p);
}

int ftps_policy_is_ctrl_listing(cmd_rec *cmd) {
  return cmd != NULL &&
    cmd->argc >= 2 &&
    pr_cmd_cmp(cmd, PR_CMD_STAT_ID) == 0;
}

/* dir_requires_data - the TLSRequired in force at directory dir (with the
 * .ftpaccess files on the way) demands a protected data channel */
static int dir_requires_data(cmd_rec *cmd, const char *dir) {
  struct ftps_required r;

  rule_at(cmd->tmp_pool, dir, &r);
  return r.data == FTPS_DATA_REQUIRED;
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
       pr_cmd_cmp(cmd, PR_CMD_NLST_ID) != 0 &&
       !ftps_policy_is_ctrl_listing(cmd))) {
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
