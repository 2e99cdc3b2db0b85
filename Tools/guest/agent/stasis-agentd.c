/*
 * stasis-agentd: the guest agent's request loop (Tools/guest/PROTOCOL.md).
 *
 * /sbin/stasis-agent (busybox sh) finds the port, opens it as fd 3, takes the
 * boot id and then execs this program, which answers every request from then
 * on: PING, DEADLINE, TIME, EXEC and RUN, with RUN's output relayed as it
 * comes. Commands still run in one persistent shell (shell.c), so the shell
 * state carries over as before.
 *
 * Why C: the shell loop started about five processes per request (base64,
 * mkfifo, the relay, rm, wc), each a fork and exec of busybox that costs
 * milliseconds under TCG; the round trip of `true` was 150 ms. Here a request
 * starts no process at all: the only code that runs besides this loop is the
 * command itself, in the shell.
 *
 * usage: stasis-agentd BOOT_ID [DEVICE]     (fd 3: the agent port)
 *        stasis-agentd --version
 * environment: STASIS_AGENT_SHELL, STASIS_AGENT_HOME, STASIS_AGENT_PROFILE,
 *              STASIS_AGENT_RUN, PATH (as the shell agent sets them)
 */
#define _GNU_SOURCE
#include "base64.h"
#include "port.h"
#include "relay.h"
#include "shell.h"
#include "terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PORT_FD 3
#define AGENT_VERSION "2"

static struct port port;
static struct shell sh;
static unsigned long seq;
static int next_deadline; /* DEADLINE's value, for the next EXEC or RUN only; 0: none */

static void reply(const char *line) {
    size_t len = strlen(line);
    char *with_newline = malloc(len + 1);
    if (!with_newline) return;
    memcpy(with_newline, line, len);
    with_newline[len] = '\n';
    port_write(&port, with_newline, len + 1);
    free(with_newline);
}

static void reply_err(const char *to, const char *message) {
    size_t len = strlen(message);
    char *line = malloc(strlen(to) + B64_ENCODED_LEN(len) + 8);
    if (!line) return;
    int head = sprintf(line, "ERR %s ", to);
    line[head + b64_encode((const unsigned char *)message, len, line + head)] = 0;
    reply(line);
    free(line);
}

static int valid_id(const char *id) {
    if (!*id) return 0;
    for (const char *c = id; *c; c++) {
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '_' || *c == ':' || *c == '-')) return 0;
    }
    return 1;
}

/* Writes the decoded command to SCRIPT; 0, or -1 (not base64, or the file failed). */
static int write_script(const char *path, char *b64, const char **problem) {
    long n = b64_decode(b64, strlen(b64));
    if (n < 0) { *problem = "command is not valid base64"; return -1; }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) { *problem = "cannot write the command file"; return -1; }
    ssize_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, b64 + done, (size_t)(n - done));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) { close(fd); *problem = "cannot write the command file"; return -1; }
        done += w;
    }
    close(fd);
    return 0;
}

static char *read_file(const char *path, size_t *len) {
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    size_t cap = 65536;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        if (*len == cap) {
            char *grown = realloc(buf, cap * 2);
            if (!grown) break;
            buf = grown;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + *len, cap - *len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        *len += (size_t)n;
    }
    close(fd);
    return buf;
}

static void request_paths(char paths[4][4096]) {
    const char *run = agent_run_dir();
    snprintf(paths[0], 4096, "%s/req.%lu.sh", run, seq);
    snprintf(paths[1], 4096, "%s/req.%lu.out", run, seq);
    snprintf(paths[2], 4096, "%s/req.%lu.err", run, seq);
    snprintf(paths[3], 4096, "%s/req.%lu.in", run, seq);
}

/* EXEC: the whole output in one RESULT line at the end (agents before RUN;
 * hosts use it for agents that refuse RUN). */
static void handle_exec(const char *id, char *command) {
    char f[4][4096];
    seq++;
    request_paths(f);
    int deadline = next_deadline;
    next_deadline = 0;
    const char *problem = NULL;
    if (write_script(f[0], command, &problem) < 0) { unlink(f[0]); reply_err(id, problem); return; }
    close(open(f[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    close(open(f[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    int rc = 0;
    enum ending ending = ENDED_FAILED;
    if (shell_submit(&sh, f[0], "/dev/null", f[1], f[2], seq) < 0) {
        reply_err(id, "cannot hand the command to the shell");
        shell_restart(&sh, 1);
        return;
    }
    struct timespec start, t;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        struct pollfd p = { sh.done_fd, POLLIN, 0 };
        if (poll(&p, 1, 1000) > 0 && shell_read_report(&sh, seq, &ending, &rc)) break;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (deadline > 0 && t.tv_sec - start.tv_sec >= deadline) {
            kill(-sh.pid, SIGKILL);
            kill(sh.pid, SIGKILL);
            FILE *err = fopen(f[2], "a");
            if (err) {
                fprintf(err, "stasis: timed out after %d s: the command and everything it started were killed; "
                             "the shell was restarted (cd, variables and background jobs are reset)\n", deadline);
                fclose(err);
            }
            ending = ENDED_DEADLINE;
            rc = 124;
            break;
        }
        if (shell_gone(&sh, &rc)) {
            fprintf(stderr, "stasis-agent: persistent shell died (status %d); starting a new one\n", rc);
            ending = ENDED_DIED;
            break;
        }
    }
    if (ending != ENDED_DONE) shell_restart(&sh, ending == ENDED_DEADLINE);
    size_t out_len, err_len;
    char *out = read_file(f[1], &out_len), *err = read_file(f[2], &err_len);
    char *line = malloc(strlen(id) + B64_ENCODED_LEN(out_len) + B64_ENCODED_LEN(err_len) + 96);
    if (line) {
        int n = sprintf(line, "RESULT %s %d ", id, rc);
        n += (int)b64_encode((unsigned char *)out, out_len, line + n);
        line[n++] = ' ';
        n += (int)b64_encode((unsigned char *)err, err_len, line + n);
        sprintf(line + n, " %zu %zu", out_len, err_len);
        reply(line);
        free(line);
    } else {
        reply_err(id, "no memory for the command's output");
    }
    free(out);
    free(err);
    for (int i = 0; i < 3; i++) unlink(f[i]);
}

/* RUN: the output streams as it comes (relay.c). */
static void handle_run(const char *id, int want_stdin, char *command, int binary) {
    char f[4][4096];
    seq++;
    request_paths(f);
    int deadline = next_deadline;
    next_deadline = 0;
    const char *problem = NULL;
    if (write_script(f[0], command, &problem) < 0) { unlink(f[0]); reply_err(id, problem); return; }
    for (int i = 1; i < 4; i++) unlink(f[i]);
    if (mkfifo(f[1], 0600) < 0 || mkfifo(f[2], 0600) < 0 || (want_stdin && mkfifo(f[3], 0600) < 0)) {
        reply_err(id, "cannot make the output FIFOs");
        for (int i = 0; i < 4; i++) unlink(f[i]);
        return;
    }
    if (shell_submit(&sh, f[0], want_stdin ? f[3] : "/dev/null", f[1], f[2], seq) < 0) {
        reply_err(id, "cannot hand the command to the shell");
        shell_restart(&sh, 1);
        for (int i = 0; i < 4; i++) unlink(f[i]);
        return;
    }
    struct run_request r = { id, seq, deadline, want_stdin, f[1], f[2], f[3], binary };
    int rc = 0;
    enum ending ending = relay_run(&port, &sh, &r, &rc);
    switch (ending) {
    case ENDED_DONE: break;
    case ENDED_EXIT:
    case ENDED_DEADLINE: shell_restart(&sh, 0); break;
    case ENDED_DIED:
        fprintf(stderr, "stasis-agent: persistent shell died; starting a new one\n");
        shell_restart(&sh, 0);
        break;
    case ENDED_FAILED:
        /* The relay could not go on: the shell may still run the command. */
        shell_restart(&sh, 1);
        reply_err(id, "the output relay failed; the shell was restarted");
        break;
    }
    for (int i = 0; i < 4; i++) unlink(f[i]);
}

/* PTY: a terminal session (terminal.c). */
static void handle_pty(const char *id, const char *rows, const char *cols, const char *term, char *command) {
    struct terminal_request r = { id, (unsigned)strtoul(rows, NULL, 10), (unsigned)strtoul(cols, NULL, 10), term, "", next_deadline };
    next_deadline = 0;
    if (r.rows == 0 || r.cols == 0 || r.rows > 10000 || r.cols > 10000) { reply_err(id, "PTY: rows and columns must be 1-10000"); return; }
    for (const char *c = term; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '.' || *c == '_')) {
            reply_err(id, "PTY: TERM may hold only letters, digits, '-', '.' and '_'");
            return;
        }
    }
    long n = b64_decode(command, strlen(command));
    if (n < 0) { reply_err(id, "command is not valid base64"); return; }
    command[n] = 0;
    if (memchr(command, 0, (size_t)n)) { reply_err(id, "PTY: the command holds a NUL byte"); return; }
    r.command = command;
    const char *problem = NULL;
    if (terminal_run(&port, &r, &problem) < 0) reply_err(id, problem);
}

static void handle_time(const char *value) {
    /* Whole seconds and an optional fraction, set to the nanosecond (the
     * shell agent could only set whole seconds). */
    const char *c = value;
    int dots = 0;
    if (!*c || *c == '.') { reply_err("TIME", "bad time"); return; }
    for (; *c; c++) {
        if (*c == '.') dots++;
        else if (*c < '0' || *c > '9') dots = 2;
    }
    if (dots > 1) {
        char message[160];
        snprintf(message, sizeof message, "bad time: %.100s", value);
        reply_err("TIME", message);
        return;
    }
    struct timespec t = { 0, 0 };
    t.tv_sec = (time_t)strtoll(value, NULL, 10);
    const char *frac = strchr(value, '.');
    if (frac) {
        long ns = 0;
        int digits = 0;
        for (const char *d = frac + 1; *d && digits < 9; d++, digits++) ns = ns * 10 + (*d - '0');
        for (; digits < 9; digits++) ns *= 10;
        t.tv_nsec = ns;
    }
    if (clock_settime(CLOCK_REALTIME, &t) < 0) {
        char message[160];
        snprintf(message, sizeof message, "clock_settime failed: %s", strerror(errno));
        reply_err("TIME", message);
        return;
    }
    reply("OK TIME");
}

static void handle_deadline(const char *value) {
    char message[160];
    int ok = *value != 0 && strlen(value) < 9;
    for (const char *c = value; *c; c++) ok = ok && *c >= '0' && *c <= '9';
    if (!ok) {
        snprintf(message, sizeof message, "bad deadline: %.100s", value);
        reply_err("-", message);
        return;
    }
    next_deadline = atoi(value);
    reply("OK DEADLINE");
}

/* Splits on runs of spaces, as the shell agent's `set -- $line` did. */
static int split(char *line, char **fields, int max) {
    int n = 0;
    char *save = NULL;
    for (char *f = strtok_r(line, " \t", &save); f; f = strtok_r(NULL, " \t", &save)) {
        if (n == max) return max + 1;
        fields[n++] = f;
    }
    return n;
}

static void handle(char *line) {
    char *f[7];
    int n = split(line, f, 6);
    if (n == 0) return;
    /* The id is used while the relay reads more from the port, which may move
     * the line it points into: keep a copy. */
    char id[256];
    if (n >= 2 && strlen(f[1]) < sizeof id) {
        strcpy(id, f[1]);
        f[1] = id;
    } else if (n >= 2) {
        f[1] = "";
    }
    const char *verb = f[0];
    if (strcmp(verb, "EXEC") == 0) {
        if ((n == 3 || n == 2) && valid_id(f[1])) handle_exec(f[1], n == 3 ? f[2] : "");
        else reply_err(n >= 2 && valid_id(f[1]) ? f[1] : "-", "usage: EXEC <id> <base64 command>");
    } else if (strcmp(verb, "RUN") == 0 || strcmp(verb, "RUNB") == 0) {
        int binary = verb[3] == 'B';
        int stdin_ok = n >= 3 && (strcmp(f[2], "0") == 0 || strcmp(f[2], "1") == 0);
        if ((n == 4 || n == 3) && valid_id(f[1]) && stdin_ok) handle_run(f[1], f[2][0] == '1', n == 4 ? f[3] : "", binary);
        else reply_err(n >= 2 && valid_id(f[1]) ? f[1] : "-", binary ? "usage: RUNB <id> <stdin 0|1> <base64 command>" : "usage: RUN <id> <stdin 0|1> <base64 command>");
    } else if (strcmp(verb, "PTY") == 0) {
        static char no_command[1];
        if ((n == 6 || n == 5) && valid_id(f[1])) handle_pty(f[1], f[2], f[3], f[4], n == 6 ? f[5] : no_command);
        else reply_err(n >= 2 && valid_id(f[1]) ? f[1] : "-", "usage: PTY <id> <rows> <cols> <TERM> <base64 command>");
    } else if (strcmp(verb, "PING") == 0) {
        if (n == 2 && valid_id(f[1])) {
            char pong[300];
            snprintf(pong, sizeof pong, "PONG %.256s", f[1]);
            reply(pong);
        } else reply_err("-", "usage: PING <id>");
    } else if (strcmp(verb, "DEADLINE") == 0) {
        if (n == 2) handle_deadline(f[1]);
        else reply_err("-", "usage: DEADLINE <seconds>");
    } else if (strcmp(verb, "TIME") == 0) {
        if (n == 2) handle_time(f[1]);
        else reply_err("TIME", "usage: TIME <unix seconds[.fraction]>");
    } else {
        char message[160];
        snprintf(message, sizeof message, "unknown request: %.100s", verb);
        reply_err("-", message);
    }
}

int stasis_exec_main(int argc, char **argv);

int main(int argc, char **argv) {
    /* One binary, two names: the shell agent's relay is reached as stasis-exec. */
    const char *name = strrchr(argv[0], '/');
    name = name ? name + 1 : argv[0];
    if (strcmp(name, "stasis-exec") == 0) return stasis_exec_main(argc, argv);
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("stasis-agentd %s\n", AGENT_VERSION);
        return 0;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: stasis-agentd BOOT_ID [DEVICE]   (fd 3: the agent port)\n");
        return 64;
    }
    signal(SIGPIPE, SIG_IGN);
    fcntl(PORT_FD, F_SETFD, FD_CLOEXEC);
    port_open(&port, PORT_FD);
    if (shell_start(&sh) < 0) fprintf(stderr, "stasis-agent: cannot start the shell: %s\n", strerror(errno));
    char ready[256];
    snprintf(ready, sizeof ready, "READY %.200s", argv[1]);
    reply(ready);
    fprintf(stderr, "stasis-agent: ready on %s (boot id %s, native loop)\n", argc > 2 ? argv[2] : "fd 3", argv[1]);

    for (;;) {
        char *line;
        while ((line = port_next_line(&port))) {
            if (*line) handle(line);
        }
        struct pollfd p = { PORT_FD, POLLIN, 0 };
        if (poll(&p, 1, -1) < 0 && errno != EINTR) { sleep(1); continue; }
        int r = port_fill(&port);
        if (r <= 0) {
            /* A vport reads end-of-file while no host is connected, but its
             * writes wait for one: an empty line (which hosts ignore) parks the
             * loop until the next host connects, without polling. A line cut
             * short by a host that went away is dropped, never run. */
            port.start = port.len;
            port.scanned = 0;
            if (port_write(&port, "\n", 1) < 0) sleep(1);
        }
    }
}
