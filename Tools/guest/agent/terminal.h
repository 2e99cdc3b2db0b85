/* PTY: a program on a pseudo-terminal of its own (Tools/guest/PROTOCOL.md),
 * for `stasis shell`. Unlike RUN it does not run in the persistent shell: a
 * terminal session is a fresh interactive shell (or `sh -c COMMAND`) in its
 * own session, with the pty as its controlling terminal.
 *   host: PTY <id> <rows> <cols> <TERM> <base64 command>, then IN/RESIZE/EOF
 *   guest: OUT <id> 1 <base64 chunk>... END <id> <exit code> <bytes> 0 <timed out> */
#ifndef STASIS_AGENT_TERMINAL_H
#define STASIS_AGENT_TERMINAL_H
#include "port.h"

struct terminal_request {
    const char *id;
    unsigned rows, cols;
    const char *term;
    const char *command; /* empty: an interactive shell */
    int deadline;        /* whole seconds, 0 for none */
};

/* Runs one terminal session to its end and answers END. Returns 0, or -1 when
 * the pty or the process could not be made (nothing was started; the caller
 * answers ERR). */
int terminal_run(struct port *port, const struct terminal_request *r, const char **problem);

#endif
