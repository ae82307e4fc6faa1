# bash completion for vigilctl(1): commands, their options, and the names
# of the programs the running vigild supervises (asked with
# `vigilctl status --names`; nothing is offered when vigild does not answer).
# Needs nothing from the bash-completion package beyond being sourced.

_vigilctl_commands="status start stop restart signal log events reload shutdown ping import-supervisord help"

# Program names from the vigild this command line talks to: the same
# vigilctl binary, with the -s SOCKET given before the command, if any.
# Bounded, so a vigild that does not answer cannot hang the shell.
_vigilctl_names() { # vigilctl [-s SOCKET]
	timeout 2 "$@" status --names 2>/dev/null
}

_vigilctl_options() { # command
	case $1 in
	status) echo "--json --names --watch --timeout" ;;
	start | stop | restart | shutdown) echo "--no-block --timeout --json" ;;
	signal) echo "--timeout" ;;
	log) echo "-f --follow -n --stderr --json --timeout" ;;
	events) echo "-f --follow --json --timeout" ;;
	reload) echo "--json --timeout" ;;
	ping) echo "--status --ready" ;;
	esac
	echo "--help"
}

_vigilctl() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local -a ctl=("${COMP_WORDS[0]}")
	local cmd="" i nargs=0 names
	COMPREPLY=()

	# The global options and the command; then count the arguments so far.
	for ((i = 1; i < COMP_CWORD; i++)); do
		local w=${COMP_WORDS[i]}
		if [[ -z $cmd ]]; then
			case $w in
			-s | --socket) ctl+=(-s "${COMP_WORDS[i + 1]}"); ((i++)) ;;
			-*) ;;
			*) cmd=$w ;;
			esac
			continue
		fi
		case $w in
		--timeout | -n | --status) ((i++)) ;;
		-*) ;;
		*) ((nargs++)) ;;
		esac
	done

	case $prev in
	-s | --socket)
		[[ -z $cmd ]] && mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return 0 ;;
	--timeout | -n | --status)
		[[ -n $cmd ]] && return 0 ;;
	esac

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "-s --socket -h --help --version" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$_vigilctl_commands" -- "$cur")
		fi
		return 0
	fi
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_vigilctl_options "$cmd")" -- "$cur")
		return 0
	fi

	case $cmd in
	start | stop | restart | log)
		names="all $(_vigilctl_names "${ctl[@]}")" ;;
	status | events)
		names=$(_vigilctl_names "${ctl[@]}") ;;
	signal)
		if ((nargs == 0)); then
			names="HUP INT QUIT USR1 USR2 TERM KILL CONT STOP WINCH ALRM"
		elif ((nargs == 1)); then
			names=$(_vigilctl_names "${ctl[@]}")
		fi ;;
	import-supervisord)
		((nargs == 0)) && mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return 0 ;;
	help)
		((nargs == 0)) && names=$_vigilctl_commands ;;
	esac
	[[ -n $names ]] && mapfile -t COMPREPLY < <(compgen -W "$names" -- "$cur")
	return 0
}

complete -F _vigilctl vigilctl
