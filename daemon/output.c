#define _GNU_SOURCE
#include "output.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "output_file.h"
#include "output_ring.h"
#include "output_stdio.h"
#include "vigild.h"

/* A longer line is passed on in pieces of this size. */
#define OUTPUT_LINE_MAX 16384
/* Bytes read from one pipe per wakeup, so one chatty child cannot
 * starve the loop; the rest waits for the next turn. */
#define OUTPUT_READ_BUDGET (256 * 1024)
/* Lost output is logged at most this often per process. */
#define OUTPUT_LOST_WARN_USEC (10 * USEC_PER_SEC)
/* A log file that could not be opened is tried again this often. */
#define OUTPUT_RETRY_USEC USEC_PER_SEC

struct output_pipe {
	struct output_pipe *next;
	struct proc_output *out; /* NULL once its process is gone: drain and drop */
	int stream;
	int fd;
	pid_t pid; /* for the journal fallback prefix */
	struct event *ev;
	struct evbuffer *pending; /* a partial line */
};

static bool journal_checked, journal_available;
/* Pipes of freed processes (a reload removed them) that grandchildren
 * still write to: drained until EOF, or closed when vigild exits. */
static struct output_pipe *detached_pipes;
/* Every process's output, for SIGUSR1's reopening. */
static struct proc_output *all_outputs;
/* Lines for vigild's stdout/stderr, prefixed, of one batch. */
static struct evbuffer *batch;

static bool output_journal_available(void)
{
	if (!journal_checked) {
		journal_checked = true;
		journal_available = access("/run/systemd/journal/socket", W_OK) == 0;
	}
	return journal_available;
}

static const struct program_config *output_config(const struct proc_output *o)
{
	return *o->cfg;
}

static const struct output_spec *output_spec(const struct proc_output *o, int stream)
{
	return stream == OUTPUT_STDOUT_STREAM ? &output_config(o)->stdout_spec : &output_config(o)->stderr_spec;
}

/* Program uid for the ownership rules of output_file.h: resolved when
 * the process is spawned, as spawn.c does (the account may have changed). */
static uid_t output_program_uid(const struct program_config *pc)
{
	struct passwd *pw;

	if (!pc->user)
		return geteuid();
	pw = getpwnam(pc->user);
	return pw ? pw->pw_uid : pc->uid;
}

/* len bytes meant for f were not written (f->why says why): counted, and
 * logged at most once per OUTPUT_LOST_WARN_USEC for each process, so a
 * full disk costs one line per 10 s, not one per write. */
static void output_lost(struct proc_output *o, struct output_file *f, size_t len)
{
	int64_t now = now_usec();
	bool first = !f->failing;

	o->lost_bytes += len;
	f->lost_outage += len;
	f->lost_unreported += len;
	f->failing = true;
	if (o->lost_warned_at && now - o->lost_warned_at < OUTPUT_LOST_WARN_USEC)
		return;
	log_warn("%s: cannot write output to %s: %s; %llu bytes lost%s", o->name, f->path, f->why, f->lost_unreported,
		 first ? "" : " since the last warning");
	o->lost_warned_at = now;
	f->lost_unreported = 0;
}

static void output_resumed(struct proc_output *o, struct output_file *f)
{
	if (!f->failing)
		return;
	log_notice("%s: output to %s resumed; %llu bytes were lost", o->name, f->path, f->lost_outage);
	f->failing = false;
	f->lost_outage = f->lost_unreported = 0;
}

/* A file that could not be opened (refused, or ENOSPC creating it at a
 * rotation) is tried again now and then, so output resumes by itself. */
static void output_file_retry(struct proc_output *o, struct output_file *f)
{
	char err[512];
	int64_t now;

	if (f->fd >= 0 || !f->path || (now = now_usec()) < f->retry_at)
		return; /* the common case: open, no clock read */
	f->retry_at = now + OUTPUT_RETRY_USEC;
	output_file_reopen(f, o->uid, err, sizeof(err)); /* f->why on failure */
}

/* 0: rotated. -1: not (logged): write on past the limit, and try again
 * only after OUTPUT_LOST_WARN_USEC, not at every line. */
static int output_rotate(struct proc_output *o, struct output_file *f)
{
	char err[1024];
	int64_t now = now_usec();
	unsigned long long before = f->size;
	int rc;

	if (now < f->rotate_retry_at)
		return -1;
	rc = output_file_rotate(f, output_config(o)->log_backups, o->uid, err, sizeof(err));
	if (rc == 0 && f->size < before)
		return 0;
	if (rc < 0)
		log_warn("%s: cannot rotate %s: %s", o->name, f->path, err);
	f->rotate_retry_at = now + OUTPUT_LOST_WARN_USEC;
	return -1;
}

/* Where to cut data[..end) for the file to stay within max: after the
 * last whole line that fits, data itself if none does (rotate first),
 * but a single line longer than the limit goes whole into an empty file. */
static const char *output_cut(const struct output_file *f, unsigned long long max, const char *data,
			      const char *end)
{
	const char *cut = data;

	if (!max || f->size + (unsigned long long)(end - data) <= max)
		return end; /* the common case: everything fits */
	while (cut < end) {
		const char *nl = memchr(cut, '\n', (size_t)(end - cut));
		if (f->size + (unsigned long long)(nl + 1 - data) > max)
			break;
		cut = nl + 1;
	}
	if (cut == data && f->size == 0)
		cut = (const char *)memchr(data, '\n', (size_t)(end - data)) + 1;
	return cut;
}

/* Writes whole lines (data ends with \n), rotating between two lines
 * whenever the next one would take the file past log_max_size. Only
 * bytes really written count towards the size: a full disk loses output
 * (counted, logged) but never rotates good files away. */
static void output_to_file(struct proc_output *o, int stream, const char *data, size_t len)
{
	struct output_file *f = &o->file[stream];
	const char *end = data + len;
	unsigned long long max;

	output_file_retry(o, f);
	max = f->rotatable ? output_config(o)->log_max_size : 0;
	while (f->fd >= 0 && data < end) {
		const char *cut = output_cut(f, max, data, end);
		if (cut > data) {
			size_t want = (size_t)(cut - data), done = output_file_write(f, data, want);
			f->size += done;
			data += done;
			if (done < want) {
				snprintf(f->why, sizeof(f->why), "%s", strerror(errno));
				break;
			}
			output_resumed(o, f);
		}
		if (data < end && output_rotate(o, f) < 0)
			max = 0;
	}
	if (data < end)
		output_lost(o, f, (size_t)(end - data));
}

/* _PID of an entry is vigild's (it sends them): VIGIL_PID says whose
 * line it is. Without a journal, the line goes to vigild's stderr as
 * "NAME[PID]: line", added to fallback to be written with the others. */
static void output_to_journal(struct output_pipe *op, const char *line, size_t len, struct evbuffer *fallback)
{
	struct proc_output *o = op->out;
	const char *program = output_config(o)->name;
	int rc = -ENOENT;

	if (output_journal_available())
		rc = sd_journal_send("MESSAGE=%.*s", (int)len, line, "SYSLOG_IDENTIFIER=%s", program,
				     "VIGIL_PROGRAM=%s", program, "VIGIL_INSTANCE=%d", o->instance,
				     "VIGIL_PID=%d", (int)op->pid, "PRIORITY=%d",
				     op->stream == OUTPUT_STDOUT_STREAM ? LOG_INFO : LOG_ERR, NULL);
	if (rc < 0)
		evbuffer_add_printf(fallback, "%s[%d]: %.*s\n", o->name, (int)op->pid, (int)len, line);
}

static bool name_width_stale = true;

void output_config_changed(void)
{
	name_width_stale = true;
}

/* The width of the longest process name of the config, for `inherit`
 * prefixes to line up; counted again only when a reload changed it. */
static int output_name_width(void)
{
	static int width;

	if (!name_width_stale)
		return width;
	name_width_stale = false;
	width = 0;
	for (size_t i = 0; vigil.config && i < vigil.config->nprograms; i++) {
		const struct program_config *pc = vigil.config->programs[i];
		int n = (int)strlen(pc->name);
		if (pc->numprocs > 1)
			n += snprintf(NULL, 0, ":%d", pc->numprocs - 1);
		width = n > width ? n : width;
	}
	return width;
}

/* One colour per program name on a terminal, as foreman does. */
static const char *output_name_colour(const char *name)
{
	static const char *const colours[] = { "36", "33", "32", "35", "34", "91", "96", "93", "92", "95" };
	unsigned h = 5381;

	for (const char *c = name; *c && *c != ':'; c++)
		h = h * 33 + (unsigned char)*c;
	return colours[h % (sizeof(colours) / sizeof(colours[0]))];
}

/* Colours only on a terminal, and not with NO_COLOR (no-color.org). */
static bool output_use_colour(int target)
{
	static int no_colour = -1;

	if (no_colour < 0)
		no_colour = getenv("NO_COLOR") && *getenv("NO_COLOR");
	return !no_colour && output_stdio_is_tty(target);
}

/* `inherit`: "web:0 | line", the names padded to line up. */
static void output_prefixed(struct output_pipe *op, const char *line, size_t len, bool colour, struct evbuffer *to)
{
	const char *name = op->out->name;
	int width = output_name_width();

	if (colour)
		evbuffer_add_printf(to, "\033[%sm%-*s |\033[0m %.*s\n", output_name_colour(name), width, name, (int)len,
				    line);
	else
		evbuffer_add_printf(to, "%-*s | %.*s\n", width, name, (int)len, line);
}

/* Complete lines (each ending in \n) from one read batch. What goes to
 * vigild's stdout/stderr goes in one write for the batch, whole lines
 * only, through the one sink every writer there shares. */
static void output_deliver(struct output_pipe *op, const char *data, size_t len)
{
	struct proc_output *o = op->out;
	const struct output_spec *spec = output_spec(o, op->stream);
	int ring_stream = o->merged ? OUTPUT_STDOUT_STREAM : op->stream;
	int target = op->stream == OUTPUT_STDOUT_STREAM ? 1 : 2;
	bool prefixed = spec->kind == OUTPUT_INHERIT && output_config(o)->output_prefix;
	bool colour = prefixed && output_use_colour(target);

	if (!batch && !(batch = evbuffer_new()))
		abort();
	for (const char *line = data; line < data + len;) {
		const char *nl = memchr(line, '\n', (size_t)(data + len - line));
		size_t n = (size_t)(nl - line);
		output_ring_add(o->ring[ring_stream], line, n);
		if (spec->kind == OUTPUT_JOURNAL)
			output_to_journal(op, line, n, batch);
		else if (prefixed)
			output_prefixed(op, line, n, colour, batch);
		line = nl + 1;
	}
	if (spec->kind == OUTPUT_FILE)
		output_to_file(o, op->stream, data, len);
	else if (spec->kind == OUTPUT_INHERIT && !prefixed)
		output_stdio_write(target, data, len);
	if (evbuffer_get_length(batch)) {
		/* the journal fallback is vigild's stderr, whatever the stream */
		output_stdio_write(spec->kind == OUTPUT_JOURNAL ? 2 : target, (const char *)evbuffer_pullup(batch, -1),
				   evbuffer_get_length(batch));
		evbuffer_drain(batch, evbuffer_get_length(batch));
	}
}

/* Takes every complete line out of pending and delivers them in one go;
 * an over-long partial line is cut and delivered too. */
static void output_flush_lines(struct output_pipe *op, bool eof)
{
	size_t len = evbuffer_get_length(op->pending), take = 0;
	char *buf;

	if (len == 0)
		return;
	if (eof || len >= OUTPUT_LINE_MAX) {
		if (evbuffer_add(op->pending, "\n", 1) < 0)
			return;
		take = len + 1;
	} else {
		/* the last newline: search backwards through a copy-free peek */
		buf = (char *)evbuffer_pullup(op->pending, -1);
		for (size_t i = len; i > 0; i--)
			if (buf[i - 1] == '\n') {
				take = i;
				break;
			}
	}
	if (take == 0)
		return;
	buf = (char *)evbuffer_pullup(op->pending, (ssize_t)take);
	if (op->out)
		output_deliver(op, buf, take);
	evbuffer_drain(op->pending, take);
}

static void output_pipe_close(struct output_pipe *op)
{
	for (struct output_pipe **l = op->out ? &op->out->pipes : &detached_pipes; *l; l = &(*l)->next)
		if (*l == op) {
			*l = op->next;
			break;
		}
	event_free(op->ev);
	close(op->fd);
	evbuffer_free(op->pending);
	free(op);
}

/* Reads up to budget bytes and delivers the complete lines; true when
 * the pipe reached EOF and is closed (op is freed). */
static bool output_pipe_read(struct output_pipe *op, size_t budget)
{
	while (budget > 0) {
		int n = evbuffer_read(op->pending, op->fd, 65536);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) { /* EOF: every writer (child and grandchildren) is gone */
			output_flush_lines(op, true);
			output_pipe_close(op);
			return true;
		}
		budget -= (size_t)n < budget ? (size_t)n : budget;
		output_flush_lines(op, false);
	}
	return false;
}

static void output_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	output_pipe_read(arg, OUTPUT_READ_BUDGET);
}

void output_init(struct proc_output *o, const char *name, int instance, struct program_config *const *cfg)
{
	const struct program_config *pc = *cfg;
	char err[PARSE_ERR_MAX];

	o->name = name;
	o->instance = instance;
	o->cfg = cfg;
	o->merged = pc->stderr_spec.kind == OUTPUT_STDOUT;
	o->uid = pc->user ? pc->uid : geteuid();
	for (int s = 0; s < OUTPUT_STREAMS; s++) {
		const struct output_spec *spec = output_spec(o, s);
		o->child_fd[s] = -1;
		o->read_fd[s] = -1;
		output_file_init(&o->file[s], spec->kind != OUTPUT_FILE ? NULL :
				 expand_program_vars(spec->path, pc->name, instance, err, sizeof(err)));
		o->ring[s] = output_ring_new();
	}
	o->next = all_outputs;
	o->prev = NULL;
	if (all_outputs)
		all_outputs->prev = o;
	all_outputs = o;
}

void output_free(struct proc_output *o)
{
	/* a pipe outlives its process while grandchildren write to it; what
	 * it holds now is delivered while there is a config to deliver it
	 * by, the last partial line too (vigild exits, or a reload removed
	 * the program) */
	while (o->pipes) {
		struct output_pipe *op = o->pipes;
		if (output_pipe_read(op, OUTPUT_READ_BUDGET))
			continue;
		output_flush_lines(op, true);
		o->pipes = op->next;
		op->out = NULL;
		op->next = detached_pipes;
		detached_pipes = op;
	}
	for (int s = 0; s < OUTPUT_STREAMS; s++) {
		output_file_free(&o->file[s]);
		output_ring_free(o->ring[s]);
		if (o->child_fd[s] >= 0)
			close(o->child_fd[s]);
		if (o->read_fd[s] >= 0)
			close(o->read_fd[s]);
	}
	if (o->prev)
		o->prev->next = o->next;
	else if (all_outputs == o)
		all_outputs = o->next;
	if (o->next)
		o->next->prev = o->prev;
	o->next = o->prev = NULL;
}

int output_prepare(struct proc_output *o, char *err, size_t errlen)
{
	for (int s = 0; s < OUTPUT_STREAMS; s++) {
		const struct output_spec *spec = output_spec(o, s);
		int fds[2];

		o->child_fd[s] = -1;
		if (spec->kind == OUTPUT_NULL) {
			o->child_fd[s] = -2;
			continue;
		}
		if (spec->kind == OUTPUT_STDOUT)
			continue; /* the child dup2s its stdout onto 2 */
		if (spec->kind == OUTPUT_FILE && o->file[s].fd < 0) {
			o->uid = output_program_uid(output_config(o));
			if (output_file_open(&o->file[s], o->uid, err, errlen) < 0)
				return -1;
		}
		if (pipe2(fds, O_CLOEXEC) < 0)
			return snprintf(err, errlen, "pipe: %s", strerror(errno)), -1;
		o->child_fd[s] = fds[1];
		o->read_fd[s] = fds[0];
	}
	return 0;
}

void output_after_fork(struct proc_output *o, int pid)
{
	for (int s = 0; s < OUTPUT_STREAMS; s++) {
		int fd = o->read_fd[s];
		struct output_pipe *op;

		if (o->child_fd[s] >= 0)
			close(o->child_fd[s]);
		o->child_fd[s] = o->read_fd[s] = -1;
		if (fd < 0)
			continue;
		if (pid <= 0) {
			close(fd);
			continue;
		}
		op = calloc(1, sizeof(*op));
		if (!op)
			abort();
		op->out = o;
		op->stream = s;
		op->fd = fd;
		op->pid = pid;
		op->pending = evbuffer_new();
		fcntl(fd, F_SETFL, O_NONBLOCK);
		op->ev = event_new(vigil.base, fd, EV_READ | EV_PERSIST, output_readable, op);
		if (!op->pending || !op->ev || event_add(op->ev, NULL) < 0)
			abort();
		op->next = o->pipes;
		o->pipes = op;
	}
}

void output_free_detached(void)
{
	while (detached_pipes)
		output_pipe_close(detached_pipes);
	if (batch)
		evbuffer_free(batch);
	batch = NULL;
	output_stdio_free();
}

void output_reopen_files(void)
{
	char err[512];

	for (struct proc_output *o = all_outputs; o; o = o->next) {
		for (int s = 0; s < OUTPUT_STREAMS; s++) {
			struct output_file *f = &o->file[s];
			if (f->fd < 0 && !f->failing)
				continue; /* not opened yet: the next start opens it */
			if (output_file_open(f, o->uid, err, sizeof(err)) < 0)
				log_err("%s: %s", o->name, err);
		}
	}
	log_info("SIGUSR1: reopened log files");
}
