/*
 * stasis-exec: the streaming half of the guest agent's RUN request
 * (Tools/guest/PROTOCOL.md). The agent (busybox sh) has already handed the
 * command to its persistent shell, with stdout and stderr redirected into two
 * FIFOs and stdin from a third (or /dev/null). This program relays, until the
 * shell reports the command done:
 *   - what arrives on the output FIFOs, as it comes, to the agent port (fd 3):
 *       OUT <id> 1|2 <base64 chunk>
 *   - stdin frames from the port into the stdin FIFO:
 *       IN <id> <base64 chunk> ... EOF <id>
 * then answers END <id> <exit code> <stdout bytes> <stderr bytes> <timed out 0|1>
 * and prints
 * to its own stdout, for the agent, how the command ended: DONE, EXIT (the
 * shell exited), DEADLINE (killed at its deadline) or DIED (the shell died
 * without saying so). The agent restarts the shell for the last three.
 *
 * Why a C program and not the shell: two streams relayed as they come need a
 * poll loop, and a shell's base64 and read loops either wait for full blocks
 * or cost a process per chunk; the byte counts must be exact.
 *
 * usage: stasis-exec ID SEQ SHELL_PID DEADLINE_SECONDS STDIN(0|1) OUT_FIFO ERR_FIFO IN_FIFO
 * fds:   3 = the agent port (read and write), 5 = the shell's completion FIFO
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PORT 3
#define DONE_FD 5
#define CHUNK 49152 /* bytes a frame carries: 64 KiB of base64 */

static const char *id;
static unsigned long long counts[3];

static void die(const char *what) {
    fprintf(stderr, "stasis-exec: %s: %s\n", what, strerror(errno));
    printf("FAILED\n");
    exit(1);
}

/* Writes all of buf to fd (a vport takes at most 32 KiB a call; a host that
 * reads slowly makes the write wait, never drop). */
static void write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                struct pollfd p = { fd, POLLOUT, 0 };
                poll(&p, 1, 1000);
                continue;
            }
            die("write to the agent port");
        }
        buf += n;
        len -= (size_t)n;
    }
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_encode(const unsigned char *in, size_t len, char *out) {
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = B64[v >> 18];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = B64[(v >> 6) & 63];
        out[o++] = B64[v & 63];
    }
    if (i < len) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0);
        out[o++] = B64[v >> 18];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? B64[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    return o;
}

static int b64_value(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decodes in place; returns the length, or -1 for anything that is not
 * padded standard base64. */
static long b64_decode(char *s, size_t len) {
    if (len % 4) return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int a = b64_value(s[i]), b = b64_value(s[i + 1]);
        int c = s[i + 2] == '=' ? 0 : b64_value(s[i + 2]);
        int d = s[i + 3] == '=' ? 0 : b64_value(s[i + 3]);
        if (a < 0 || b < 0 || c < 0 || d < 0) return -1;
        unsigned v = (unsigned)a << 18 | (unsigned)b << 12 | (unsigned)c << 6 | (unsigned)d;
        s[o++] = (char)(v >> 16);
        if (s[i + 2] != '=') s[o++] = (char)(v >> 8);
        if (s[i + 3] != '=') s[o++] = (char)v;
    }
    return (long)o;
}

static char frame[64 + (CHUNK / 3 + 1) * 4 + 2];

static void send_chunk(int stream, const unsigned char *data, size_t len) {
    int head = snprintf(frame, 64, "OUT %s %d ", id, stream);
    size_t n = (size_t)head + b64_encode(data, len, frame + head);
    frame[n++] = '\n';
    write_all(PORT, frame, n);
    counts[stream] += len;
}

/* Reads what an output FIFO holds now; returns 0 at end-of-file (no writer
 * left), 1 after data, -1 when nothing is there (EAGAIN). */
static int relay(int fd, int stream) {
    static unsigned char buf[CHUNK];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) { send_chunk(stream, buf, (size_t)n); return 1; }
    if (n == 0) return 0;
    if (errno == EAGAIN || errno == EINTR) return -1;
    die("read an output FIFO");
    return 0;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The shell's state in /proc (Z: exited, not reaped) and, once it has exited,
 * its wait status (field 52, exit_code). Returns 0 while it runs. */
static int shell_gone(int pid, int *status) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { *status = 0; return 1; }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) { *status = 0; return 1; }
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || p[2] != 'Z') return 0;
    /* Fields after the name: state is field 3, exit_code is field 52. */
    int field = 3;
    *status = 0;
    for (char *q = p + 2; *q; q++) {
        if (*q == ' ' && ++field == 52) { *status = atoi(q + 1); break; }
    }
    return 1;
}

/* Port input: complete lines are taken out of inbuf one by one. */
static char *inbuf;
static size_t inlen, incap;

static int read_port(void) {
    if (incap - inlen < 65536) {
        incap = incap * 2 + 65536;
        inbuf = realloc(inbuf, incap);
        if (!inbuf) die("memory for stdin frames");
    }
    ssize_t n = read(PORT, inbuf + inlen, incap - inlen);
    if (n < 0) return errno == EINTR || errno == EAGAIN ? 1 : 0;
    if (n == 0) return 0; /* the host went away: stdin ends */
    inlen += (size_t)n;
    return 1;
}

/* The next complete line of inbuf (NUL-terminated, without its newline), or
 * NULL; `consumed` says how much to drop after using it. */
static char *next_line(size_t *consumed) {
    char *nl = memchr(inbuf, '\n', inlen);
    if (!nl) return NULL;
    *nl = 0;
    if (nl > inbuf && nl[-1] == '\r') nl[-1] = 0;
    *consumed = (size_t)(nl - inbuf) + 1;
    return inbuf;
}

static void drop(size_t n) {
    memmove(inbuf, inbuf + n, inlen - n);
    inlen -= n;
}

int main(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: stasis-exec ID SEQ SHELL_PID DEADLINE STDIN OUT_FIFO ERR_FIFO IN_FIFO\n");
        printf("FAILED\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    id = argv[1];
    const char *seq = argv[2];
    int shell = atoi(argv[3]);
    int deadline = atoi(argv[4]);
    int want_stdin = strcmp(argv[5], "1") == 0;

    /* Read ends without blocking: a FIFO whose writer has not opened it yet
     * reads as empty, not as ended (Linux reports a hang-up only after a
     * writer came and went). */
    int out = open(argv[6], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    int err = open(argv[7], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (out < 0 || err < 0) die("open the output FIFOs");
    int in = -1;
    if (want_stdin) {
        /* Read-write, so the shell's open for reading does not wait, and the
         * command sees end-of-file exactly when this end is closed. */
        in = open(argv[8], O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (in < 0) die("open the stdin FIFO");
    }
    fcntl(PORT, F_SETFD, FD_CLOEXEC);
    fcntl(DONE_FD, F_SETFD, FD_CLOEXEC);

    int stdin_open = want_stdin; /* frames still expected from the host */
    int port_ended = 0;          /* the host went away (port at end-of-file) */
    char *pending = NULL;        /* decoded stdin not yet taken by the command */
    size_t pending_len = 0, pending_off = 0;
    char done_buf[256];
    size_t done_len = 0;
    const char *kind = NULL;
    int rc = 0;
    double start = now();
    double checked = start;
    int out_open = 1, err_open = 1;

    while (!kind) {
        struct pollfd p[5];
        int np = 0, i_out = -1, i_err = -1, i_done, i_port = -1, i_in = -1;
        if (out_open) { p[np] = (struct pollfd){ out, POLLIN, 0 }; i_out = np++; }
        if (err_open) { p[np] = (struct pollfd){ err, POLLIN, 0 }; i_err = np++; }
        p[np] = (struct pollfd){ DONE_FD, POLLIN, 0 }; i_done = np++;
        if (stdin_open && !port_ended && pending_len == 0) { p[np] = (struct pollfd){ PORT, POLLIN, 0 }; i_port = np++; }
        if (in >= 0 && pending_len > 0) { p[np] = (struct pollfd){ in, POLLOUT, 0 }; i_in = np++; }
        int timeout = 1000;
        if (deadline > 0) {
            double left = start + deadline - now();
            if (left < 1) timeout = left > 0 ? (int)(left * 1000) + 1 : 0;
        }
        int r = poll(p, (nfds_t)np, timeout);
        if (r < 0 && errno != EINTR) die("poll");

        if (r > 0 && i_out >= 0 && p[i_out].revents) { if (relay(out, 1) == 0) out_open = 0; }
        if (r > 0 && i_err >= 0 && p[i_err].revents) { if (relay(err, 2) == 0) err_open = 0; }
        if (r > 0 && i_in >= 0 && p[i_in].revents) {
            ssize_t n = write(in, pending + pending_off, pending_len);
            if (n > 0) { pending_off += (size_t)n; pending_len -= (size_t)n; }
            else if (n < 0 && errno == EPIPE) { pending_len = 0; } /* the command closed its stdin */
        }
        if (r > 0 && i_port >= 0 && p[i_port].revents) {
            if (!read_port()) { port_ended = 1; stdin_open = 0; }
        }
        /* Stdin frames that arrived whole. */
        size_t used;
        char *line;
        while (stdin_open && pending_len == 0 && (line = next_line(&used))) {
            char *verb = line, *rest = strchr(line, ' ');
            if (rest) *rest++ = 0;
            char *data = rest ? strchr(rest, ' ') : NULL;
            if (data) *data++ = 0;
            if (rest && strcmp(rest, id) == 0 && strcmp(verb, "IN") == 0 && data) {
                long n = b64_decode(data, strlen(data));
                if (n < 0) {
                    fprintf(stderr, "stasis-exec: a stdin frame is not valid base64\n");
                } else {
                    free(pending);
                    pending = malloc((size_t)n + 1);
                    if (!pending) die("memory for stdin");
                    memcpy(pending, data, (size_t)n);
                    pending_off = 0;
                    pending_len = (size_t)n;
                }
            } else if (rest && strcmp(rest, id) == 0 && strcmp(verb, "EOF") == 0) {
                stdin_open = 0;
            }
            /* Anything else (an empty line after a reconnect) is skipped. */
            drop(used);
        }
        if (in >= 0 && !stdin_open && pending_len == 0) { close(in); in = -1; }

        /* The shell's report: DONE <seq> <status>, or EXIT <status> from its trap. */
        if (r > 0 && p[i_done].revents) {
            ssize_t n = read(DONE_FD, done_buf + done_len, sizeof done_buf - 1 - done_len);
            if (n > 0) done_len += (size_t)n;
            done_buf[done_len] = 0;
            char *nl;
            while ((nl = strchr(done_buf, '\n'))) {
                *nl = 0;
                char what[16], a[64];
                int b = 0;
                int fields = sscanf(done_buf, "%15s %63s %d", what, a, &b);
                if (fields == 3 && strcmp(what, "DONE") == 0 && strcmp(a, seq) == 0) { kind = "DONE"; rc = b; }
                else if (fields >= 2 && strcmp(what, "EXIT") == 0) { kind = "EXIT"; rc = atoi(a); }
                size_t rest = done_len - (size_t)(nl + 1 - done_buf);
                memmove(done_buf, nl + 1, rest + 1);
                done_len = rest;
                if (kind) break;
            }
            if (done_len >= sizeof done_buf - 1) done_len = 0; /* garbage: never a report */
        }
        if (kind) break;
        if (deadline > 0 && now() - start >= deadline) {
            /* The shell and everything the command started: its process group. */
            kill(-shell, SIGKILL);
            kill(shell, SIGKILL);
            char msg[256];
            int len = snprintf(msg, sizeof msg,
                               "stasis: timed out after %d s: the command and everything it started were killed; "
                               "the shell was restarted (cd, variables and background jobs are reset)\n", deadline);
            kind = "DEADLINE";
            rc = 124;
            /* What the command wrote before it was killed comes first. */
            while (out_open && relay(out, 1) > 0) {}
            while (err_open && relay(err, 2) > 0) {}
            send_chunk(2, (const unsigned char *)msg, (size_t)len);
            break;
        }
        int status;
        if (now() - checked >= 1 && (checked = now(), shell_gone(shell, &status))) {
            kind = "DIED";
            rc = (status & 0x7f) ? 128 + (status & 0x7f) : (status >> 8) & 0xff;
        }
    }

    /* Everything the command wrote before the shell reported it is in the
     * FIFOs now: take it all. */
    if (strcmp(kind, "DEADLINE") != 0) {
        while (out_open && relay(out, 1) > 0) {}
        while (err_open && relay(err, 2) > 0) {}
    }
    char end[256];
    int len = snprintf(end, sizeof end, "END %s %d %llu %llu %d\n", id, rc, counts[1], counts[2],
                       strcmp(kind, "DEADLINE") == 0);
    write_all(PORT, end, (size_t)len);

    /* The host answers END with EOF <id> when it was sending stdin: take the
     * frames up to it, so that none is read as a request. */
    if (in >= 0) { close(in); in = -1; }
    while (stdin_open && !port_ended) {
        size_t used;
        char *line;
        int ended = 0;
        while ((line = next_line(&used))) {
            char eof[128];
            snprintf(eof, sizeof eof, "EOF %s", id);
            ended = strcmp(line, eof) == 0;
            drop(used);
            if (ended) break;
        }
        if (ended) break;
        struct pollfd p = { PORT, POLLIN, 0 };
        if (poll(&p, 1, -1) < 0 && errno != EINTR) break;
        if (!read_port()) break;
    }

    /* A background job that still holds the command's stdout or stderr keeps
     * writing to it: a child (left to init) reads and discards that until the
     * last writer closes, so the job never meets a broken pipe. */
    char probe;
    int out_held = out_open && read(out, &probe, 1) < 0 && errno == EAGAIN;
    int err_held = err_open && read(err, &probe, 1) < 0 && errno == EAGAIN;
    if (out_held || err_held) {
        pid_t child = fork();
        if (child == 0) {
            setsid();
            for (int fd = 0; fd < 1024; fd++) if (fd != out && fd != err) close(fd);
            int fds[2] = { out_held ? out : -1, err_held ? err : -1 };
            for (;;) {
                struct pollfd p[2] = { { fds[0], POLLIN, 0 }, { fds[1], POLLIN, 0 } };
                if (fds[0] < 0 && fds[1] < 0) _exit(0);
                if (poll(p, 2, -1) < 0 && errno != EINTR) _exit(0);
                static char sink[65536];
                for (int i = 0; i < 2; i++) {
                    if (fds[i] < 0 || !p[i].revents) continue;
                    ssize_t n = read(fds[i], sink, sizeof sink);
                    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) fds[i] = -1;
                }
            }
        }
    }
    printf("%s\n", kind);
    return 0;
}
