#define _GNU_SOURCE
#include "terminal.h"
#include "base64.h"
#include "shell.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 49152

static void set_size(int fd, unsigned rows, unsigned cols) {
    struct winsize w = { (unsigned short)rows, (unsigned short)cols, 0, 0 };
    ioctl(fd, TIOCSWINSZ, &w);
}

static pid_t start_child(int master, const struct terminal_request *r) {
    const char *slave = ptsname(master);
    if (!slave) return -1;
    pid_t pid = fork();
    if (pid != 0) return pid;
    setsid();
    int fd = open(slave, O_RDWR);
    if (fd < 0) _exit(127);
    ioctl(fd, TIOCSCTTY, 0);
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    for (int i = 3; i < 1024; i++) close(i);
    signal(SIGPIPE, SIG_DFL);
    const char *bin = getenv("STASIS_AGENT_SHELL");
    const char *home = getenv("STASIS_AGENT_HOME");
    const char *path = getenv("PATH");
    if (!bin || !*bin) bin = "sh";
    if (!home || !*home) home = "/root";
    if (chdir(home) < 0) (void)chdir("/");
    char e_home[4200], e_path[4200], e_term[300];
    snprintf(e_home, sizeof e_home, "HOME=%s", home);
    snprintf(e_path, sizeof e_path, "PATH=%s", path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
    snprintf(e_term, sizeof e_term, "TERM=%s", r->term);
    /* A template's environment and working directory, as the persistent shell
     * gets them: an interactive shell reads $ENV, a command sources it first. */
    const char *profile = getenv("STASIS_AGENT_PROFILE");
    int has_profile = profile && *profile && access(profile, R_OK) == 0;
    char e_env[4200];
    snprintf(e_env, sizeof e_env, "ENV=%s", has_profile ? profile : "");
    char *env[] = { e_home, e_path, "SHELL=/bin/sh", "USER=root", "LOGNAME=root", e_term, has_profile ? e_env : NULL, NULL };
    if (*r->command) {
        char *text = (char *)r->command;
        if (has_profile) {
            size_t len = strlen(profile) * 2 + strlen(r->command) + 64;
            text = malloc(len);
            if (!text) _exit(127);
            snprintf(text, len, ". %s >/dev/null 2>&1 </dev/null\n%s", profile, r->command);
        }
        char *argv[] = { (char *)bin, "-c", text, NULL };
        shell_exec(bin, argv, env);
    } else {
        /* A leading dash: a login shell, which reads the profile a user expects. */
        char *argv[] = { "-sh", NULL };
        shell_exec(bin, argv, env);
    }
    _exit(127);
}

int terminal_run(struct port *port, const struct terminal_request *r, const char **problem) {
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
        if (master >= 0) close(master);
        *problem = "cannot open a pseudo-terminal in the guest (is devpts mounted?)";
        return -1;
    }
    set_size(master, r->rows, r->cols);
    pid_t child = start_child(master, r);
    if (child < 0) {
        close(master);
        *problem = "cannot start the shell on the pseudo-terminal";
        return -1;
    }
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);

    static char frame[64 + B64_ENCODED_LEN(CHUNK) + 2];
    static unsigned char buf[CHUNK];
    unsigned long long sent = 0;
    int stdin_open = 1, port_ended = 0, failed = 0, status = 0, exited = 0, timed_out = 0;
    char *pending = NULL;
    size_t pending_len = 0, pending_off = 0;
    char last_byte = 0; /* the last input byte the terminal took */
    char in_head[128], resize_head[128], eof[128]; /* the frames this session takes while it runs */
    int in_len = snprintf(in_head, sizeof in_head, "IN %s ", r->id);
    int resize_len = snprintf(resize_head, sizeof resize_head, "RESIZE %s ", r->id);
    snprintf(eof, sizeof eof, "EOF %s", r->id);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int master_open = 1;

    while (master_open && !failed) {
        char *line;
        while (stdin_open && pending_len == 0 && (line = port_next_line(port))) {
            if (strncmp(line, in_head, (size_t)in_len) == 0) {
                char *data = line + in_len;
                long n = b64_decode(data, strlen(data));
                if (n > 0 && (pending = realloc(pending, (size_t)n))) {
                    memcpy(pending, data, (size_t)n);
                    pending_off = 0;
                    pending_len = (size_t)n;
                }
            } else if (strncmp(line, resize_head, (size_t)resize_len) == 0) {
                unsigned rows = 0, cols = 0;
                if (sscanf(line + resize_len, "%u %u", &rows, &cols) == 2 && rows && cols) set_size(master, rows, cols);
            } else if (strcmp(line, eof) == 0) {
                /* The host's input ended (a pipe, not a person): end-of-file on the
                 * terminal, as a user's ^D. */
                stdin_open = 0;
                /* After a partial line the first ^D only hands that line over: a
                 * second one is the end-of-file. */
                size_t n = last_byte == '\n' || last_byte == 0 ? 1 : 2;
                pending = realloc(pending, n);
                if (pending) { memset(pending, 4, n); pending_off = 0; pending_len = n; }
            }
        }
        struct pollfd p[2] = { { master, POLLIN | (pending_len ? POLLOUT : 0), 0 }, { port->fd, POLLIN, 0 } };
        int np = stdin_open && !port_ended && pending_len == 0 ? 2 : 1;
        int ready = poll(p, (nfds_t)np, 1000);
        if (ready < 0 && errno != EINTR) break;
        if (ready > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = read(master, buf, sizeof buf);
            if (n > 0) {
                int head = snprintf(frame, 64, "OUT %s 1 ", r->id);
                size_t len = (size_t)head + b64_encode(buf, (size_t)n, frame + head);
                frame[len++] = '\n';
                if (port_write(port, frame, len) < 0) failed = 1;
                else sent += (unsigned long long)n;
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                master_open = 0; /* EIO: every slave end is closed, the session is over */
            }
        }
        if (ready > 0 && pending_len && (p[0].revents & POLLOUT)) {
            ssize_t n = write(master, pending + pending_off, pending_len);
            if (n > 0) { last_byte = pending[pending_off + (size_t)n - 1]; pending_off += (size_t)n; pending_len -= (size_t)n; }
            else if (n < 0 && errno != EAGAIN && errno != EINTR) pending_len = 0;
        }
        if (np == 2 && ready > 0 && p[1].revents) {
            if (port_fill(port) <= 0) {
                /* The host went away: hang up the session, as a terminal does. */
                port_ended = 1;
                stdin_open = 0;
                kill(-child, SIGHUP);
            }
        }
        if (!exited && waitpid(child, &status, WNOHANG) == child) exited = 1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (r->deadline > 0 && !timed_out && now.tv_sec - start.tv_sec >= r->deadline) {
            timed_out = 1;
            kill(-child, SIGKILL);
            kill(child, SIGKILL);
        }
        /* Background jobs may keep the terminal open after the shell exits: the
         * session ends with the shell, as a terminal window's does. */
        if (exited && ready == 0) break;
    }
    if (!exited) {
        kill(-child, SIGHUP);
        while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
    }
    close(master);
    free(pending);
    int code = timed_out ? 124 : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    if (!failed) {
        char end[256];
        int len = snprintf(end, sizeof end, "END %s %d %llu 0 %d\n", r->id, code, sent, timed_out);
        port_write(port, end, (size_t)len);
    }
    /* Frames up to the host's EOF, as after RUN. */
    if (stdin_open && !port_ended && !failed) port_drop_frames_until_eof(port, r->id);
    return 0;
}
