#define _GNU_SOURCE
#include "shell.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *agent_run_dir(void) {
    const char *dir = getenv("STASIS_AGENT_RUN");
    return dir && *dir ? dir : "/run/stasis";
}

static int write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

void shell_exec(const char *bin, char *const argv[], char *const env[]) {
    if (strchr(bin, '/')) { execve(bin, argv, env); return; }
    /* A bare name is found along the agent's PATH, as the shell agent did. */
    const char *path = getenv("PATH");
    char *dirs = strdup(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
    for (char *d = dirs ? strtok(dirs, ":") : NULL; d; d = strtok(NULL, ":")) {
        char full[4200];
        snprintf(full, sizeof full, "%s/%s", d, bin);
        execve(full, argv, env);
    }
}

int shell_start(struct shell *sh) {
    const char *run = agent_run_dir();
    const char *bin = getenv("STASIS_AGENT_SHELL");
    const char *home = getenv("STASIS_AGENT_HOME");
    const char *profile = getenv("STASIS_AGENT_PROFILE");
    const char *path = getenv("PATH");
    if (!bin || !*bin) bin = "sh";
    if (!home || !*home) home = "/root";
    if (!path) path = "/usr/sbin:/usr/bin:/sbin:/bin";

    char cmd[4096], done[4096];
    snprintf(cmd, sizeof cmd, "%s/cmd", run);
    snprintf(done, sizeof done, "%s/done", run);
    unlink(cmd);
    unlink(done);
    if (mkfifo(cmd, 0600) < 0 || mkfifo(done, 0600) < 0) return -1;
    sh->cmd_fd = open(cmd, O_RDWR | O_CLOEXEC);
    sh->done_fd = open(done, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (sh->cmd_fd < 0 || sh->done_fd < 0) return -1;
    sh->done_len = 0;

    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        /* A process group of its own: a command over its deadline is killed
         * with everything it started. */
        setsid();
        signal(SIGPIPE, SIG_DFL);
        if (chdir(home) < 0 && chdir("/") < 0) _exit(127);
        int in = open(cmd, O_RDONLY);
        int null = open("/dev/null", O_WRONLY);
        if (in < 0 || null < 0) _exit(127);
        dup2(in, 0);
        dup2(null, 1);
        dup2(null, 2);
        for (int fd = 3; fd < 1024; fd++) close(fd);
        char cwd[4096];
        if (!getcwd(cwd, sizeof cwd)) strcpy(cwd, "/");
        char e_home[4200], e_path[4200], e_pwd[4200];
        snprintf(e_home, sizeof e_home, "HOME=%s", home);
        snprintf(e_path, sizeof e_path, "PATH=%s", path);
        snprintf(e_pwd, sizeof e_pwd, "PWD=%s", cwd);
        char *env[] = { e_home, e_path, "SHELL=/bin/sh", "USER=root", "LOGNAME=root", "TERM=dumb", e_pwd, NULL };
        char *argv[] = { (char *)bin, NULL };
        shell_exec(bin, argv, env);
        _exit(127);
    }
    sh->pid = pid;

    char line[8400];
    /* If a command makes the shell exit (`exit 3`), its status is reported. */
    int n = snprintf(line, sizeof line, "trap 'echo \"EXIT $?\" >%s' EXIT\n", done);
    if (write_all(sh->cmd_fd, line, (size_t)n) < 0) return -1;
    /* A template's environment and working directory (a fresh shell gets them again). */
    if (profile && *profile) {
        n = snprintf(line, sizeof line, "[ -r %s ] && . %s >/dev/null 2>&1 </dev/null\n", profile, profile);
        if (write_all(sh->cmd_fd, line, (size_t)n) < 0) return -1;
    }
    return 0;
}

void shell_restart(struct shell *sh, int kill_first) {
    if (kill_first) {
        kill(-sh->pid, SIGKILL);
        kill(sh->pid, SIGKILL);
    }
    int status;
    while (waitpid(sh->pid, &status, 0) < 0 && errno == EINTR) {}
    close(sh->cmd_fd);
    close(sh->done_fd);
    /* A shell that cannot start leaves every command answered with an error;
     * trying again on the next one is all there is to do. */
    if (shell_start(sh) < 0) fprintf(stderr, "stasis-agent: cannot start the shell: %s\n", strerror(errno));
}

int shell_submit(struct shell *sh, const char *script, const char *in, const char *out,
                 const char *err, unsigned long seq) {
    /* `command .` runs the file in the shell itself (so cd and variables
     * persist) and, unlike a bare `.` or `eval`, a syntax error in it does not
     * kill the non-interactive shell. */
    char line[20000];
    int n = snprintf(line, sizeof line, "command . %s <%s >%s 2>%s; echo \"DONE %lu $?\" >%s/done\n",
                     script, in, out, err, seq, agent_run_dir());
    if (n < 0 || (size_t)n >= sizeof line) { errno = ENAMETOOLONG; return -1; }
    return write_all(sh->cmd_fd, line, (size_t)n);
}

int shell_read_report(struct shell *sh, unsigned long seq, enum ending *ending, int *status) {
    ssize_t n = read(sh->done_fd, sh->done_buf + sh->done_len, sizeof sh->done_buf - 1 - sh->done_len);
    if (n > 0) sh->done_len += (size_t)n;
    sh->done_buf[sh->done_len] = 0;
    char *nl;
    while ((nl = strchr(sh->done_buf, '\n'))) {
        *nl = 0;
        char what[16], a[64];
        int b = 0, found = 0;
        int fields = sscanf(sh->done_buf, "%15s %63s %d", what, a, &b);
        if (fields == 3 && strcmp(what, "DONE") == 0 && strtoul(a, NULL, 10) == seq) {
            *ending = ENDED_DONE;
            *status = b;
            found = 1;
        } else if (fields >= 2 && strcmp(what, "EXIT") == 0) {
            *ending = ENDED_EXIT;
            *status = atoi(a);
            found = 1;
        }
        /* Anything else (a report of an earlier, abandoned command) is dropped. */
        size_t rest = sh->done_len - (size_t)(nl + 1 - sh->done_buf);
        memmove(sh->done_buf, nl + 1, rest + 1);
        sh->done_len = rest;
        if (found) return 1;
    }
    if (sh->done_len >= sizeof sh->done_buf - 1) sh->done_len = 0; /* garbage: never a report */
    return 0;
}

int shell_gone(struct shell *sh, int *status) {
    /* The shell's state in /proc (Z: exited, not reaped) and its wait status
     * (field 52, exit_code). Read, not reaped: shell_restart reaps. It works
     * whether the shell is this process's child or a sibling's (stasis-exec). */
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)sh->pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { *status = 0; return 1; }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) { *status = 0; return 1; }
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || p[2] != 'Z') return 0;
    int field = 3, raw = 0;
    for (char *q = p + 2; *q; q++) {
        if (*q == ' ' && ++field == 52) { raw = atoi(q + 1); break; }
    }
    *status = (raw & 0x7f) ? 128 + (raw & 0x7f) : (raw >> 8) & 0xff;
    return 1;
}
