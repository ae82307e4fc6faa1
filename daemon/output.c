#define _GNU_SOURCE
#include "output.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "output_ring.h"
#include "output_stdio.h"
#include "program.h"
#include "vigild.h"

/* A longer line is passed on in pieces of this size. */
#define OUTPUT_LINE_MAX 16384
/* Bytes read from one pipe per wakeup, so one chatty child cannot
 * starve the loop; the rest waits for the next turn. */
#define OUTPUT_READ_BUDGET (256 * 1024)

struct output_pipe {
	struct output_pipe *next;
	struct proc *proc; /* NULL once the proc is gone: drain and drop */
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

static bool output_journal_available(void)
{
	if (!journal_checked) {
		journal_checked = true;
		journal_available = access("/run/systemd/journal/socket", W_OK) == 0;
	}
	return journal_available;
}

static const struct output_spec *output_spec(const struct proc *p, int stream)
{
	return stream == OUTPUT_STDOUT_STREAM ? &p->cfg->stdout_spec : &p->cfg->stderr_spec;
}

static int output_file_open(struct output_file *f, char *err, size_t errlen)
{
	struct stat st;

	f->fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	if (f->fd < 0)
		return snprintf(err, errlen, "cannot open %s: %s", f->path, strerror(errno)), -1;
	f->rotatable = fstat(f->fd, &st) == 0 && S_ISREG(st.st_mode);
	f->size = f->rotatable ? (unsigned long long)st.st_size : 0;
	return 0;
}

static void output_file_close(struct output_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

/* PATH -> PATH.1 -> ... -> PATH.N, then a fresh PATH. */
static void output_file_rotate(struct output_file *f, const struct program_config *pc)
{
	char from[4096], to[4096], err[256];

	if (pc->log_backups == 0) {
		if (ftruncate(f->fd, 0) == 0)
			f->size = 0;
		return;
	}
	for (int i = pc->log_backups - 1; i >= 1; i--) {
		snprintf(from, sizeof(from), "%s.%d", f->path, i);
		snprintf(to, sizeof(to), "%s.%d", f->path, i + 1);
		rename(from, to);
	}
	snprintf(to, sizeof(to), "%s.1", f->path);
	if (rename(f->path, to) < 0)
		log_warn("%s: cannot rotate: %s", f->path, strerror(errno));
	output_file_close(f);
	if (output_file_open(f, err, sizeof(err)) < 0)
		log_err("%s", err);
}

/* Writes whole lines (data ends with \n), rotating between two lines
 * whenever the next one would take the file past log_max_size; only a
 * single line longer than the limit makes a file larger. */
static void output_to_file(struct proc *p, int stream, const char *data, size_t len)
{
	struct output_file *f = &p->output.file[stream];
	unsigned long long max = f->rotatable ? p->cfg->log_max_size : 0;
	const char *end = data + len;

	while (f->fd >= 0 && data < end) {
		const char *cut = data;
		if (!max || f->size + len <= max) {
			cut = end; /* the common case: everything fits */
		} else {
			while (cut < end) {
				const char *nl = memchr(cut, '\n', (size_t)(end - cut));
				if (f->size + (unsigned long long)(nl + 1 - data) > max)
					break;
				cut = nl + 1;
			}
			if (cut == data && f->size == 0) /* one line longer than the limit */
				cut = (const char *)memchr(data, '\n', (size_t)(end - data)) + 1;
		}
		if (cut > data) {
			output_write_all(f->fd, data, (size_t)(cut - data));
			f->size += (unsigned long long)(cut - data);
			len -= (size_t)(cut - data);
			data = cut;
		}
		if (data < end) {
			unsigned long long before = f->size;
			output_file_rotate(f, p->cfg);
			if (f->size >= before) /* could not rotate (EBUSY, EACCES...): write on */
				max = 0;
		}
	}
}

static void output_to_journal(struct output_pipe *op, const char *line, size_t len)
{
	struct proc *p = op->proc;
	int rc = -ENOENT;

	if (output_journal_available())
		rc = sd_journal_send("MESSAGE=%.*s", (int)len, line, "SYSLOG_IDENTIFIER=%s", p->cfg->name,
				     "VIGIL_PROGRAM=%s", p->cfg->name, "VIGIL_INSTANCE=%d", p->instance,
				     "PRIORITY=%d", op->stream == OUTPUT_STDOUT_STREAM ? LOG_INFO : LOG_ERR, NULL);
	if (rc < 0)
		fprintf(stderr, "%s[%d]: %.*s\n", p->name, (int)op->pid, (int)len, line);
}

/* Complete lines (each ending in \n) from one read batch. */
static void output_deliver(struct output_pipe *op, const char *data, size_t len)
{
	struct proc *p = op->proc;
	const struct output_spec *spec = output_spec(p, op->stream);
	int ring_stream = p->output.merged ? OUTPUT_STDOUT_STREAM : op->stream;

	for (const char *line = data; line < data + len;) {
		const char *nl = memchr(line, '\n', (size_t)(data + len - line));
		size_t n = (size_t)(nl - line);
		output_ring_add(p, ring_stream, line, n);
		if (spec->kind == OUTPUT_JOURNAL)
			output_to_journal(op, line, n);
		line = nl + 1;
	}
	if (spec->kind == OUTPUT_FILE)
		output_to_file(p, op->stream, data, len);
	else if (spec->kind == OUTPUT_INHERIT)
		output_stdio_write(op->stream == OUTPUT_STDOUT_STREAM ? 1 : 2, data, len);
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
	if (op->proc)
		output_deliver(op, buf, take);
	evbuffer_drain(op->pending, take);
}

static void output_pipe_close(struct output_pipe *op)
{
	for (struct output_pipe **l = op->proc ? &op->proc->output.pipes : &detached_pipes; *l; l = &(*l)->next)
		if (*l == op) {
			*l = op->next;
			break;
		}
	event_free(op->ev);
	close(op->fd);
	evbuffer_free(op->pending);
	free(op);
}

static void output_readable(evutil_socket_t fd, short what, void *arg)
{
	struct output_pipe *op = arg;
	size_t budget = OUTPUT_READ_BUDGET;

	(void)what;
	while (budget > 0) {
		int n = evbuffer_read(op->pending, fd, 65536);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) { /* EOF: every writer (child and grandchildren) is gone */
			output_flush_lines(op, true);
			output_pipe_close(op);
			return;
		}
		budget -= (size_t)n < budget ? (size_t)n : budget;
		output_flush_lines(op, false);
	}
}

void output_proc_init(struct proc *p)
{
	char err[PARSE_ERR_MAX];

	p->output.merged = p->cfg->stderr_spec.kind == OUTPUT_STDOUT;
	for (int s = 0; s < OUTPUT_STREAMS; s++) {
		const struct output_spec *spec = output_spec(p, s);
		p->output.file[s].fd = -1;
		p->output.child_fd[s] = -1;
		p->output.read_fd[s] = -1;
		if (spec->kind == OUTPUT_FILE)
			p->output.file[s].path = expand_program_vars(spec->path, p->cfg->name, p->instance, err,
								     sizeof(err));
		p->output.ring[s] = output_ring_new();
	}
}

void output_proc_free(struct proc *p)
{
	/* a pipe outlives its process while grandchildren write to it */
	while (p->output.pipes) {
		struct output_pipe *op = p->output.pipes;
		p->output.pipes = op->next;
		op->proc = NULL;
		op->next = detached_pipes;
		detached_pipes = op;
	}
	for (int s = 0; s < OUTPUT_STREAMS; s++) {
		output_file_close(&p->output.file[s]);
		free(p->output.file[s].path);
		output_ring_free(p->output.ring[s]);
		if (p->output.child_fd[s] >= 0)
			close(p->output.child_fd[s]);
		if (p->output.read_fd[s] >= 0)
			close(p->output.read_fd[s]);
	}
}

int output_prepare(struct proc *p, char *err, size_t errlen)
{
	for (int s = 0; s < OUTPUT_STREAMS; s++) {
		const struct output_spec *spec = output_spec(p, s);
		int fds[2];

		p->output.child_fd[s] = -1;
		if (spec->kind == OUTPUT_NULL) {
			p->output.child_fd[s] = -2;
			continue;
		}
		if (spec->kind == OUTPUT_STDOUT)
			continue; /* the child dup2s its stdout onto 2 */
		if (spec->kind == OUTPUT_FILE && p->output.file[s].fd < 0 &&
		    output_file_open(&p->output.file[s], err, errlen) < 0)
			return -1;
		if (pipe2(fds, O_CLOEXEC) < 0)
			return snprintf(err, errlen, "pipe: %s", strerror(errno)), -1;
		p->output.child_fd[s] = fds[1];
		p->output.read_fd[s] = fds[0];
	}
	return 0;
}

void output_after_fork(struct proc *p, int pid)
{
	for (int s = 0; s < OUTPUT_STREAMS; s++) {
		int fd = p->output.read_fd[s];
		struct output_pipe *op;

		if (p->output.child_fd[s] >= 0)
			close(p->output.child_fd[s]);
		p->output.child_fd[s] = p->output.read_fd[s] = -1;
		if (fd < 0)
			continue;
		if (pid <= 0) {
			close(fd);
			continue;
		}
		op = calloc(1, sizeof(*op));
		if (!op)
			abort();
		op->proc = p;
		op->stream = s;
		op->fd = fd;
		op->pid = pid;
		op->pending = evbuffer_new();
		fcntl(fd, F_SETFL, O_NONBLOCK);
		op->ev = event_new(vigil.base, fd, EV_READ | EV_PERSIST, output_readable, op);
		if (!op->pending || !op->ev || event_add(op->ev, NULL) < 0)
			abort();
		op->next = p->output.pipes;
		p->output.pipes = op;
	}
}

void output_free_detached(void)
{
	while (detached_pipes)
		output_pipe_close(detached_pipes);
	output_stdio_free();
}

void output_reopen_files(void)
{
	char err[512];

	for (size_t i = 0; i < vigil.nprocs; i++) {
		struct proc *p = vigil.procs[i];
		for (int s = 0; s < OUTPUT_STREAMS; s++) {
			struct output_file *f = &p->output.file[s];
			if (f->fd < 0)
				continue;
			output_file_close(f);
			if (output_file_open(f, err, sizeof(err)) < 0)
				log_err("%s: %s", p->name, err);
		}
	}
	log_info("SIGUSR1: reopened log files");
}
