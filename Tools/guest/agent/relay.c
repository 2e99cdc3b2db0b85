#define _GNU_SOURCE
#include "relay.h"
#include "base64.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 49152 /* bytes a frame carries: 64 KiB of base64 */

struct relay {
    struct port *port;
    const struct run_request *r;
    unsigned long long counts[3];
    int failed;       /* a write to the port failed */
    char frame[64 + B64_ENCODED_LEN(CHUNK) + 2];
    unsigned char buf[CHUNK];
};

static void send_chunk(struct relay *x, int stream, const unsigned char *data, size_t len) {
    if (x->failed) return;
    if (x->r->binary) {
        char head[128];
        int n = snprintf(head, sizeof head, "OUTB %s %d %zu\n", x->r->id, stream, len);
        if (port_write(x->port, head, (size_t)n) < 0 || port_write(x->port, (const char *)data, len) < 0) x->failed = 1;
        else x->counts[stream] += len;
        return;
    }
    int head = snprintf(x->frame, 64, "OUT %s %d ", x->r->id, stream);
    size_t n = (size_t)head + b64_encode(data, len, x->frame + head);
    x->frame[n++] = '\n';
    if (port_write(x->port, x->frame, n) < 0) x->failed = 1;
    else x->counts[stream] += len;
}

/* RUNB: what the FIFO holds now goes to the port as one binary frame, raw:
 * no base64 in the guest. (splice from the FIFO into the port, which would
 * also save the copy, stalled the port under TCG in a 100 MiB stream: the
 * frames are written with write.) */
static int relay_fifo_binary(struct relay *x, int fd, int stream) {
    ssize_t n = read(fd, x->buf, sizeof x->buf);
    if (n == 0) return 0;
    if (n < 0) return errno == EAGAIN || errno == EINTR ? -1 : 0;
    char head[128];
    int len = snprintf(head, sizeof head, "OUTB %s %d %zd\n", x->r->id, stream, n);
    if (port_write(x->port, head, (size_t)len) < 0 || port_write(x->port, (char *)x->buf, (size_t)n) < 0) x->failed = 1;
    else x->counts[stream] += (unsigned long long)n;
    return 1;
}

/* Reads what an output FIFO holds now: 0 at end-of-file (no writer left),
 * 1 after data, -1 when nothing is there. */
static int relay_fifo(struct relay *x, int fd, int stream) {
    if (x->r->binary) return relay_fifo_binary(x, fd, stream);
    ssize_t n = read(fd, x->buf, sizeof x->buf);
    if (n > 0) { send_chunk(x, stream, x->buf, (size_t)n); return 1; }
    if (n == 0) return 0;
    if (errno == EAGAIN || errno == EINTR) return -1;
    return 0;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A background job that still holds the command's stdout or stderr keeps
 * writing to it: a grandchild (left to init) reads and drops that until the
 * last writer closes, so the job never meets a broken pipe. */
static void drain_in_background(int out, int err) {
    pid_t child = fork();
    if (child < 0) return;
    if (child > 0) {
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
        return;
    }
    if (fork() != 0) _exit(0);
    setsid();
    for (int fd = 0; fd < 1024; fd++) if (fd != out && fd != err) close(fd);
    int fds[2] = { out, err };
    static char sink[65536];
    for (;;) {
        struct pollfd p[2] = { { fds[0], POLLIN, 0 }, { fds[1], POLLIN, 0 } };
        if (fds[0] < 0 && fds[1] < 0) _exit(0);
        if (poll(p, 2, -1) < 0 && errno != EINTR) _exit(0);
        for (int i = 0; i < 2; i++) {
            if (fds[i] < 0 || !p[i].revents) continue;
            ssize_t n = read(fds[i], sink, sizeof sink);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) fds[i] = -1;
        }
    }
}

enum ending relay_run(struct port *port, struct shell *sh, const struct run_request *r, int *status) {
    static struct relay x;
    memset(&x, 0, offsetof(struct relay, frame));
    x.port = port;
    x.r = r;

    /* Read ends without blocking: a FIFO whose writer has not opened it yet
     * reads as empty, not as ended (Linux reports a hang-up only after a
     * writer came and went). */
    int out = open(r->out_fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    int err = open(r->err_fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (out < 0 || err < 0) {
        if (out >= 0) close(out);
        if (err >= 0) close(err);
        *status = 0;
        return ENDED_FAILED;
    }
    /* The stdin FIFO's write end is opened only once the shell has opened its
     * read end (a non-blocking open for writing fails with ENXIO until then):
     * closing a write end the shell has not met yet would leave the shell's
     * open waiting for good, and a command that exits without reading makes
     * the writes fail (EPIPE) instead of filling the FIFO. */
    int in = -1;
    int in_unopened = r->want_stdin;
    int stdin_open = r->want_stdin; /* frames still expected from the host */
    int port_ended = 0;
    char *pending = NULL;           /* decoded stdin not yet taken by the command */
    size_t pending_len = 0, pending_off = 0;
    enum ending ending = ENDED_FAILED;
    int have_ending = 0, rc = 0;
    double start = now(), checked = start;
    int out_open = 1, err_open = 1;

    while (!have_ending && !x.failed) {
        /* Stdin frames that arrived whole. */
        char *line;
        while (stdin_open && pending_len == 0 && (line = port_next_line(port))) {
            char *verb = line, *rest = strchr(line, ' ');
            if (rest) *rest++ = 0;
            char *data = rest ? strchr(rest, ' ') : NULL;
            if (data) *data++ = 0;
            if (rest && strcmp(rest, r->id) == 0 && strcmp(verb, "IN") == 0 && data) {
                long n = b64_decode(data, strlen(data));
                if (n < 0) {
                    fprintf(stderr, "stasis-agent: a stdin frame is not valid base64\n");
                } else if (n > 0) {
                    free(pending);
                    pending = malloc((size_t)n);
                    if (!pending) { pending_len = 0; continue; }
                    memcpy(pending, data, (size_t)n);
                    pending_off = 0;
                    pending_len = (size_t)n;
                }
            } else if (rest && strcmp(rest, r->id) == 0 && strcmp(verb, "EOF") == 0) {
                stdin_open = 0;
            }
            /* Anything else (an empty line after a reconnect) is skipped. */
        }
        if (in_unopened) {
            in = open(r->in_fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
            if (in >= 0) in_unopened = 0;
        }
        if (in >= 0 && !stdin_open && pending_len == 0) { close(in); in = -1; }

        struct pollfd p[5];
        int np = 0, i_out = -1, i_err = -1, i_done, i_port = -1, i_in = -1;
        if (out_open) { p[np] = (struct pollfd){ out, POLLIN, 0 }; i_out = np++; }
        if (err_open) { p[np] = (struct pollfd){ err, POLLIN, 0 }; i_err = np++; }
        p[np] = (struct pollfd){ sh->done_fd, POLLIN, 0 }; i_done = np++;
        if (stdin_open && !port_ended && pending_len == 0) { p[np] = (struct pollfd){ port->fd, POLLIN, 0 }; i_port = np++; }
        if (in >= 0 && pending_len > 0) { p[np] = (struct pollfd){ in, POLLOUT, 0 }; i_in = np++; }
        int timeout = in_unopened ? 2 : 1000; /* the shell is about to open its stdin */
        if (r->deadline > 0) {
            double left = start + r->deadline - now();
            if (left < 1) timeout = left > 0 ? (int)(left * 1000) + 1 : 0;
        }
        int ready = poll(p, (nfds_t)np, timeout);
        if (ready < 0 && errno != EINTR) { x.failed = 1; break; }

        if (ready > 0 && i_out >= 0 && p[i_out].revents) { if (relay_fifo(&x, out, 1) == 0) out_open = 0; }
        if (ready > 0 && i_err >= 0 && p[i_err].revents) { if (relay_fifo(&x, err, 2) == 0) err_open = 0; }
        if (ready > 0 && i_in >= 0 && p[i_in].revents) {
            ssize_t n = write(in, pending + pending_off, pending_len);
            if (n > 0) { pending_off += (size_t)n; pending_len -= (size_t)n; }
            else if (n < 0 && errno != EAGAIN && errno != EINTR) pending_len = 0; /* the command closed its stdin */
        }
        if (ready > 0 && i_port >= 0 && p[i_port].revents) {
            if (port_fill(port) <= 0) { port_ended = 1; stdin_open = 0; }
        }
        if (ready > 0 && p[i_done].revents) have_ending = shell_read_report(sh, r->seq, &ending, &rc);
        if (have_ending) break;
        if (r->deadline > 0 && now() - start >= r->deadline) {
            kill(-sh->pid, SIGKILL);
            kill(sh->pid, SIGKILL);
            char msg[256];
            int len = snprintf(msg, sizeof msg,
                               "stasis: timed out after %d s: the command and everything it started were killed; "
                               "the shell was restarted (cd, variables and background jobs are reset)\n", r->deadline);
            /* What the command wrote before it was killed comes first. */
            while (out_open && relay_fifo(&x, out, 1) > 0) {}
            while (err_open && relay_fifo(&x, err, 2) > 0) {}
            send_chunk(&x, 2, (const unsigned char *)msg, (size_t)len);
            ending = ENDED_DEADLINE;
            rc = 124;
            have_ending = 1;
            break;
        }
        if (now() - checked >= 1) {
            checked = now();
            if (shell_gone(sh, &rc)) { ending = ENDED_DIED; have_ending = 1; }
        }
    }
    free(pending);

    if (have_ending && !x.failed) {
        /* Everything the command wrote before the shell reported it is in the
         * FIFOs now: take it all. */
        if (ending != ENDED_DEADLINE) {
            while (out_open && relay_fifo(&x, out, 1) > 0) {}
            while (err_open && relay_fifo(&x, err, 2) > 0) {}
        }
        char end[256];
        int len = snprintf(end, sizeof end, "END %s %d %llu %llu %d\n", r->id, rc, x.counts[1], x.counts[2],
                           ending == ENDED_DEADLINE);
        if (port_write(port, end, (size_t)len) < 0) x.failed = 1;
    }
    if (in >= 0) close(in);

    /* The host answers END with EOF <id> when it was sending stdin. */
    if (stdin_open && !port_ended && !x.failed) port_drop_frames_until_eof(port, r->id);

    char probe;
    int out_held = out_open && read(out, &probe, 1) < 0 && errno == EAGAIN;
    int err_held = err_open && read(err, &probe, 1) < 0 && errno == EAGAIN;
    if (out_held || err_held) drain_in_background(out_held ? out : -1, err_held ? err : -1);
    close(out);
    close(err);
    *status = rc;
    return x.failed ? ENDED_FAILED : ending;
}
