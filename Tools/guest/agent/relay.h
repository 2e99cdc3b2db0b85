/* RUN's streaming relay (Tools/guest/PROTOCOL.md): while the persistent shell
 * runs a command whose stdout and stderr are FIFOs, relay
 *   - what arrives on them, as it comes, to the port:  OUT <id> 1|2 <base64 chunk>
 *   - stdin frames from the port into the stdin FIFO:  IN <id> <base64 chunk> ... EOF <id>
 * then answer  END <id> <exit code> <stdout bytes> <stderr bytes> <timed out 0|1>.
 * The byte counts let the host prove it received every byte. */
#ifndef STASIS_AGENT_RELAY_H
#define STASIS_AGENT_RELAY_H
#include "port.h"
#include "shell.h"

struct run_request {
    const char *id;
    unsigned long seq;
    int deadline;        /* whole seconds, 0 for none */
    int want_stdin;
    const char *out_fifo, *err_fifo, *in_fifo;
    /* RUNB: output as `OUTB <id> <1|2> <length>\n` and that many raw bytes, moved from
     * the FIFO to the port with splice (no copy, no base64 in the guest). */
    int binary;
};

/* Relays one command to its end. Returns how it ended and sets *status.
 * ENDED_FAILED means the relay itself could not go on (the port failed): the
 * caller must restart the shell, which may still be running the command. */
enum ending relay_run(struct port *port, struct shell *sh, const struct run_request *r, int *status);

#endif
