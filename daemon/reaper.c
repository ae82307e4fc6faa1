#define _GNU_SOURCE
#include "reaper.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "log.h"
#include "vigild.h"

static struct event *sigchld_event;
static reaper_exit_fn on_exit_fn;

void reaper_reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (on_exit_fn)
			on_exit_fn(pid, status);
	}
	if (pid < 0 && errno != ECHILD)
		log_warn("waitpid: %s", strerror(errno));
}

int reaper_kill_leftovers(void)
{
	char path[64];
	FILE *f;
	int pid, n = 0;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fscanf(f, "%d", &pid) == 1) {
		if (kill(pid, SIGKILL) == 0)
			n++;
	}
	fclose(f);
	for (int i = 0; i < n; i++)
		if (waitpid(-1, NULL, 0) < 0)
			break;
	return n;
}

static void reaper_on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	reaper_reap();
}

int reaper_init(reaper_exit_fn on_exit)
{
	on_exit_fn = on_exit;
	sigchld_event = evsignal_new(vigil.base, SIGCHLD, reaper_on_sigchld, NULL);
	if (!sigchld_event || evsignal_add(sigchld_event, NULL) < 0)
		return -1;
	return 0;
}

void reaper_free(void)
{
	if (sigchld_event)
		event_free(sigchld_event);
	sigchld_event = NULL;
}
