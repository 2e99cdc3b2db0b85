#define _GNU_SOURCE
#include "port.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void port_open(struct port *p, int fd) {
    memset(p, 0, sizeof *p);
    p->fd = fd;
}

int port_write(struct port *p, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(p->fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                struct pollfd w = { p->fd, POLLOUT, 0 };
                poll(&w, 1, 1000);
                continue;
            }
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int port_fill(struct port *p) {
    /* Move what is unread to the front once most of the buffer is spent, and
     * grow only for a line longer than the room left (an EXEC of a large script). */
    if (p->start > 0 && (p->start == p->len || p->start > p->cap / 2)) {
        memmove(p->buf, p->buf + p->start, p->len - p->start);
        p->len -= p->start;
        p->start = 0;
    }
    if (p->cap - p->len < 65536) {
        size_t cap = p->cap * 2 + 65536;
        char *grown = realloc(p->buf, cap + 1);
        if (!grown) { errno = ENOMEM; return -1; }
        p->buf = grown;
        p->cap = cap;
    }
    ssize_t n = read(p->fd, p->buf + p->len, p->cap - p->len);
    if (n < 0) return errno == EINTR || errno == EAGAIN ? 1 : -1;
    if (n == 0) return 0;
    p->len += (size_t)n;
    return 1;
}

static char *find_newline(struct port *p) {
    char *from = p->buf + p->start + p->scanned;
    char *nl = memchr(from, '\n', p->len - p->start - p->scanned);
    if (!nl) p->scanned = p->len - p->start;
    return nl;
}

int port_has_line(struct port *p) {
    return p->len > p->start && find_newline(p) != NULL;
}

char *port_next_line(struct port *p) {
    if (p->len <= p->start) return NULL;
    char *nl = find_newline(p);
    if (!nl) return NULL;
    char *line = p->buf + p->start;
    *nl = 0;
    p->last = p->start;
    p->last_cr = nl > line && nl[-1] == '\r';
    if (p->last_cr) nl[-1] = 0;
    p->start = (size_t)(nl - p->buf) + 1;
    p->scanned = 0;
    return line;
}

void port_put_back(struct port *p) {
    p->buf[p->start - 1] = '\n';
    if (p->last_cr) p->buf[p->start - 2] = '\r';
    p->start = p->last;
    p->scanned = 0;
}

void port_drop_frames_until_eof(struct port *p, const char *id) {
    char eof[160], in[160], resize[160];
    snprintf(eof, sizeof eof, "EOF %s", id);
    int in_len = snprintf(in, sizeof in, "IN %s ", id);
    int resize_len = snprintf(resize, sizeof resize, "RESIZE %s ", id);
    for (;;) {
        char *line;
        while ((line = port_next_line(p))) {
            if (strcmp(line, eof) == 0) return;
            if (*line && strncmp(line, in, (size_t)in_len) != 0 && strncmp(line, resize, (size_t)resize_len) != 0) {
                port_put_back(p);
                return;
            }
        }
        struct pollfd w = { p->fd, POLLIN, 0 };
        if (poll(&w, 1, -1) < 0 && errno != EINTR) return;
        if (port_fill(p) <= 0) return;
    }
}
