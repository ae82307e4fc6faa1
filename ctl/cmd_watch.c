/* vigilctl status --watch [INTERVAL]: the status table redrawn every
 * INTERVAL, like watch(1). On a terminal: full screen (the alternate
 * screen, restored on Ctrl-C), each row coloured by its state unless
 * NO_COLOR is set; piped: the plain table again each time, under a
 * header line, so a log of it reads like a series of `status`. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "reply.h"
#include "state.h"
#include "table.h"
#include "vigilctl.h"

#define ESC "\033"
#define SCREEN_ENTER ESC "[?1049h" ESC "[?25l" /* alternate screen, cursor hidden */
#define SCREEN_LEAVE ESC "[?25h" ESC "[?1049l"
#define COLOUR_RESET ESC "[0m"

json_t *status_fetch(const struct ctl *c, int *rc);

static volatile sig_atomic_t watch_stop;
static bool screen_entered;

static void watch_on_signal(int signo)
{
	(void)signo;
	watch_stop = 1;
}

/* Ctrl-C and TERM end the loop (and interrupt its sleep): no SA_RESTART. */
static void watch_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = watch_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static const char *row_colour(json_t *p)
{
	int state = state_from_name(json_string_value(json_object_get(p, "state")));

	if (state == STATE_FATAL || (state == STATE_RUNNING && !reply_is_fine(p)))
		return ESC "[1;31m";
	if (state == STATE_RUNNING)
		return ESC "[32m";
	if (state == STATE_STARTING || state == STATE_STOPPING || state == STATE_BACKOFF || state == STATE_WAITING)
		return ESC "[33m";
	return NULL; /* STOPPED, EXITED: as the terminal writes */
}

/* Bytes of line that fit in cols columns: one column a character, and
 * never half of a UTF-8 one. */
static size_t fit_columns(const char *line, size_t len, size_t cols)
{
	size_t n = 0, used = 0;

	while (n < len) {
		size_t next = n + 1;
		while (next < len && ((unsigned char)line[next] & 0xc0) == 0x80)
			next++;
		if (++used > cols)
			break;
		n = next;
	}
	return n;
}

static void terminal_size(size_t *rows, size_t *cols)
{
	struct winsize ws;

	*rows = 24;
	*cols = 80;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

/* The table's lines (the header, then one per process) redrawn from the
 * top left, each cut to the screen's width, what is left below cleared. */
static void draw_screen(const char *title, const char *table, json_t *procs, bool colour)
{
	size_t rows, cols, row = 1;

	terminal_size(&rows, &cols);
	printf(ESC "[H%s%.*s%s" ESC "[K\n" ESC "[K\n", colour ? ESC "[1m" : "",
	       (int)fit_columns(title, strlen(title), cols), title, colour ? COLOUR_RESET : "");
	for (const char *line = table; *line && row + 2 < rows; row++) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		const char *paint = !colour ? NULL : row == 1 ? ESC "[1m" : row_colour(json_array_get(procs, row - 2));
		printf("%s%.*s%s" ESC "[K\n", paint ? paint : "", (int)fit_columns(line, len, cols), line,
		       paint ? COLOUR_RESET : "");
		line += len + (nl != NULL);
	}
	printf(ESC "[J");
}

/* One refresh; EXIT_OK, or the exit code of a failed fetch. */
static int watch_frame(const struct ctl *c, bool tty, bool colour)
{
	char title[256], when[64], *table = NULL;
	size_t table_len = 0;
	time_t now = time(NULL);
	int rc;
	json_t *procs = status_fetch(c, &rc);
	FILE *mem;

	if (!procs)
		return rc;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&now));
	snprintf(title, sizeof(title), "Every %gs: vigilctl status", c->interval_s);
	for (int i = 0; i < c->nargs; i++)
		snprintf(title + strlen(title), sizeof(title) - strlen(title), " %s", c->args[i]);
	snprintf(title + strlen(title), sizeof(title) - strlen(title), "    %s", when);
	/* the screen is taken once there is something to show: an error
	 * before that stays readable on the terminal */
	if (tty && !screen_entered) {
		fputs(SCREEN_ENTER, stdout);
		screen_entered = true;
	}
	if (!(mem = open_memstream(&table, &table_len)))
		abort();
	table_print(mem, procs);
	fclose(mem);
	if (tty)
		draw_screen(title, table, procs, colour);
	else
		printf("%s\n%s\n", title, table);
	fflush(stdout);
	free(table);
	json_decref(procs);
	return EXIT_OK;
}

int status_watch(struct ctl *c)
{
	bool tty = isatty(STDOUT_FILENO) != 0;
	bool colour = tty && ctl_use_colour(STDOUT_FILENO);
	int rc;

	watch_catch_signals();
	/* nothing to watch when vigild does not answer at first */
	rc = watch_frame(c, tty, colour);
	while (rc == EXIT_OK && !watch_stop) {
		ctl_sleep_ms((long)(c->interval_s * 1000));
		if (!watch_stop)
			watch_frame(c, tty, colour); /* a failure is told; the next may work */
	}
	if (screen_entered) {
		fputs(SCREEN_LEAVE, stdout);
		fflush(stdout);
	}
	return rc;
}
