/*
 * segalert-sim - a Segment Public API simulator for segalert's demo, tests
 * and benchmarks.  See docs/sim.md.
 *
 *   segalert-sim [--listen ADDR:PORT] [--scenario FILE] [--seed N]
 *                [--token TOKEN] [--clock SPEC] [-v] [-h]
 *
 * Prints exactly one line on stdout once it accepts connections:
 *   segalert-sim listening on http://127.0.0.1:PORT
 * so a test can start it on port 0 and read the port it got.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "sim_http.h"
#include "sim_scenario.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: segalert-sim [--listen ADDR:PORT] [--scenario FILE] "
        "[--seed N] [--token TOKEN]\n"
        "                    [--clock SPEC] [-v] [-h]\n"
        "\n"
        "Serve a simulated Segment Public API workspace.\n"
        "\n"
        "  -l, --listen ADDR:PORT  address to bind (default 127.0.0.1:9480;\n"
        "                          port 0 picks a free port)\n"
        "  -s, --scenario FILE     scenario file (default: a small built-in\n"
        "                          workspace); see docs/sim.md\n"
        "      --seed N            override the scenario's seed\n"
        "      --token TOKEN       override the scenario's bearer token\n"
        "      --clock SPEC        run scenario time on a scaled clock,\n"
        "                          scale=N[,origin=UNIX][,start=UNIX]\n"
        "                          (overrides $" CLOCK_ENV ", docs/sim.md)\n"
        "  -v, --verbose           log every request to stderr\n"
        "  -h, --help              this help\n");
}

/* "127.0.0.1:9480", "[::1]:9480", ":9480" or "9480". */
static int parse_listen(const char *s, char *addr, size_t len, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    const char *host = s, *ps = s;
    size_t hl = 0;
    long p;
    if (colon) {
        ps = colon + 1;
        hl = (size_t)(colon - s);
        if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
            host = s + 1;
            hl -= 2;
        }
    }
    if (parse_long(ps, &p) != 0 || p < 0 || p > 65535)
        return -1;
    if (hl == 0) {
        host = "127.0.0.1";
        hl = strlen(host);
    }
    if (hl >= len)
        return -1;
    memcpy(addr, host, hl);
    addr[hl] = '\0';
    *port = (uint16_t)p;
    return 0;
}

/* Self-pipe: the handler only records the signal and wakes main. */
static int stop_pipe[2] = { -1, -1 };
static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    int saved = errno;
    stop_signal = sig;
    ssize_t w = write(stop_pipe[1], "x", 1);
    (void)w;
    errno = saved;
}

/* Many parallel connections each take a descriptor: lift the soft cap. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "listen", required_argument, NULL, 'l' },
        { "scenario", required_argument, NULL, 's' },
        { "seed", required_argument, NULL, 'S' },
        { "token", required_argument, NULL, 'T' },
        { "clock", required_argument, NULL, 'C' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *listen = "127.0.0.1:9480", *scenario_path = NULL;
    const char *token = NULL, *clock_spec = NULL;
    long long seed = -1;
    char addr[128], err[256];
    uint16_t port;
    int c;

    log_set_level(LOG_INFO);
    while ((c = getopt_long(argc, argv, "l:s:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen = optarg;
            break;
        case 's':
            scenario_path = optarg;
            break;
        case 'S': {
            long v;
            if (parse_long(optarg, &v) != 0 || v < 0) {
                fprintf(stderr, "segalert-sim: invalid --seed '%s'\n", optarg);
                return 2;
            }
            seed = v;
            break;
        }
        case 'T':
            token = optarg;
            break;
        case 'C':
            clock_spec = optarg;
            break;
        case 'v':
            log_set_level(LOG_DEBUG);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "segalert-sim: unexpected argument '%s'\n",
                argv[optind]);
        usage(stderr);
        return 2;
    }
    if (parse_listen(listen, addr, sizeof(addr), &port) != 0) {
        fprintf(stderr, "segalert-sim: invalid --listen '%s' (want "
                "ADDR:PORT, e.g. 127.0.0.1:9480)\n", listen);
        return 2;
    }

    /* --clock is SEGALERT_CLOCK given on the command line: one parser
     * (clock_from_env) for both.  Set before any thread starts. */
    if (clock_spec && setenv(CLOCK_ENV, clock_spec, 1) != 0) {
        fprintf(stderr, "segalert-sim: setenv: %s\n", strerror(errno));
        return 2;
    }
    const struct clock *clock = clock_from_env(err, sizeof(err));
    if (!clock) {
        fprintf(stderr, "segalert-sim: %s%s\n", clock_spec ? "--clock: " : "",
                err);
        return 2;
    }
    /* clock_from_env hands over a clock the process keeps; freeing the
     * system clock is a no-op. */
    struct clock *owned_clock = (struct clock *)clock;

    /* On a test clock the scenario starts at the clock's origin, not when
     * this process happened to start: incident offsets then fall on the
     * whole minutes of the start the caller chose. */
    struct scenario *sc = scenario_load(scenario_path, seed, token,
                                        clock_origin_wall(clock));
    if (!sc) {
        clock_free(owned_clock);
        return 2;
    }
    log_secret_register(sc->token);

    /* A real handler (not just a blocked mask and sigwait) so that a
     * signal landing on any thread, e.g. a sanitizer's helper thread,
     * cannot kill the process.  Server threads start with the signals
     * blocked, so they normally reach the main thread. */
    struct sigaction sa;
    sigset_t stop_set;
    if (pipe(stop_pipe) != 0) {
        fprintf(stderr, "segalert-sim: pipe: %s\n", strerror(errno));
        scenario_free(sc);
        clock_free(owned_clock);
        return 1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    raise_nofile();

    struct sim_server *srv = sim_server_start(sc, clock, addr, port, err,
                                              sizeof(err));
    if (!srv) {
        fprintf(stderr, "segalert-sim: %s\n", err);
        scenario_free(sc);
        clock_free(owned_clock);
        return 1;
    }
    printf("segalert-sim listening on http://%s%s%s:%u\n",
           strchr(addr, ':') ? "[" : "", addr, strchr(addr, ':') ? "]" : "",
           (unsigned)sim_server_port(srv));
    fflush(stdout);
    log_info("sim: scenario %s: %zu sources, %zu incidents, rate_limit %ld/min",
             sc->file, sc->n_sources, sc->n_incidents, sc->rate_limit);
    if (!clock_is_system(clock)) {
        char start[32];
        format_iso8601(sc->start, start, sizeof(start));
        log_info("sim: scaled clock: scenario time runs %gx real time, "
                 "scenario start %s", clock_factor(clock), start);
    }

    pthread_sigmask(SIG_UNBLOCK, &stop_set, NULL);
    char byte;
    while (read(stop_pipe[0], &byte, 1) < 0 && errno == EINTR)
        ;
    log_info("sim: signal %d, stopping", (int)stop_signal);
    sim_server_stop(srv);
    scenario_free(sc);
    clock_free(owned_clock);
    log_secrets_clear();
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    return 0;
}
