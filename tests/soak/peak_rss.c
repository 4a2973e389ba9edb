/* peak_rss REPORT COMMAND [ARG...]: runs COMMAND, writes its peak RSS in KiB to the file REPORT,
 * and ends as COMMAND ended (the same exit status, or killed by the same signal).
 *
 * Why a process of its own: a child's ru_maxrss counts the memory it was forked with, which the
 * kernel records again at exec; a child of the soak, a Python process of some 90 MiB with two
 * threads, fault proxies and the cloud's clients, would report the soak's peak, not the
 * program's. Forked from this small process, the program's figure is its own. Not GNU time's
 * %M: time(1) turns a child killed by a signal into exit status 137, and the soak tells a
 * kill -9 by the status. */
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: peak_rss REPORT COMMAND [ARG...]\n");
        return 2;
    }
    pid_t child = fork();
    if (child < 0) {
        perror("peak_rss: fork");
        return 2;
    }
    if (child == 0) {
        execv(argv[2], argv + 2);
        perror("peak_rss: exec");
        _exit(127);
    }
    int status;
    struct rusage usage;
    if (wait4(child, &status, 0, &usage) < 0) {
        perror("peak_rss: wait4");
        return 2;
    }
    FILE *report = fopen(argv[1], "w");
    if (!report || fprintf(report, "%ld\n", usage.ru_maxrss) < 0 || fclose(report) != 0) {
        perror(argv[1]);
        return 2;
    }
    if (WIFSIGNALED(status)) {
        signal(WTERMSIG(status), SIG_DFL);
        raise(WTERMSIG(status));
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}
