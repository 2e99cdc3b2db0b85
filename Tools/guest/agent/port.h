/* The agent port (the virtio serial port named "agent", Tools/guest/PROTOCOL.md):
 * whole writes, and a reader that hands out complete lines. One reader serves
 * the request loop and a running command's stdin frames alike, so bytes the
 * host pipelined behind a request are never lost between the two. */
#ifndef STASIS_AGENT_PORT_H
#define STASIS_AGENT_PORT_H
#include <stddef.h>

struct port {
    int fd;
    char *buf;        /* bytes read and not yet handed out start at buf + start */
    size_t start, len, cap;
    size_t scanned;   /* bytes past start known to hold no newline */
    size_t last;      /* where the line last handed out starts (for port_put_back) */
    int last_cr;      /* it ended in CR LF */
};

void port_open(struct port *p, int fd);

/* Writes all of buf (a vport takes at most 32 KiB a call; a host that reads
 * slowly makes the write wait, never drop). 0, or -1 with errno. */
int port_write(struct port *p, const char *buf, size_t len);

/* One read() into the buffer: 1 after data (or EINTR/EAGAIN), 0 at end-of-file
 * (no host connected), -1 on an error. */
int port_fill(struct port *p);

/* The next complete line, NUL-terminated, without its newline (and a trailing
 * CR); NULL when none is complete yet. The pointer stays valid until the next
 * port_fill. */
char *port_next_line(struct port *p);

/* Hands the line last returned by port_next_line out again on the next call
 * (valid only before another port_next_line or port_fill). */
void port_put_back(struct port *p);

/* After a command's END: takes the host's frames for request `id` (lines that
 * start with "IN <id> " or "RESIZE <id> ") up to its "EOF <id>", so that none
 * is read as a request. A line that is neither means the host moved on
 * without the EOF (a connection cut while frames were in flight loses its
 * tail): it is put back for the request loop. Ends early at end-of-file. */
void port_drop_frames_until_eof(struct port *p, const char *id);

/* True when a complete line is waiting. */
int port_has_line(struct port *p);

#endif
