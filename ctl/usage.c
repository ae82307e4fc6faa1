/* vigilctl's commands: what each takes (the table main() checks the
 * command line against) and its help text. */
#include <stdio.h>
#include <string.h>

#include "vigilctl.h"

#define WAIT_OPTIONS "  --no-block      return once vigild has the request, without waiting\n" \
		     "  --timeout SECS  how long to wait (default 60s; e.g. 500ms, 2m)\n" \
		     "  --json          print the processes touched, as `status --json` does\n"

const struct ctl_command ctl_commands[] = {
	{ "status", cmd_status, OPT_JSON | OPT_TIMEOUT | OPT_WATCH | OPT_NAMES, 0, -1, "status [NAME...] [--json | --names | --watch [INTERVAL]]",
	  "show processes (exit 3: a named one not RUNNING or unhealthy)",
	  "Shows every process, or those NAME names (a program, prog:N, or all).\n"
	  "Exit status 3 when a named process is not RUNNING, or is unhealthy\n"
	  "(a oneshot that completed counts as fine); 1 when a name is unknown.\n"
	  "  --json            the processes as JSON, {\"programs\": [...]}\n"
	  "  --names           one name a line: each process, and each program with\n"
	  "                    instances (for shell completion)\n"
	  "  --watch [INTERVAL] redraw the table every INTERVAL (default 2s) until\n"
	  "                    Ctrl-C; in colour on a terminal unless NO_COLOR is set\n" },
	{ "start", cmd_action, OPT_JSON | OPT_NO_BLOCK | OPT_TIMEOUT, 1, -1, "start NAME...|all [--no-block] [--timeout SECS] [--json]",
	  "start and wait until running",
	  "Starts the processes NAME names and waits until they run (a oneshot: until\n"
	  "it completed). Every name is checked first: an unknown one changes nothing.\n" WAIT_OPTIONS },
	{ "stop", cmd_action, OPT_JSON | OPT_NO_BLOCK | OPT_TIMEOUT, 1, -1, "stop NAME...|all [--no-block] [--timeout SECS] [--json]",
	  "stop (and what requires it) and wait",
	  "Stops the processes NAME names, and the processes that require them first,\n"
	  "and waits until they are down. An unknown name changes nothing.\n" WAIT_OPTIONS },
	{ "restart", cmd_action, OPT_JSON | OPT_NO_BLOCK | OPT_TIMEOUT, 1, -1,
	  "restart NAME...|all [--no-block] [--timeout SECS] [--json]", "restart and wait until running again",
	  "Stops and starts the processes NAME names (their dependents go down first\n"
	  "and come back once what they require holds), and waits until new processes\n"
	  "run. An unknown name changes nothing.\n" WAIT_OPTIONS },
	{ "signal", cmd_signal, OPT_TIMEOUT, 2, 2, "signal SIG NAME", "send a signal (e.g. HUP)",
	  "Sends signal SIG (HUP, SIGHUP or a number) to the processes NAME names.\n" },
	{ "log", cmd_log, OPT_JSON | OPT_TIMEOUT | OPT_FOLLOW | OPT_LINES | OPT_STDERR, 1, -1, "log NAME... [-f] [-n N] [--stderr] [--json]",
	  "recent output; several processes interleaved",
	  "Prints the last lines a process wrote. With several processes (all, a\n"
	  "program with instances, or several names) their lines are interleaved in\n"
	  "the order they came, each after its process's name: \"web:0 | ...\".\n"
	  "  -f, --follow  keep printing new lines until Ctrl-C\n"
	  "  -n N          how many lines to show first (default 100)\n"
	  "  --stderr      the stderr stream instead of stdout\n"
	  "  --json        one JSON object a line: {\"name\", \"stream\", \"line\"}\n" },
	{ "events", cmd_events, OPT_JSON | OPT_TIMEOUT | OPT_FOLLOW, 0, -1, "events [NAME...] [-f] [--json]",
	  "recent state changes, health and heartbeat losses, reloads",
	  "Prints the events vigild keeps (the last 1000), one line each in local\n"
	  "time: the process, its old and new state and what ended it. NAME (a\n"
	  "program, prog:N or all) keeps those processes' events. A line \"events\n"
	  "lost\" says this reader missed some (it fell behind).\n"
	  "  -f, --follow  keep printing new events until Ctrl-C\n"
	  "  --json        vigild's JSON lines, {\"seq\", \"time\", \"name\", \"event\", ...}\n" },
	{ "reload", cmd_reload, OPT_JSON | OPT_TIMEOUT, 0, 0, "reload [--json]", "re-read the configuration",
	  "Makes vigild re-read its configuration and apply the difference: programs\n"
	  "whose section did not change keep running. Prints what changed\n"
	  "(\"2 changed, 1 added: web, api; db\"); on an error nothing changes.\n"
	  "  --json  vigild's reply: {\"added\", \"removed\", \"changed\", \"unchanged\"}\n" },
	{ "shutdown", cmd_shutdown, OPT_JSON | OPT_NO_BLOCK | OPT_TIMEOUT, 0, 0, "shutdown [--no-block] [--timeout SECS] [--json]",
	  "stop everything and end vigild",
	  "Stops every process in order and ends vigild; waits until it is gone.\n"
	  "  --no-block      do not wait\n"
	  "  --timeout SECS  how long to wait (default 60s)\n"
	  "  --json          {\"status\": \"stopped\"} (\"shutting down\" with --no-block)\n" },
	{ "ping", cmd_ping, OPT_READY | OPT_STATUS, 0, 0, "ping [--ready] [--status TEXT]",
	  "heartbeat from a supervised script",
	  "Sends WATCHDOG=1 to $NOTIFY_SOCKET, from a script vigild supervises.\n"
	  "  --ready        also READY=1 (a notify program has started)\n"
	  "  --status TEXT  also STATUS=TEXT, shown by `vigilctl status`\n" },
	{ "import-supervisord", cmd_import, 0, 0, 1, "import-supervisord FILE", "convert a supervisord.conf to vigil.conf",
	  "Reads the supervisord config FILE and the files its [include] names, and\n"
	  "writes the same programs as a vigil.conf on standard output:\n"
	  "  vigilctl import-supervisord /etc/supervisor/supervisord.conf > vigil.conf\n"
	  "Options without a vigil equivalent become \"; not converted:\" comments and a\n"
	  "warning on standard error naming their file and line. Needs no vigild.\n"
	  "Exit status 0 when written (even with warnings), 1 when a file cannot be read.\n" },
	{ "help", cmd_help, 0, 0, 1, "help [COMMAND]", "this help, or a command's", "Shows the help of COMMAND, or the list of commands.\n" },
	{ NULL, NULL, 0, 0, 0, NULL, NULL, NULL },
};

const struct ctl_command *ctl_command_find(const char *name)
{
	for (const struct ctl_command *cmd = ctl_commands; cmd->name; cmd++)
		if (strcmp(cmd->name, name) == 0)
			return cmd;
	return NULL;
}

void ctl_usage(FILE *out)
{
	fprintf(out, "usage: vigilctl [-s SOCKET] COMMAND [ARGS]\n       vigilctl --version | --help\n\nCommands:\n");
	for (const struct ctl_command *cmd = ctl_commands; cmd->name; cmd++)
		fprintf(out, "  %-9s %s\n", cmd->name, cmd->summary);
	fprintf(out, "\nNAME is a program, prog:N (one instance of a program with numprocs > 1) or all.\n"
		     "The socket is -s SOCKET, else $VIGIL_SOCKET, else " DEFAULT_SOCKET ".\n"
		     "Exit status: 0 ok, 1 failed, 2 usage error, 3 status found a named process not\n"
		     "RUNNING or unhealthy, 4 cannot reach vigild (not running, or permission denied).\n"
		     "--timeout SECS is taken by every command that talks to vigild; start, stop,\n"
		     "restart and shutdown wait that long at most (default 60s).\n"
		     "'vigilctl help COMMAND' or 'vigilctl COMMAND --help' tells more.\n");
}

void ctl_command_help(FILE *out, const struct ctl_command *cmd)
{
	fprintf(out, "usage: vigilctl [-s SOCKET] %s\n\n%s", cmd->synopsis, cmd->details);
}

int cmd_help(struct ctl *c)
{
	const struct ctl_command *cmd;

	if (c->nargs == 0) {
		ctl_usage(stdout);
		return EXIT_OK;
	}
	if (!(cmd = ctl_command_find(c->args[0]))) {
		fprintf(stderr, "vigilctl: help: no command \"%s\" (see 'vigilctl help')\n", c->args[0]);
		return EXIT_USAGE;
	}
	ctl_command_help(stdout, cmd);
	return EXIT_OK;
}
