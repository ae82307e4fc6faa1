/* vigild: the checklist. Flags, config, --check, ctl socket, subreaper,
 * start programs, run the loop, shut down in order. */
#define _GNU_SOURCE
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "config.h"
#include "ctl_server.h"
#include "log.h"
#include "notify.h"
#include "guard.h"
#include "health.h"
#include "heartbeat.h"
#include "http_listen.h"
#include "output.h"
#include "program.h"
#include "program_spawn.h"
#include "reaper.h"
#include "reload.h"
#include "sd.h"
#include "supervisor.h"
#include "vigild.h"

#ifndef VIGIL_VERSION
#define VIGIL_VERSION "dev"
#endif

enum { EXIT_OK = 0, EXIT_FAILURE_RUNTIME = 1, EXIT_CONFIG = 2 };

static struct event *signal_events[4];

static void usage(FILE *out)
{
	fprintf(out, "usage: vigild [-c FILE] [--check] [--insecure-config] [--version] [--help]\n"
		     "  -c, --config FILE  configuration (default " CONFIG_DEFAULT_PATH ")\n"
		     "      --check        validate the configuration and exit (0 ok, 2 errors)\n"
		     "      --insecure-config\n"
		     "                     as root, read config files even if a user other than\n"
		     "                     root owns them or could write them or a folder above\n"
		     "  -V, --version      print the version\n"
		     "  -h, --help         this text\n");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		if (vigil.shutting_down) {
			log_warn("second %s during shutdown: killing what is left", sig == SIGINT ? "SIGINT" : "SIGTERM");
			supervisor_kill_all();
			return;
		}
		supervisor_begin_shutdown();
		break;
	case SIGHUP:
		json_decref(reload_run(NULL));
		break;
	case SIGUSR1:
		output_reopen_files();
		break;
	}
}

static int setup_signals(void)
{
	const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };

	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		signal_events[i] = evsignal_new(vigil.base, sigs[i], on_signal, NULL);
		if (!signal_events[i] || evsignal_add(signal_events[i], NULL) < 0)
			return -1;
	}
	return reaper_init(supervisor_child_exited);
}

/* A ctl socket passed by systemd socket activation, or -1. */
static int activated_socket(void)
{
	int n = sd_listen_fds(1);
	int fd = SD_LISTEN_FDS_START;

	if (n <= 0)
		return -1;
	if (n > 1)
		log_warn("socket activation passed %d sockets; using the first", n);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* Errors are errors under the journal too (<3> on every line): --check
 * prints them as a compiler would, vigild starting logs them. */
static struct config *load_config(const char *path, bool check)
{
	char *errors = NULL;
	struct config *config = config_load(path, &errors);

	if (!config && check) {
		log_report(LOG_ERR, errors ? errors : "");
		log_report(LOG_ERR, "vigild: configuration has errors");
	} else if (!config) {
		log_lines(LOG_ERR, errors ? errors : "");
		log_err("configuration has errors; nothing started");
	}
	free(errors);
	return config;
}

/* A fresh install has no programs: say where they go (at start in the
 * log at notice level, for --check on stderr). */
static void warn_no_programs(const struct config *config, bool to_log)
{
	char *hint = config_no_programs_hint(config);

	if (to_log)
		log_notice("%s", hint);
	else
		fprintf(stderr, "vigild: %s\n", hint);
	free(hint);
}

/* vigild itself needs a score of descriptors, and each process up to
 * three (two pipes and a log file): below that, spawns wait for ever. */
static void warn_if_few_descriptors(const struct config *config)
{
	struct rlimit now;
	unsigned long long need = 32;

	for (size_t i = 0; i < config->nprograms; i++)
		need += 3ULL * (unsigned long long)config->programs[i]->numprocs;
	if (getrlimit(RLIMIT_NOFILE, &now) == 0 && now.rlim_cur != RLIM_INFINITY && now.rlim_cur < need)
		log_warn("the open-files limit (%llu) is below the %llu descriptors vigild needs for %zu programs: "
			 "spawns will wait for free descriptors (raise LimitNOFILE= or ulimit -n)",
			 (unsigned long long)now.rlim_cur, need, config->nprograms);
}

/* health.h's spawn action: an exec check, run as its program would be */
static pid_t spawn_health_probe(void *owner, char *const *argv, int out_fd, char *err, size_t errlen)
{
	return program_spawn_probe(owner, argv, out_fd, err, errlen);
}

static int run(struct config *config)
{
	char notify_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 16];
	int n_left;

	/* beside the ctl socket, in vigild's runtime folder */
	snprintf(notify_path, sizeof(notify_path), "%s.notify", config->socket);

	vigil.base = vigil_event_base_new();
	vigil.config = config;
	vigil.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (!vigil.base || vigil.devnull < 0 || setup_signals() < 0) {
		log_err("cannot set up the event loop: %s", strerror(errno));
		return EXIT_FAILURE_RUNTIME;
	}
	/* Two pipes per child: thousands of programs need more than the
	 * usual 1024 descriptors. epoll has no FD_SETSIZE limit; children get
	 * the original limit back (select()-based programs rely on it). */
	if (getrlimit(RLIMIT_NOFILE, &vigil.nofile) == 0 && vigil.nofile.rlim_cur < vigil.nofile.rlim_max) {
		struct rlimit raised = { vigil.nofile.rlim_max, vigil.nofile.rlim_max };
		if (setrlimit(RLIMIT_NOFILE, &raised) < 0)
			log_warn("cannot raise the open-files limit: %s", strerror(errno));
	}
	warn_if_few_descriptors(config);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		log_warn("cannot become child subreaper: %s; orphans go to init", strerror(errno));
	if (ctl_server_init(config, activated_socket()) < 0 || http_listen_init(config) < 0 || notify_init(notify_path) < 0 ||
	    supervisor_init(config) < 0)
		return EXIT_FAILURE_RUNTIME;
	/* a deadline is judged only after the pings already queued were read */
	heartbeat_set_actions(&(struct heartbeat_actions){ .drain = notify_drain,
							   .lost = proc_heartbeat_deadline_passed });
	health_set_actions(&(struct health_actions){ .changed = supervisor_health_changed,
						     .spawn = spawn_health_probe });
	program_spawn_set_notify_path(notify_socket_path());
	/* after the ctl socket: a vigild already running on it refused us
	 * before we could kill its programs as a predecessor's leftovers */
	cgroup_init(config->socket);
	guard_start(supervisor_for_each_group);
	if (sd_glue_init() < 0)
		return EXIT_FAILURE_RUNTIME;
	log_info("vigild %s started (pid %d) with %zu process%s from %s", VIGIL_VERSION, (int)getpid(),
		 vigil.nprocs, vigil.nprocs == 1 ? "" : "es", config->path);
	supervisor_start_autostart();
	event_base_dispatch(vigil.base);
	n_left = reaper_kill_leftovers();
	if (n_left)
		log_info("killed %d leftover process%s that had left their programs' process groups", n_left,
			 n_left == 1 ? "" : "es");
	return vigil.exit_code; /* 0, or a critical program's */
}

static void cleanup(void)
{
	cgroup_free();
	guard_free(); /* last: it kills everything if vigild dies before */
	http_listen_free();
	ctl_server_free();
	supervisor_free();
	output_free_detached();
	sd_glue_free();
	notify_free();
	reaper_free();
	for (size_t i = 0; i < sizeof(signal_events) / sizeof(signal_events[0]); i++)
		if (signal_events[i])
			event_free(signal_events[i]);
	if (vigil.base)
		event_base_free(vigil.base);
	if (vigil.devnull >= 0)
		close(vigil.devnull);
	config_free(vigil.config);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' }, { "check", no_argument, NULL, 'k' },
		{ "version", no_argument, NULL, 'V' },	   { "help", no_argument, NULL, 'h' },
		{ "insecure-config", no_argument, NULL, 'I' }, { NULL, 0, NULL, 0 },
	};
	const char *path = CONFIG_DEFAULT_PATH;
	bool check = false;
	struct config *config;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "c:Vh", options, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'k': check = true; break;
		case 'I': config_set_insecure(true); break; /* for reloads too */
		case 'V': printf("vigild %s\n", VIGIL_VERSION); return EXIT_OK;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_CONFIG;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vigild: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return EXIT_CONFIG;
	}
	log_init();
	if (!(config = load_config(path, check)))
		return EXIT_CONFIG;
	if (check) {
		printf("%s: configuration OK (%zu programs)\n", path, config->nprograms);
		if (!config->nprograms)
			warn_no_programs(config, false);
		config_free(config);
		return EXIT_OK;
	}
	log_set_level(config->log_level);
	if (!config->nprograms)
		warn_no_programs(config, true);
	rc = run(config);
	cleanup();
	return rc;
}
