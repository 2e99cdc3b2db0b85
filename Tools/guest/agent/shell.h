/* The persistent shell: one long-lived shell that runs every EXEC and RUN in
 * turn, so that the working directory, variables, functions and background
 * jobs carry over from one command to the next (the sandbox's shell state).
 * It reads its commands from the FIFO RUN/cmd and reports each completion on
 * RUN/done as `DONE <seq> <status>`, or `EXIT <status>` from its EXIT trap
 * when a command made it exit. */
#ifndef STASIS_AGENT_SHELL_H
#define STASIS_AGENT_SHELL_H
#include <sys/types.h>

struct shell {
    pid_t pid;
    int cmd_fd;   /* RUN/cmd, held read-write: the shell never reads end-of-file */
    int done_fd;  /* RUN/done, held read-write: the shell's opens never wait */
    char done_buf[256];
    size_t done_len;
};

/* How a command ended. */
enum ending { ENDED_DONE, ENDED_EXIT, ENDED_DEADLINE, ENDED_DIED, ENDED_FAILED };

/* Starts a fresh shell (cwd STASIS_AGENT_HOME, a clean environment, the
 * template profile sourced when one is set). 0, or -1 with errno. */
int shell_start(struct shell *sh);

/* Kills the shell's whole process group (the command and everything it
 * started), reaps it and starts a fresh one. */
void shell_restart(struct shell *sh, int kill_first);

/* Hands `command . SCRIPT <IN >OUT 2>ERR; echo "DONE SEQ $?" >RUN/done` to the shell. */
int shell_submit(struct shell *sh, const char *script, const char *in, const char *out,
                 const char *err, unsigned long seq);

/* Reads the done FIFO after poll said it is readable: returns 1, with how the
 * command ended and its status, once the report for `seq` (or the shell's
 * EXIT) is in. */
int shell_read_report(struct shell *sh, unsigned long seq, enum ending *ending, int *status);

/* True once the shell has exited without reporting (killed, or its trap
 * replaced); *status is then its exit code the way a shell spells it. */
int shell_gone(struct shell *sh, int *status);

/* execve of the agent's shell program: a bare name (`sh`) is looked up along
 * PATH. Returns only when every try failed. */
void shell_exec(const char *bin, char *const argv[], char *const env[]);

/* The directory of the FIFOs and request files (STASIS_AGENT_RUN, /run/stasis). */
const char *agent_run_dir(void);

#endif
