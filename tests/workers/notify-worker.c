/* notify-worker: a supervised program that speaks the sd_notify protocol
 * the way the heartbeat tests need it, and writes what it saw and did to
 * an event file (-o) the tests poll. Times are CLOCK_MONOTONIC
 * microseconds, the clock Python's time.monotonic() reads.
 *
 *   -o FILE                  event lines: start, ping, ready, signal, ...
 *   --pidfile FILE           its pid, written at start
 *   --env-out FILE           NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID and
 *                            what sd_watchdog_enabled() says
 *   -p N, -i MS              ping (WATCHDOG=1) N times (-1: forever) every MS
 *   --ping-when-file F       no ping before F exists
 *   --silent-when-file F     no ping once F exists
 *   --ready-when-file F      READY=1 once F exists
 *   --ready-after MS         READY=1 after MS
 *   --trigger-when-file F    WATCHDOG=trigger once F exists (F is removed)
 *   --status TEXT            STATUS=TEXT at start
 *   --watchdog-usec N        WATCHDOG_USEC=N at start
 *   --grandchild             fork; the grandchild does all the notifying
 *   --junk                   send malformed and odd datagrams at start
 *   --survive SIG[,SIG]      these recorded signals do not end it
 *   --peer-pidfile F         on a signal, record whether that pid is alive
 *
 * HUP, INT, TERM, USR1, USR2 and ABRT are recorded as they arrive
 * ("signal sig=N ..."), then end the process by that signal unless
 * --survive lists them. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

static const char *out_path;
static const char *peer_pidfile;
static bool survive[65];

static long long mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Async-signal-safe building blocks: no stdio in signal handlers. */
struct line {
	char buf[512];
	size_t len;
};

static void line_str(struct line *l, const char *s)
{
	while (*s && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = *s++;
}

static void line_num(struct line *l, long long v)
{
	char digits[24];
	int n = 0;

	if (v < 0) {
		line_str(l, "-");
		v = -v;
	}
	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < (int)sizeof(digits));
	while (n && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = digits[--n];
}

/* One write(2) with O_APPEND: lines from several processes never mix. */
static void line_emit(struct line *l)
{
	int fd;

	if (!out_path)
		return;
	l->buf[l->len++] = '\n';
	fd = open(out_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, l->buf, l->len) < 0)
		(void)0;
	close(fd);
}

/* "event pid=N t_us=T" and the caller's extra fields. */
static void line_begin(struct line *l, const char *event)
{
	l->len = 0;
	line_str(l, event);
	line_str(l, " pid=");
	line_num(l, getpid());
	line_str(l, " t_us=");
	line_num(l, mono_us());
}

static void record(const char *event)
{
	struct line l;

	line_begin(&l, event);
	line_emit(&l);
}

/* alive / dead / none, from /proc: a zombie counts as dead. */
static const char *peer_state(long long *pid_out)
{
	char buf[128], path[64];
	struct line pl = { .len = 0 };
	long long pid = 0;
	ssize_t n;
	int fd;

	*pid_out = 0;
	if (!peer_pidfile)
		return "none";
	fd = open(peer_pidfile, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return "none";
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		pid = pid * 10 + (buf[i] - '0');
	if (pid <= 0)
		return "none";
	*pid_out = pid;
	line_str(&pl, "/proc/");
	line_num(&pl, pid);
	line_str(&pl, "/stat");
	memcpy(path, pl.buf, pl.len);
	path[pl.len] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return "dead";
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return "dead";
	buf[n] = '\0';
	/* the state letter follows the ") " that ends the command name */
	for (ssize_t i = n - 1; i > 0; i--)
		if (buf[i] == ')')
			return i + 2 < n && (buf[i + 2] == 'Z' || buf[i + 2] == 'X') ? "dead" : "alive";
	return "alive";
}

static void on_signal(int sig)
{
	int saved = errno;
	long long peer_pid;
	const char *peer = peer_state(&peer_pid);
	struct line l;

	line_begin(&l, "signal");
	line_str(&l, " sig=");
	line_num(&l, sig);
	line_str(&l, " peer=");
	line_str(&l, peer);
	line_str(&l, " peer_pid=");
	line_num(&l, peer_pid);
	line_emit(&l);
	if (!survive[sig]) {
		signal(sig, SIG_DFL);
		raise(sig);
	}
	errno = saved;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	/* a signal cuts the sleep short: fine, the loop just turns sooner */
	nanosleep(&ts, NULL);
}

static bool exists(const char *path)
{
	return path && access(path, F_OK) == 0;
}

static void write_text(const char *path, const char *text)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
	f = fopen(tmp, "we");
	if (!f)
		exit(91);
	fputs(text, f);
	if (fclose(f) != 0 || rename(tmp, path) < 0)
		exit(91);
}

static void write_env(const char *path)
{
	const char *ns = getenv("NOTIFY_SOCKET"), *wu = getenv("WATCHDOG_USEC"), *wp = getenv("WATCHDOG_PID");
	uint64_t usec = 0;
	int enabled = sd_watchdog_enabled(0, &usec);
	char text[8192];

	snprintf(text, sizeof(text),
		 "pid=%d\nNOTIFY_SOCKET=%s\nWATCHDOG_USEC=%s\nWATCHDOG_PID=%s\n"
		 "sd_watchdog_enabled=%d\nsd_watchdog_usec=%llu\n",
		 (int)getpid(), ns ? ns : "<unset>", wu ? wu : "<unset>", wp ? wp : "<unset>", enabled,
		 (unsigned long long)usec);
	write_text(path, text);
}

/* A datagram exactly as given (NULs and all) to $NOTIFY_SOCKET. */
static void send_raw(const void *buf, size_t len)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (!path || strlen(path) >= sizeof(sa.sun_path))
		return;
	strcpy(sa.sun_path, path);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, buf, len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		struct line l;
		line_begin(&l, "junk-send-failed");
		line_str(&l, " len=");
		line_num(&l, (long long)len);
		line_emit(&l);
	}
	close(fd);
}

static void send_str(const char *s)
{
	send_raw(s, strlen(s));
}

static void send_junk(void)
{
	static const char with_nul[] = "WATCHDOG=1\0READY=1";
	char *big = malloc(65000), mainpid[64];

	if (!big)
		exit(92);
	send_raw(with_nul, sizeof(with_nul) - 1);
	send_raw("", 0);
	send_str("\n\n\n");
	send_str("WATCHDOG_USEC=abc\nWATCHDOG=1");
	send_str("WATCHDOG_USEC=-5");
	send_str("WATCHDOG_USEC=99999999999999999999999999");
	send_str("MAINPID=0");
	send_str("MAINPID=notapid");
	send_str("MAINPID=1");
	snprintf(mainpid, sizeof(mainpid), "MAINPID=%d", (int)getpid());
	send_str(mainpid);
	send_str("=\n==\nWATCHDOG\nREADY\nREADY=\nSTATUS");
	send_str("FOO=bar\nBARRIER=1\nERRNO=5\nX_VIGIL_UNKNOWN=1");
	send_str("STATUS=ctl\x01\x02\x1b[31mred\x7f\tend");
	memset(big, 'A', 65000);
	memcpy(big, "STATUS=", 7);
	send_raw(big, 4096);  /* at the limit */
	send_raw(big, 4097);  /* one over: dropped */
	send_raw(big, 65000); /* far over */
	big[100] = '\xff'; /* inside the part of STATUS= that is kept */
	big[101] = '\xfe';
	send_raw(big, 4096); /* not UTF-8 */
	free(big);
	record("junk-sent");
}

static void notify(const char *msg)
{
	int rc = sd_notify(0, msg);

	if (rc <= 0) {
		struct line l;
		line_begin(&l, "notify-failed");
		line_str(&l, " rc=");
		line_num(&l, rc);
		line_emit(&l);
	}
}

static void parse_survive(const char *list)
{
	char *copy = strdup(list), *save = NULL;

	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int sig = atoi(t);
		if (sig > 0 && sig < 65)
			survive[sig] = true;
	}
	free(copy);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "pidfile", required_argument, NULL, 'P' },
		{ "env-out", required_argument, NULL, 'e' },
		{ "pings", required_argument, NULL, 'p' },
		{ "interval", required_argument, NULL, 'i' },
		{ "ping-when-file", required_argument, NULL, 1 },
		{ "silent-when-file", required_argument, NULL, 2 },
		{ "ready-when-file", required_argument, NULL, 3 },
		{ "ready-after", required_argument, NULL, 4 },
		{ "trigger-when-file", required_argument, NULL, 5 },
		{ "status", required_argument, NULL, 6 },
		{ "watchdog-usec", required_argument, NULL, 7 },
		{ "grandchild", no_argument, NULL, 8 },
		{ "junk", no_argument, NULL, 9 },
		{ "survive", required_argument, NULL, 10 },
		{ "peer-pidfile", required_argument, NULL, 11 },
		{ 0 },
	};
	const char *pidfile = NULL, *env_out = NULL, *ping_file = NULL, *silent_file = NULL, *ready_file = NULL;
	const char *trigger_file = NULL, *status = NULL, *watchdog_usec = NULL;
	long pings = -1, interval = 200, ready_after = -1, pinged = 0;
	bool grandchild = false, junk = false, ready_sent = false, triggered = false;
	const int handled[] = { SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGABRT };
	struct rlimit no_core = { 0, 0 };
	long long started;
	int c;

	while ((c = getopt_long(argc, argv, "o:p:i:", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out_path = optarg; break;
		case 'P': pidfile = optarg; break;
		case 'e': env_out = optarg; break;
		case 'p': pings = atol(optarg); break;
		case 'i': interval = atol(optarg); break;
		case 1: ping_file = optarg; break;
		case 2: silent_file = optarg; break;
		case 3: ready_file = optarg; break;
		case 4: ready_after = atol(optarg); break;
		case 5: trigger_file = optarg; break;
		case 6: status = optarg; break;
		case 7: watchdog_usec = optarg; break;
		case 8: grandchild = true; break;
		case 9: junk = true; break;
		case 10: parse_survive(optarg); break;
		case 11: peer_pidfile = optarg; break;
		default: fprintf(stderr, "notify-worker: bad arguments\n"); return 2;
		}
	}
	setrlimit(RLIMIT_CORE, &no_core); /* ABRT is an expected way to die here */
	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++) {
		struct sigaction sa = { .sa_handler = on_signal };
		sigemptyset(&sa.sa_mask);
		sigaction(handled[i], &sa, NULL);
	}
	record("start");
	if (pidfile) {
		char text[32];
		snprintf(text, sizeof(text), "%d\n", (int)getpid());
		write_text(pidfile, text);
	}
	if (env_out)
		write_env(env_out);
	if (grandchild) {
		pid_t pid = fork();
		if (pid < 0)
			return 3;
		if (pid > 0) {
			/* the main process stays silent; the grandchild speaks */
			for (;;)
				pause();
		}
		record("grandchild");
	}
	if (status) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "STATUS=%s", status);
		notify(msg);
	}
	if (watchdog_usec) {
		char msg[64];
		snprintf(msg, sizeof(msg), "WATCHDOG_USEC=%s", watchdog_usec);
		notify(msg);
		record("watchdog-usec-sent");
	}
	if (junk)
		send_junk();
	started = mono_us();
	for (;;) {
		if (!ready_sent && (exists(ready_file) || (ready_after >= 0 && mono_us() - started >= ready_after * 1000))) {
			record("ready"); /* before: what vigild does next may come first */
			notify("READY=1");
			ready_sent = true;
		}
		if (!triggered && exists(trigger_file)) {
			/* consumed, so the next incarnation does not trigger again */
			unlink(trigger_file);
			record("trigger"); /* first: the answer may be a fatal signal */
			notify("WATCHDOG=trigger");
			triggered = true;
		}
		if ((pings < 0 || pinged < pings) && (!ping_file || exists(ping_file)) && !exists(silent_file)) {
			record("ping"); /* before sending: its time is <= the deadline's start */
			notify("WATCHDOG=1");
			pinged++;
		}
		sleep_ms(interval);
	}
}
