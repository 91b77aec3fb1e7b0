/*
 * sendfile.c - downloads by sendfile(2) where the kernel encrypts
 * (see ftps/sendfile.h).
 */
#include "mod_ftps.h"
#include "ftps/sendfile.h"

static int allowed = FALSE;

/* tell_xfer - hand mod_xfer's PROT handler "PROT <level>": 0, or -1 when
 * mod_xfer (or its handler) is not there.  Called directly, not through
 * pr_cmd_dispatch_phase(), which would point session.curr_cmd_rec (and
 * curr_cmd, curr_phase) at this short-lived command in the middle of the
 * real one. */
static int tell_xfer(const char *level) {
  module *m = pr_module_get("mod_xfer.c");
  cmdtable *tab;
  cmd_rec *cmd;

  if (m == NULL || m->cmdtable == NULL) {
    return -1;
  }

  for (tab = m->cmdtable; tab->command != NULL; tab++) {
    if (tab->cmd_type == POST_CMD &&
        strcmp(tab->command, C_PROT) == 0) {
      break;
    }
  }
  if (tab->command == NULL ||
      tab->handler == NULL) {
    return -1;
  }

  cmd = pr_cmd_alloc(session.pool, 2, C_PROT, level);
  if (cmd == NULL) {
    return -1;
  }
  (void) tab->handler(cmd);
  destroy_pool(cmd->pool);
  return 0;
}

void ftps_sendfile_forbid(void) {
  /* Should mod_xfer be missing, there is nothing that could use
   * sendfile. */
  (void) tell_xfer("P");
  allowed = FALSE;
}

int ftps_sendfile_allow(int kernel_send) {
  if (!kernel_send) {
    if (allowed) {
      ftps_sendfile_forbid();
    }
    return FALSE;
  }

  if (!allowed &&
      tell_xfer("C") == 0) {
    allowed = TRUE;
  }
  return allowed;
}
