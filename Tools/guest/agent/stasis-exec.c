/*
 * stasis-exec: RUN's relay for the shell agent (/sbin/stasis-agent's own
 * loop, used where stasis-agentd cannot run). The agent has already handed
 * the command to its persistent shell, with stdout and stderr redirected into
 * two FIFOs and stdin from a third (or /dev/null); this program relays until
 * the shell reports the command done (relay.c), then prints to its own
 * stdout, for the agent, how the command ended: DONE, EXIT (the shell
 * exited), DEADLINE (killed at its deadline), DIED (the shell died without
 * saying so) or FAILED. The agent restarts the shell for all but DONE.
 *
 * It is the same binary as stasis-agentd, called by this name (a link).
 *
 * usage: stasis-exec ID SEQ SHELL_PID DEADLINE_SECONDS STDIN(0|1) OUT_FIFO ERR_FIFO IN_FIFO
 * fds:   3 = the agent port (read and write), 5 = the shell's completion FIFO
 */
#define _GNU_SOURCE
#include "port.h"
#include "relay.h"
#include "shell.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int stasis_exec_main(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: stasis-exec ID SEQ SHELL_PID DEADLINE STDIN OUT_FIFO ERR_FIFO IN_FIFO\n");
        printf("FAILED\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    fcntl(3, F_SETFD, FD_CLOEXEC);
    fcntl(5, F_SETFD, FD_CLOEXEC);
    struct port port;
    port_open(&port, 3);
    struct shell sh = { .pid = atoi(argv[3]), .cmd_fd = -1, .done_fd = 5 };
    struct run_request r = {
        .id = argv[1], .seq = strtoul(argv[2], NULL, 10), .deadline = atoi(argv[4]),
        .want_stdin = strcmp(argv[5], "1") == 0, .out_fifo = argv[6], .err_fifo = argv[7], .in_fifo = argv[8], .binary = 0,
    };
    int status = 0;
    static const char *names[] = { "DONE", "EXIT", "DEADLINE", "DIED", "FAILED" };
    printf("%s\n", names[relay_run(&port, &sh, &r, &status)]);
    return 0;
}
