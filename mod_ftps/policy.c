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
  /* mod_digest: HASH and MD5 name a path (the whole line); XCRC, XMD5,
   * XSHA... name "path [start end]" */
  { "HASH", 1, FALSE, FALSE },  { "MD5", 1, FALSE, FALSE },
  { "XCRC", 1, TRUE, FALSE },   { "XMD5", 1, TRUE, FALSE },
  { "XSHA", 1, TRUE, FALSE },   { "XSHA1", 1, TRUE, FALSE },
  { "XSHA256", 1, TRUE, FALSE }, { "XSHA512", 1, TRUE, FALSE },
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

static int walk(struct reach *r, const char *dir, const char *pattern,
    unsigned int depth);

/* walk_literal - the next directory of a walk named by comp, a component
 * without glob characters: taken as it is, as glob(3) takes it (also
 * "..", and below a directory that may be searched but not read) */
static int walk_literal(struct reach *r, const char *dir, const char *comp,
    const char *next, unsigned int depth) {
  char *sub = pdircat(r->cmd->tmp_pool, dir, comp, NULL), *real;
  struct stat st;
  int res = 0;

  /* Resolved where it is ("x/.." is x's physical parent, as for the
   * kernel), so that the rule of the directory it names is found. */
  real = dir_realpath(r->cmd->tmp_pool, sub);
  if (real != NULL) {
    sub = real;
  }
  r->level++;
  if (pr_fsio_stat(sub, &st) == 0 &&
      S_ISDIR(st.st_mode)) {
    res = walk(r, sub, next, depth);
  }
  r->level--;
  return res;
}

/* walk_entries - the directories in dir that comp matches (NULL: all, for
 * a recursive listing), each walked further */
static int walk_entries(struct reach *r, const char *dir, const char *comp,
    const char *next, unsigned int depth) {
  struct dirent *ent;
  struct stat st;
  void *dh;
  int res = 0;

  dh = pr_fsio_opendir(dir);
  if (dh == NULL) {
    return 0;
  }

  r->level++;
  while (res == 0 &&
         (ent = pr_fsio_readdir(dh)) != NULL) {
    char *sub;

    /* "." and ".." only where a pattern that begins with a dot names
     * them (glob(3) matches ".*" against both). */
    if (((strcmp(ent->d_name, ".") == 0 ||
          strcmp(ent->d_name, "..") == 0) &&
         (comp == NULL || comp[0] != '.')) ||
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

/* walk - look at dir and below it: at the directories whose names match
 * the glob components in pattern (NULL: none left), then at depth levels
 * more (UINT_MAX: all; symbolic links followed, as a glob or ShowSymlinks
 * off would); 1 when one requires data TLS or the tree is too large */
static int walk(struct reach *r, const char *dir, const char *pattern,
    unsigned int depth) {
  struct stat st;
  char *comp = NULL, *real;
  const char *next = NULL;
  int res;

  if (pr_fsio_stat(dir, &st) < 0) {
    return 0;
  }

  res = first_visit(r, &st, pattern, depth);
  if (res == 0) {
    return 0;
  }

  if (res < 0 ||
      r->level > FTPS_POLICY_MAX_DEPTH) {
    r->found = "(a listing too large or too deep to check for protected "
      "directories; use PROT P)";
    return 1;
  }

  /* The rule of the directory the kernel reaches ("lnk/.." is lnk's
   * physical parent), as mod_ls lists it. */
  real = dir_realpath(r->cmd->tmp_pool, dir);
  if (dir_requires_data(r->cmd, real != NULL ? real : dir)) {
    r->found = pstrdup(r->cmd->tmp_pool, dir);
    return 1;
  }

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

  if (comp != NULL &&
      strpbrk(comp, "*?[\\") == NULL) {
    return walk_literal(r, dir, comp, next, depth);
  }
  return walk_entries(r, dir, comp, next, depth);
}

/* mod_ls's ListOptions flags (config argv[5]): which command a
 * ListOptions applies to */
#define FTPS_LS_LIST_ONLY  0x0002
#define FTPS_LS_NLST_ONLY  0x0004

/* list_options_of - the ListOptions mod_ls applies to cmd: the first one
 * not reserved to another command (STAT takes neither reserved kind) */
static config_rec *list_options_of(cmd_rec *cmd) {
  unsigned long skip = FTPS_LS_LIST_ONLY|FTPS_LS_NLST_ONLY;
  config_rec *c;

  if (pr_cmd_cmp(cmd, PR_CMD_LIST_ID) == 0) {
    skip = FTPS_LS_NLST_ONLY;

  } else if (pr_cmd_cmp(cmd, PR_CMD_NLST_ID) == 0) {
    skip = FTPS_LS_LIST_ONLY;
  }

  c = find_config(CURRENT_CONF, CONF_PARAM, "ListOptions", FALSE);
  while (c != NULL) {
    if (c->argc > 5 &&
        c->argv[5] != NULL &&
        (*((unsigned long *) c->argv[5]) & skip) == 0) {
      return c;
    }
    c = find_config_next(c, c->next, CONF_PARAM, "ListOptions", FALSE);
  }
  return NULL;
}

/* read_opts - past the option groups at s ("-al -R", or "+R" in a
 * ListOptions), read exactly as mod_ls reads them, since what follows is
 * the path it lists: a group is the sign and letters (strict: the whole
 * word, whose letters are ignored); blanks after the last group are
 * skipped, except that of two blanks only the first is.  -R and +R set
 * and clear *rec. */
static const char *read_opts(const char *s, char sign, int strict,
    int *rec) {
  const char *p = s;

  if (sign == '-') {
    while (PR_ISSPACE(*p)) {
      p++;
    }
    if (*p == sign) {
      s = p;
    }
  }

  while (*s == sign) {
    if (strict) {
      while (*s != '\0' && !PR_ISSPACE(*s)) {
        s++;
      }

    } else {
      for (s++; PR_ISALNUM(*s); s++) {
        if (*s == 'R') {
          *rec = (sign == '-');
        }
      }
    }

    for (p = s; *p != '\0' && PR_ISSPACE(*p); p++);
    if (*p == sign) {
      s = p;
      continue;
    }
    s = (*s != '\0' && s[1] == ' ') ? s + 1 : p;
    break;
  }
  return s;
}

/* expand_home - "~/path" or "~user/path" as mod_ls expands it: the
 * user's home directory from the auth modules (so without DefaultRoot it
 * names the real directory); unchanged for an unknown user */
static const char *expand_home(cmd_rec *cmd, const char *path) {
  const char *rest = strchr(path, '/');
  char *name;
  struct passwd *pw;

  if (rest == NULL) {
    rest = path + strlen(path);
  }
  name = pstrndup(cmd->tmp_pool, path + 1, rest - path - 1);
  pw = pr_auth_getpwnam(cmd->tmp_pool, *name != '\0' ? name : session.user);
  if (pw == NULL ||
      pw->pw_dir == NULL) {
    return path;
  }
  return pstrcat(cmd->tmp_pool, pw->pw_dir, rest, NULL);
}

/* listing_target - the one path a LIST, NLST or STAT lists, read as
 * mod_ls reads it: the whole rest of the line after the options (a name
 * may hold blanks), options only when there are several words or the
 * line names nothing that exists, ~ expanded; *rec: -R in force (the
 * client's options, unless ListOptions is strict, then ListOptions's).
 * NULL when mod_ls lists nothing (a name it cannot decode). */
static const char *listing_target(cmd_rec *cmd, int *rec) {
  config_rec *lo = list_options_of(cmd);
  const char *arg;
  struct stat st;

  *rec = FALSE;
  arg = pr_fs_decode_path2(cmd->tmp_pool, cmd->arg != NULL ? cmd->arg : "",
    FSIO_DECODE_FL_TELL_ERRORS);
  if (arg == NULL) {
    return NULL;
  }

  if (ftps_policy_is_ctrl_listing(cmd)) {
    /* mod_ls's STAT drops a first word of options itself */
    if (*arg == '-') {
      while (*arg != '\0' && !PR_ISSPACE(*arg)) {
        arg++;
      }
    }
    while (PR_ISSPACE(*arg)) {
      arg++;
    }

  } else if (cmd->argc == 1) {
    arg = ".";
  }

  if (cmd->argc > 2 ||
      pr_fsio_stat(arg, &st) < 0) {
    arg = read_opts(arg, '-', lo != NULL && lo->argv[1] != NULL &&
      *((unsigned char *) lo->argv[1]), rec);
  }

  if (lo != NULL &&
      lo->argv[0] != NULL) {
    const char *o = read_opts(lo->argv[0], '-', FALSE, rec);

    (void) read_opts(o, '+', FALSE, rec);
  }

  if (*arg == '\0') {
    return ".";
  }
  return *arg == '~' ? expand_home(cmd, arg) : arg;
}

/* has_data_rule - a TLSRequired in set, or in a <Directory> or
 * <Anonymous> within it, requires a protected data channel */
static int has_data_rule(xaset_t *set) {
  config_rec *c;

  if (set == NULL) {
    return FALSE;
  }

  for (c = (config_rec *) set->xas_list; c != NULL; c = c->next) {
    if (c->config_type == CONF_PARAM &&
        c->name != NULL &&
        strcmp(c->name, "TLSRequired") == 0 &&
        c->argv[0] != NULL &&
        ((struct ftps_required *) c->argv[0])->data == FTPS_DATA_REQUIRED) {
      return TRUE;
    }

    if (c->subset != NULL &&
        has_data_rule(c->subset)) {
      return TRUE;
    }
  }
  return FALSE;
}

/* overrides_read - .ftpaccess files may be read somewhere in set: the
 * core reads them unless AllowOverride says off (its default is on), and
 * an AllowOverride on (or one for some users only) anywhere may let them
 * in.  "top": set is where a session stands (the server, <Anonymous>),
 * which must say off itself. */
static int overrides_read(xaset_t *set, int top) {
  config_rec *c;
  int off_here = FALSE;

  for (c = (config_rec *) set->xas_list; c != NULL; c = c->next) {
    if (c->config_type == CONF_PARAM &&
        c->name != NULL &&
        strcmp(c->name, "AllowOverride") == 0) {
      if (c->argc != 2 ||
          c->argv[0] == NULL ||
          *((int *) c->argv[0]) != FALSE) {
        return TRUE;
      }
      off_here = TRUE;
    }

    if (c->subset != NULL &&
        overrides_read(c->subset, c->config_type == CONF_ANON)) {
      return TRUE;
    }
  }
  return top && !off_here;
}

/* data_rule_reachable - some directory of this server may require a
 * protected data channel: a TLSRequired that does, anywhere in the
 * server's configuration, or .ftpaccess files that could add one.
 * Without, a listing in clear reveals nothing protected, and is not
 * walked (a walk costs a stat and a rule lookup per directory). */
static int data_rule_reachable(void) {
  return has_data_rule(main_server->conf) ||
    overrides_read(main_server->conf, TRUE);
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

/* unescape - a glob's directory part as glob(3) reads it: "\c" is c */
static char *unescape(pool *p, const char *s) {
  char *out = pstrdup(p, s), *o = out;

  for (; *s != '\0'; s++) {
    if (*s == '\\' &&
        s[1] != '\0') {
      s++;
    }
    *o++ = *s;
  }
  *o = '\0';
  return out;
}

const char *ftps_policy_listing_reaches(cmd_rec *cmd) {
  struct reach r;
  struct stat st;
  const char *target, *pattern = NULL;
  char *base;
  int recursive;

  if (cmd == NULL ||
      (pr_cmd_cmp(cmd, PR_CMD_LIST_ID) != 0 &&
       pr_cmd_cmp(cmd, PR_CMD_NLST_ID) != 0 &&
       !ftps_policy_is_ctrl_listing(cmd)) ||
      !data_rule_reachable()) {
    return NULL;
  }

  target = listing_target(cmd, &recursive);
  if (target == NULL) {
    return NULL;
  }

  memset(&r, 0, sizeof(r));
  r.cmd = cmd;
  r.seen = pr_table_alloc(cmd->tmp_pool, 0);

  /* The target as named: mod_ls lists it so when it holds no glob, or
   * when the glob matches nothing. */
  if (pr_fsio_stat(target, &st) == 0 &&
      walk(&r, target, NULL, recursive ? UINT_MAX : 0) != 0) {
    return r.found;
  }

  base = glob_split(cmd->tmp_pool, target, &pattern);
  if (base == NULL) {
    return NULL;
  }

  /* A glob reaches what its components match below its directory part:
   * one that cannot be found here is not known to reach nothing.  A walk
   * of its own: the target as named may have marked directories it could
   * not read (ProFTPD cleans "[p]ub/.." to "." before stat(2), while
   * opendir(3) fails on it). */
  r.seen = pr_table_alloc(cmd->tmp_pool, 0);
  base = unescape(cmd->tmp_pool, base);
  if (pr_fsio_stat(base, &st) < 0) {
    return "(a path that cannot be checked for protected directories)";
  }
  return walk(&r, base, pattern, recursive ? UINT_MAX : 0) != 0 ?
    r.found : NULL;
}

int ftps_policy_chroot_hides_trust(server_rec *s, SSL_CTX *ctx) {
  if (session.chroot_path == NULL ||
      strcmp(session.chroot_path, "/") == 0 ||
      (ctx != NULL &&
       SSL_CTX_get_verify_mode(ctx) == SSL_VERIFY_NONE)) {
    return 0;
  }
  return get_param_ptr(s->conf, "TLSCACertificatePath", FALSE) != NULL ||
    get_param_ptr(s->conf, "TLSCARevocationPath", FALSE) != NULL;
}
