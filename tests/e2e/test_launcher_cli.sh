#!/bin/sh
# test_launcher_cli.sh: the command line and the supervision of
# scripts/azure-logs, with fake role programs (no real roles, no network).
#
#   sh tests/e2e/test_launcher_cli.sh
#   LAUNCHER_SHELL='bash --posix' dash tests/e2e/test_launcher_cli.sh
#
# LAUNCHER_SHELL: the shell that runs the launcher (default: its #! line).
# Output is TAP; the first failure stops the test with a non-zero status.
# Linux only: the fakes read /proc/PID/fd and /proc/PID/stat, and leftover
# processes are found through /proc/PID/environ.
#
# Run as root (as CI runs it), the launcher would run each role as its own
# user: most checks give it --no-privsep ($privsep_off) and drop the
# warning it logs; the section "Privileges" checks privilege separation
# itself, with users it creates (azure-logs-users) and removes, and runs
# the launcher as nobody (setpriv) for the defaults of a run by another user.
#
# Each fake role records its argv (NUL-separated), where fds 0-4, 7 and 9
# point, what it reads on fd 7 (the authentication file), its process group
# and its pid in $FAKE_LOG, then behaves as its
# FAKE_GRAPH / FAKE_STATEKEEPER / FAKE_FORWARDER variable says:
#   pipe      pass one line around the ring graph -> statekeeper ->
#             forwarder -> statekeeper -> graph, then exit 0
#   exit:N    exit N
#   block     sleep "forever" (exec sleep, same pid)
#   stubborn  the same, ignoring SIGTERM
#   suicide   kill itself with SIGKILL
# With FAKE_SYNC set, a fake acts only once all three have recorded.

case $0 in
*/*) test_dir=${0%/*} ;;
*) test_dir=. ;;
esac
top=$(cd "$test_dir/../.." && pwd -P) || exit 1
launcher=$top/scripts/azure-logs

work=$(mktemp -d "${TMPDIR:-/tmp}/test_launcher.XXXXXX") || exit 1
work=$(cd "$work" && pwd -P) || exit 1
# Spaces in every path the launcher handles.
base="$work/w s"
bin="$base/bin"
log="$base/log"
tmp="$base/tmp dir"
home="$base/wazuh home"
auth="$base/auth file"
mkdir -p "$bin" "$log" "$tmp" "$home/wodles/azure" "$base/empty" || exit 1
printf 'application_id = fake\napplication_key = not-a-secret\n' >"$auth"
chmod 0600 "$auth"

# Users this test created (removed at the end), and --no-privsep as root.
created_users=
privsep_off=
[ "$(id -u)" -ne 0 ] || privsep_off=--no-privsep

cleanup() {
	for _u in $created_users; do
		userdel "$_u" 2>/dev/null
	done
	for _f in "$log"/*.pid; do
		[ -f "$_f" ] && kill -KILL "$(cat "$_f")" 2>/dev/null
	done
	[ -z "${lpid:-}" ] || kill -KILL "$lpid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

cat >"$bin/azure-graph" <<'EOF'
#!/bin/sh
# Fake role of test_launcher_cli.sh (see there).
name=${0##*/}
name=${name#azure-}
log=${FAKE_LOG:?}
case $name in
graph | la | storage) mode=${FAKE_GRAPH:-pipe} ;;
statekeeper) mode=${FAKE_STATEKEEPER:-pipe} ;;
*) mode=${FAKE_FORWARDER:-pipe} ;;
esac
# Stubborn from the start, so that no SIGTERM can come first.
[ "$mode" != stubborn ] || trap '' TERM
printf '%s\0' "$@" >"$log/$name.argv"
fds=
for fd in 0 1 2 3 4 7 9; do
	if [ -L "/proc/$$/fd/$fd" ]; then
		fds="$fds$fd $(readlink "/proc/$$/fd/$fd")
"
	fi
done
printf '%s' "$fds" >"$log/$name.fds"
# The signals ignored by the role and by its parent (the wrapper).
sed -n 's/^SigIgn:[[:space:]]*//p' "/proc/$$/status" "/proc/$PPID/status" \
    >"$log/$name.sigign"
[ ! -L "/proc/$$/fd/7" ] || cat <&7 >"$log/$name.fd7"
if [ -L "/proc/$$/fd/0" ]; then
	dir=$(readlink "/proc/$$/fd/0")
	ls -ld "${dir%/*}" | cut -c 1-10 >"$log/$name.mode"
fi
IFS= read -r stat <"/proc/$$/stat"
set -- ${stat##*) }
printf '%s\n' "$3" >"$log/$name.pgid"
printf '%s\n' "$$" >"$log/$name.pid.tmp"
mv -f "$log/$name.pid.tmp" "$log/$name.pid"
if [ -n "${FAKE_SYNC:-}" ]; then
	i=0
	while [ "$i" -lt 200 ]; do
		[ -f "$log/graph.pid" ] && [ -f "$log/statekeeper.pid" ] &&
		    [ -f "$log/forwarder.pid" ] && break
		sleep 0.05
		i=$((i + 1))
	done
fi
case $mode in
pipe)
	case $name in
	graph | la | storage)
		printf 'frame\n'
		IFS= read -r reply
		printf '%s\n' "$reply" >"$log/$name.reply"
		;;
	statekeeper)
		IFS= read -r frame
		printf 'fwd:%s\n' "$frame" >&3
		IFS= read -r ack <&4
		printf 'reply:%s\n' "$ack"
		;;
	forwarder)
		IFS= read -r event
		printf 'ack:%s\n' "$event" >&3
		printf 'out:%s\n' "$event"
		;;
	esac
	exit 0
	;;
exit:*) exit "${mode#exit:}" ;;
block) exec sleep 3600 ;;
stubborn) exec sleep 3600 ;;
suicide) kill -KILL $$ ;;
esac
exit 99
EOF
chmod 0755 "$bin/azure-graph"
cp "$bin/azure-graph" "$bin/azure-la"
cp "$bin/azure-graph" "$bin/azure-storage"
cp "$bin/azure-graph" "$bin/azure-statekeeper"
cp "$bin/azure-graph" "$bin/azure-forwarder"
cp "$bin/azure-graph" "$base/empty/azure-statekeeper"

AZURE_LOGS_BINDIR=$bin
FAKE_LOG=$log
TMPDIR=$tmp
export AZURE_LOGS_BINDIR FAKE_LOG TMPDIR
unset FAKE_SYNC

nl='
'
n=0

# --- TAP -----------------------------------------------------------------

pass() {
	n=$((n + 1))
	printf 'ok %d - %s\n' "$n" "$1"
}

fail() {
	n=$((n + 1))
	printf 'not ok %d - %s\n' "$n" "$1"
	printf '# exit status: %s\n' "${rc:-}"
	for _f in out err; do
		[ -s "$work/$_f" ] || continue
		printf '# std%s:\n' "$_f"
		sed 's/^/#   /' "$work/$_f"
	done
	exit 1
}

# check DESCRIPTION COMMAND...: one TAP line for COMMAND's success.
check() {
	_desc=$1
	shift
	if "$@"; then
		pass "$_desc"
	else
		fail "$_desc"
	fi
}

# --- Running the launcher ------------------------------------------------

modes() {
	FAKE_GRAPH=$1
	FAKE_STATEKEEPER=$2
	FAKE_FORWARDER=$3
	export FAKE_GRAPH FAKE_STATEKEEPER FAKE_FORWARDER
}

# launch ARGS...: start the launcher in the background (stdout $work/out,
# stderr $work/err, fds 3, 4 and 7 open so that we see them closed in the
# roles; as root, with $privsep_off first).  Every process it starts carries
# AZURE_LOGS_TEST_RUN=$mark.  With $run_as set (root only), the launcher
# runs as that user, who is given $log.
launch() {
	rm -rf "$log" "$work/rc" "$work/lpid"
	mkdir "$log"
	_as=
	if [ -n "${run_as:-}" ]; then
		chown "$run_as" "$log"
		_as="setpriv --reuid=$run_as --regid=$(id -g "$run_as") --clear-groups"
	fi
	mark="$work:$n"
	(
		# shellcheck disable=SC2086 # LAUNCHER_SHELL may be "bash --posix"
		env AZURE_LOGS_TEST_RUN="$mark" $_as ${LAUNCHER_SHELL:-} "$launcher" \
		    $privsep_off "$@" \
		    >"$work/out" 2>"$work/err" 3>/dev/null 4</dev/null 7</dev/null &
		echo "$!" >"$work/lpid"
		wait "$!"
		echo "$?" >"$work/rc"
	) &
	runner=$!
	until [ -s "$work/lpid" ]; do
		sleep 0.02
	done
	lpid=$(cat "$work/lpid")
}

# finish [SECONDS]: wait for the launcher (at most SECONDS, default 20);
# sets rc ("hung" when the watchdog had to kill it).  The warning of
# --no-privsep is moved from $work/err to $work/err.privsep.
finish() {
	_finish "$@"
	[ -f "$work/err" ] || return 0
	grep -F ' azure: WARNING: --no-privsep: ' "$work/err" >"$work/err.privsep"
	grep -vF ' azure: WARNING: --no-privsep: ' "$work/err" >"$work/err.rest"
	mv -f "$work/err.rest" "$work/err"
}

_finish() {
	_left=$((${1:-20} * 20))
	while ! [ -s "$work/rc" ]; do
		if [ "$_left" -le 0 ]; then
			kill -KILL "$lpid" 2>/dev/null
			wait "$runner"
			rc=hung
			lpid=
			return
		fi
		_left=$((_left - 1))
		sleep 0.05
	done
	wait "$runner"
	rc=$(cat "$work/rc")
	lpid=
}

run() {
	launch "$@"
	finish 20
}

# run_graph ARGS...: a Graph run with the usual required options.
run_graph() {
	run --graph --graph_auth_path "$auth" \
	    --graph_tenant_domain example.onmicrosoft.com --wazuh-home "$home" "$@"
}

# --- Predicates ----------------------------------------------------------

status_is() {
	[ "$rc" = "$1" ]
}

out_empty() {
	! [ -s "$work/out" ]
}

err_empty() {
	! [ -s "$work/err" ]
}

# usage_is MESSAGE: exit status 2 and argparse's "azure-logs: error:" line
# as the last line of stderr, nothing on stdout, no role started.
usage_is() {
	[ "$rc" = 2 ] && out_empty && no_role_started &&
	    [ "$(tail -n 1 "$work/err")" = "azure-logs: error: $1" ]
}

# logged_only LEVEL MESSAGE: stderr is exactly one line in Wazuh's shape.
logged_only() {
	[ "$(wc -l <"$work/err")" -eq 1 ] && logged "$1" "$2"
}

# logged LEVEL MESSAGE: some line of stderr is "DATE TIME azure: LEVEL: MESSAGE".
logged() {
	sed -n 's|^[0-9]\{4\}/[0-9][0-9]/[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9] azure: ||p' \
	    "$work/err" | grep -qxF "$1: $2"
}

# error_is MESSAGE: exit status 1, only "... azure: ERROR: MESSAGE", no role.
error_is() {
	[ "$rc" = 1 ] && out_empty && no_role_started && logged_only ERROR "$1"
}

# not_logged LEVEL: no line of that level on stderr.
not_logged() {
	! grep -q " azure: $1: " "$work/err"
}

no_role_started() {
	! [ -e "$log/graph.argv" ] && ! [ -e "$log/statekeeper.argv" ] &&
	    ! [ -e "$log/forwarder.argv" ]
}

# argv_is ROLE ARG...: ROLE received exactly these arguments, byte for byte.
argv_is() {
	_role=$1
	shift
	printf '%s\0' "$@" >"$work/expected"
	cmp -s "$work/expected" "$log/$_role.argv"
}

# fds_are ROLE "FD TARGET"...: exactly these fds among 0-4 and 9 are open.
fds_are() {
	_role=$1
	shift
	: >"$work/expected"
	for _l in "$@"; do
		printf '%s\n' "$_l" >>"$work/expected"
	done
	cmp -s "$work/expected" "$log/$_role.fds"
}

# rundir: the launcher's private directory, seen through graph's stdin.
rundir() {
	_t=$(sed -n 's/^0 //p' "$log/graph.fds")
	printf '%s\n' "${_t%/*}"
}

tmp_is_empty() {
	[ -z "$(ls -A "$tmp")" ]
}

# leftovers: pids of live processes started by the last run (by the
# environment they inherited), after giving them a second to go.
leftovers() {
	_i=0
	while :; do
		_p=$(grep -lzxF "AZURE_LOGS_TEST_RUN=$mark" /proc/[0-9]*/environ \
		    2>/dev/null | sed 's|^/proc/||; s|/environ$||')
		if [ -z "$_p" ] || [ "$_i" -ge 20 ]; then
			break
		fi
		_i=$((_i + 1))
		sleep 0.05
	done
	printf '%s' "$_p"
}

nothing_left() {
	_left=$(leftovers)
	for _p in $_left; do
		printf '# left: pid %s: %s\n' "$_p" \
		    "$(tr '\0' ' ' <"/proc/$_p/cmdline" 2>/dev/null)"
	done
	tmp_is_empty || printf '# left in TMPDIR: %s\n' "$(ls -A "$tmp")"
	[ -z "$_left" ] && tmp_is_empty
}

fakes_gone() {
	for _r in "$@"; do
		[ -f "$log/$_r.pid" ] || return 1
		! kill -0 "$(cat "$log/$_r.pid")" 2>/dev/null || return 1
	done
}

all_recorded() {
	[ -f "$log/graph.pid" ] && [ -f "$log/statekeeper.pid" ] &&
	    [ -f "$log/forwarder.pid" ]
}

wait_recorded() {
	_i=0
	until all_recorded; do
		_i=$((_i + 1))
		[ "$_i" -lt 200 ] || return 1
		sleep 0.05
	done
}

stdout_is() {
	[ "$(cat "$work/out")" = "$1" ]
}

stdout_contains_all() {
	for _s in "$@"; do
		grep -qF -e "$_s" "$work/out" || return 1
	done
}

# --- --help, --version ---------------------------------------------------

modes pipe pipe pipe
run --help
check "--help exits 0 and writes only on stdout" status_is 0
check "--help names every option with its default, the exit statuses and an example" \
    stdout_contains_all --graph --graph_auth_path --graph_tenant_domain \
    --graph_query --graph_tag --graph_time_offset --reparse --debug \
    --log_analytics --storage --graph_key --wazuh-home --db --last-dates \
    --socket --output --login-url --graph-url --version AZURE_LOGS_BINDIR \
    /var/ossec WAZUH_HOME/wodles/azure/azure.db last_dates.json \
    WAZUH_HOME/queue/sockets/queue https://login.microsoftonline.com \
    https://graph.microsoft.com 'EXIT STATUS' EXAMPLE
check "--help: nothing on stderr" err_empty
check "--help names the options of privilege separation, their defaults and PRIVILEGES" \
    stdout_contains_all --fetcher-user --statekeeper-user --forwarder-user \
    --no-privsep --no-sandbox azure-logs-fetch azure-logs-state 'wazuh (ossec' \
    PRIVILEGES WAZUH_HOME/wodles/azure/state/azure.db azure-logs-users

run -h --graph
check "-h is --help" stdout_contains_all 'EXIT STATUS'

version=$(sed -n 's/^AZURE_LOGS_VERSION=//p' "$launcher")
run --version
check "--version prints 'azure-logs $version'" stdout_is "azure-logs $version"
check "--version exits 0" status_is 0

# --- argparse errors (status 2) ------------------------------------------

run
check "no service: one of the arguments is required (2)" \
    usage_is 'one of the arguments --log_analytics --graph --storage is required'
run --reparse -d 1
check "options but no service: still required (2)" \
    usage_is 'one of the arguments --log_analytics --graph --storage is required'
run --graph --storage
check "--graph --storage: not allowed (2)" \
    usage_is 'argument --storage: not allowed with argument --graph'
run --storage --graph
check "--storage --graph: not allowed, named in argparse's order (2)" \
    usage_is 'argument --graph: not allowed with argument --storage'
run --log_analytics --graph
check "--log_analytics --graph: not allowed (2)" \
    usage_is 'argument --graph: not allowed with argument --log_analytics'
run_graph --graph_query q --bogus
check "unknown option: unrecognized arguments (2)" \
    usage_is 'unrecognized arguments: --bogus'
run_graph --graph_query q --bogus=1 stray
check "unknown option and stray word: all listed (2)" \
    usage_is 'unrecognized arguments: --bogus=1 stray'
run --bogus
check "unknown option without a service: the service is reported first (2)" \
    usage_is 'one of the arguments --log_analytics --graph --storage is required'
run_graph --graph_query q -d x
check "-d x: invalid int value (2)" \
    usage_is "argument -d/--debug: invalid int value: 'x'"
run_graph --graph_query q --debug=1.5
check "--debug=1.5: invalid int value (2)" \
    usage_is "argument -d/--debug: invalid int value: '1.5'"
run_graph --graph_query
check "--graph_query without a value: expected one argument (2)" \
    usage_is 'argument --graph_query: expected one argument'
run_graph --graph_query --reparse
check "--graph_query followed by an option: expected one argument (2)" \
    usage_is 'argument --graph_query: expected one argument'
run_graph --graph_query q --reparse=yes
check "--reparse=yes: ignored explicit argument (2)" \
    usage_is "argument --reparse: ignored explicit argument 'yes'"
run_graph --graph_query q --socket /s --output -
check "--socket with --output: not allowed (2)" \
    usage_is 'argument --output: not allowed with argument --socket'
run_graph --graph_query q --graph_t x
check "ambiguous abbreviation (2)" \
    usage_is 'ambiguous option: --graph_t could match --graph_tenant_domain, --graph_tag, --graph_time_offset'
run_graph --graph_query q --no x
check "--no: ambiguous between --no-privsep and --no-sandbox (2)" \
    usage_is 'ambiguous option: --no could match --no-privsep, --no-sandbox'
run_graph --graph_query q --no-sandbox=yes
check "--no-sandbox=yes: ignored explicit argument (2)" \
    usage_is "argument --no-sandbox: ignored explicit argument 'yes'"
run_graph --graph_query q --fetcher-user
check "--fetcher-user without a value: expected one argument (2)" \
    usage_is 'argument --fetcher-user: expected one argument'
for bad in '' 1000 -x 'a b' 'a:b'; do
	run_graph --graph_query q "--statekeeper-user=$bad"
	check "--statekeeper-user '$bad' is refused (2)" usage_is \
	    "argument --statekeeper-user: invalid value: '$bad' (a user name)"
done

# --- run-time refusals (status 1, Wazuh-shaped ERROR line) ----------------

run --log_analytics --la_tenant_domain d --la_query q --workspace w \
    --wazuh-home "$home"
check "--log_analytics without auth file: missing authentication (1)" \
    error_is 'Log Analytics: No parameters have been provided for authentication.'
run --log_analytics --la_auth_path "$auth" --la_tenant_domain d \
    --workspace w --wazuh-home "$home"
check "--log_analytics without query (1)" \
    error_is 'Log Analytics: No query has been provided.'
run --log_analytics --la_auth_path "$auth" --la_tenant_domain d \
    --la_query q --wazuh-home "$home"
check "--log_analytics without workspace (1)" \
    error_is 'Log Analytics: No workspace has been provided.'
run --log_analytics --la_auth_path "$auth" --la_tenant_domain d \
    --la_query q --workspace w --la-wait x --wazuh-home "$home"
check "--la-wait must be seconds (2)" \
    usage_is "argument --la-wait: invalid value: 'x' (seconds, 0 to 600)"
run --storage --container '"c"' --wazuh-home "$home"
check "--storage without auth file: missing authentication (1)" \
    error_is 'Storage: No parameters have been provided for authentication.'
run --storage --storage_auth_path "$auth" --wazuh-home "$home"
check "--storage without container (1)" \
    error_is 'Storage: No container has been provided.'
run --storage --storage_auth_path "$auth" --container '"c"' \
    --blobs '"*.log"' --storage_tag 't t' --json_file --json_inline \
    --storage_time_offset 1h -p x --prefix=a/b --reparse \
    --blob-url http://127.0.0.1:9/acct --wazuh-home "$home"
check "--storage: Wazuh's cleaning, every option reaches azure-storage" \
    argv_is storage --container c --auth-fd 7 --auth-file "$auth" --blobs .log \
    --tag 't t' --format json_file --offset 1h --prefix a/b --reparse \
    --blob-url http://127.0.0.1:9/acct --timeout 1h -d 0

run --graph --wazuh-home "$home"
check "--graph alone: missing authentication (1)" \
    error_is 'Graph: No parameters have been provided for authentication.'
run --graph --graph_auth_path "$auth" --graph_query q --wazuh-home "$home"
check "no --graph_tenant_domain: missing authentication (1)" \
    error_is 'Graph: No parameters have been provided for authentication.'
run --graph --graph_tenant_domain d --graph_query q --wazuh-home "$home"
check "no --graph_auth_path: missing authentication (1)" \
    error_is 'Graph: No parameters have been provided for authentication.'
run --graph --graph_auth_path= --graph_tenant_domain d --graph_query q \
    --wazuh-home "$home"
check "empty --graph_auth_path=: missing authentication (1)" \
    error_is 'Graph: No parameters have been provided for authentication.'

run_graph
check "missing --graph_query (1)" error_is 'Graph: No query has been provided.'
run_graph --graph_query "''"
check "--graph_query '' (empty once cleaned) (1)" \
    error_is 'Graph: No query has been provided.'

secret_hidden() {
	! grep -q SECRET "$work/out" "$work/err"
}

refusal() {
	printf '%s and %s put secrets on the command line; they are not supported: use %s with an authentication file (see https://documentation.wazuh.com/current/azure/activity-services/prerequisites/credentials.html)' "$1" "$2" "$3"
}

run_graph --graph_query q --graph_id ID-SECRET --graph_key KEY-SECRET
check "--graph_id/--graph_key refused (1)" \
    error_is "$(refusal --graph_id --graph_key --graph_auth_path)"
check "--graph_id/--graph_key: values never echoed" secret_hidden
run_graph --graph_query q --graph_key=KEY-SECRET
check "--graph_key=VALUE refused without echo" error_is \
    "$(refusal --graph_id --graph_key --graph_auth_path)"
check "--graph_key=VALUE: value never echoed" secret_hidden
run_graph --graph_query q --bogus --graph_k -SECRET-LOOKS-LIKE-OPTION
check "abbreviated --graph_k with a '-' value after an unknown option: refused" \
    error_is "$(refusal --graph_id --graph_key --graph_auth_path)"
check "... and nothing echoed" secret_hidden
run --log_analytics --la_id ID-SECRET --la_key=KEY-SECRET
check "--la_id/--la_key refused (1)" \
    error_is "$(refusal --la_id --la_key --la_auth_path)"
check "--la_id/--la_key: values never echoed" secret_hidden
run --storage --account_name NAME-SECRET --account_key KEY-SECRET
check "--account_name/--account_key refused (1)" \
    error_is "$(refusal --account_name --account_key --storage_auth_path)"
check "--account_name/--account_key: values never echoed" secret_hidden
run --help --graph_key KEY-SECRET
check "a deprecated option wins over --help" \
    error_is "$(refusal --graph_id --graph_key --graph_auth_path)"

run_graph --graph_query q --db "$base/no such dir/azure.db"
check "database directory missing (1)" error_is \
    "The directory of the database ($base/no such dir) does not exist: create it or choose another --db."

if ! [ -d /var/ossec/wodles/azure ]; then
	run --graph --graph_auth_path "$auth" --graph_tenant_domain d --graph_query q
	check "default --wazuh-home is /var/ossec" error_is \
	    'The directory of the database (/var/ossec/wodles/azure) does not exist: create it or choose another --db.'
fi

AZURE_LOGS_BINDIR="$base/empty"
run_graph --graph_query q
check "AZURE_LOGS_BINDIR without azure-graph (1)" error_is \
    "Cannot find the program azure-graph in $base/empty (set AZURE_LOGS_BINDIR to the directory of the azure-* programs)."
AZURE_LOGS_BINDIR=$bin
check "no temporary directory left by the refusals" tmp_is_empty

# --- Cleaning of the Graph query -----------------------------------------

# query_arrives RAW EXPECTED: --graph_query RAW reaches azure-graph as
# EXPECTED, byte for byte, and the run succeeds.
query_arrives() {
	run_graph --graph_query "$1"
	[ "$rc" = 0 ] && argv_is graph --tenant example.onmicrosoft.com \
	    --query "$2" --auth-fd 7 --auth-file "$auth" --timeout 1h -d 0
}

check "'auditLogs/signIns' -> auditLogs/signIns" \
    query_arrives "'auditLogs/signIns'" 'auditLogs/signIns'
check "'a b  c' keeps its spaces" query_arrives "'a b  c'" 'a b  c'
# shellcheck disable=SC2016 # literal $ on purpose
check "'x\\\$filter' -> x\$filter" query_arrives "'x\\\$filter'" 'x$filter'
# shellcheck disable=SC2016 # literal $ on purpose
check "every \\\$ becomes \$, \\\\\$ -> \\\$" \
    query_arrives "'\\\$a=\\\$b&\\\\\$c'" '$a=$b&\$c'
check "'it''s' loses only the outer quotes" query_arrives "'it''s'" "it''s"
check "a query with *, a newline, | and ! arrives intact" \
    query_arrives "'a * b${nl}|!c/*'" "a * b${nl}|!c/*"
check "leading and trailing newlines are kept" \
    query_arrives "'${nl}q${nl}'" "${nl}q${nl}"
check "unquoted query unchanged" query_arrives 'auditLogs/directoryAudits' \
    'auditLogs/directoryAudits'
check "only one quote stripped on each side" query_arrives "''x''" "'x'"
check "a lone leading quote is stripped" query_arrives "'x" 'x'

run_graph "--graph_query='auditLogs/signIns?\$top=1'"
# shellcheck disable=SC2016 # literal $ on purpose
check "--graph_query=VALUE form" \
    argv_is graph --tenant example.onmicrosoft.com \
    --query 'auditLogs/signIns?$top=1' --auth-fd 7 --auth-file "$auth" --timeout 1h -d 0

# --- Log Analytics: cleaning and the fetcher's command line --------------

# la_query_arrives RAW EXPECTED: --la_query RAW reaches azure-la as
# EXPECTED (Wazuh's cleaning: every \! becomes !), byte for byte.
la_query_arrives() {
	run --log_analytics --la_auth_path "$auth" --la_tenant_domain d \
	    --la_query "$1" --workspace w --wazuh-home "$home"
	[ "$rc" = 0 ] && argv_is la --tenant d --workspace w --query "$2" \
	    --auth-fd 7 --auth-file "$auth" --timeout 1h -d 0
}

check "--la_query: \\! becomes !" la_query_arrives 'T | where A \!= 1' \
    'T | where A != 1'
check "--la_query keeps quotes, pipes, newlines and \$" la_query_arrives \
    "\"T\" | where B == 'x'${nl}| extend c = \"\$\"" \
    "\"T\" | where B == 'x'${nl}| extend c = \"\$\""

run --log_analytics --la_auth_path "$auth" --la_tenant_domain d \
    --la_query q --workspace 'w 1' --la_tag 't t' --la_time_offset 2h \
    --reparse --la-url http://127.0.0.1:9 --la-wait 30 \
    --login-url http://127.0.0.1:8 --wazuh-home "$home"
check "--log_analytics: every option reaches azure-la" \
    argv_is la --tenant d --workspace 'w 1' --query q --auth-fd 7 --auth-file "$auth" \
    --tag 't t' --offset 2h --reparse --login-url http://127.0.0.1:8 \
    --la-url http://127.0.0.1:9 --wait 30 --timeout 1h -d 0

run --log_analytics --la_auth_path "$auth" --la_tenant_domain d \
    --la_query q --workspace w --overlap 30m --lag 0 --timeout 90 \
    --la-checkpoint ingestion --wazuh-home "$home"
check "--overlap, --lag, --timeout and --la-checkpoint reach azure-la" \
    argv_is la --tenant d --workspace w --query q --auth-fd 7 --auth-file "$auth" \
    --la-checkpoint ingestion --overlap 30m --lag 0 --timeout 90 -d 0
for bad in 5x 1.5h m '' 10mm; do
	run_graph --graph_query q --overlap "$bad"
	check "--overlap '$bad' is refused (2)" usage_is \
	    "argument --overlap: invalid value: '$bad' (a duration: N seconds, or Ns, Nm, Nh, Nd)"
done
run_graph --graph_query q --timeout -1
check "--timeout must be a duration (2)" usage_is \
    "argument --timeout: invalid value: '-1' (a duration: N seconds, or Ns, Nm, Nh, Nd)"
run --log_analytics --la_auth_path "$auth" --la_tenant_domain d \
    --la_query q --workspace w --la-checkpoint time --wazuh-home "$home"
check "--la-checkpoint must be generated or ingestion (2)" usage_is \
    "argument --la-checkpoint: invalid choice: 'time' (choose from 'generated', 'ingestion')"

# --- Defaults and role command lines -------------------------------------

modes pipe pipe pipe
run_graph --graph_query "'auditLogs/directoryAudits'"
check "all roles succeed: exit 0" status_is 0
check "statekeeper defaults from --wazuh-home" argv_is statekeeper \
    --db "$home/wodles/azure/azure.db" \
    --last-dates "$home/wodles/azure/last_dates.json" -d 0
check "forwarder default socket from --wazuh-home" argv_is forwarder \
    --socket "$home/queue/sockets/queue" -d 0
check "quiet on success" err_empty

mkdir "$base/state dir"
run_graph --graph_query q --db "$base/state dir/my.db" --socket "$base/s ock"
check "--db: last_dates.json beside it" argv_is statekeeper \
    --db "$base/state dir/my.db" --last-dates "$base/state dir/last_dates.json" -d 0
check "--socket passed to the forwarder" argv_is forwarder \
    --socket "$base/s ock" -d 0

run_graph --graph_query q --db "$base/state dir/my.db" --last-dates "$base/l d.json" \
    --output "$base/out file"
check "--last-dates passed to the statekeeper" argv_is statekeeper \
    --db "$base/state dir/my.db" --last-dates "$base/l d.json" -d 0
check "--output FILE passed to the forwarder" argv_is forwarder \
    --output "$base/out file" -d 0

run_graph --graph_query "'auditLogs/signIns'" --graph_tag 'my tag' \
    --graph_time_offset '1 h' --reparse --login-url http://127.0.0.1:9/l \
    --graph-url=http://127.0.0.1:9/g -d 2
check "azure-graph gets every option, in the documented order" argv_is graph \
    --tenant example.onmicrosoft.com --query auditLogs/signIns \
    --auth-fd 7 --auth-file "$auth" --tag 'my tag' --offset '1 h' --reparse \
    --login-url http://127.0.0.1:9/l --graph-url http://127.0.0.1:9/g --timeout 1h -d 2
check "-d 2 reaches the statekeeper" argv_is statekeeper \
    --db "$home/wodles/azure/azure.db" \
    --last-dates "$home/wodles/azure/last_dates.json" -d 2
check "-d 2 reaches the forwarder" argv_is forwarder \
    --socket "$home/queue/sockets/queue" -d 2

run_graph --graph_query q --graph_tag '' --graph_time_offset ''
check "empty tag and offset are not passed (as Wazuh ignores them)" argv_is \
    graph --tenant example.onmicrosoft.com --query q --auth-fd 7 --auth-file "$auth" --timeout 1h -d 0

debug_is() {
	run_graph --graph_query q "$@"
	[ "$rc" = 0 ] && argv_is forwarder --socket "$home/queue/sockets/queue" \
	    -d "$want"
}
want=1
check "--debug=1 -> -d 1" debug_is --debug=1
want=2
check "-d2 -> -d 2" debug_is -d2
check "--debug 7 -> -d 2" debug_is --debug 7
want=0
check "-d -1 -> -d 0" debug_is -d -1
want=1
check "-d 01 -> -d 1" debug_is -d 01
want=2
check "abbreviation --deb 2 -> -d 2" debug_is --deb 2

# --- Wiring --------------------------------------------------------------

modes pipe pipe pipe
run_graph --graph_query q --output -
check "--output -: exit 0" status_is 0
check "--output - reaches the forwarder" argv_is forwarder --output - -d 0
rd=$(rundir)
case $rd in
"$tmp"/azure-logs.*) rd_ok=1 ;;
*) rd_ok= ;;
esac
check "private directory made in \$TMPDIR" [ -n "$rd_ok" ]
check "private directory is mode 0700" \
    grep -qx 'drwx------' "$log/graph.mode"
check "azure-graph: fd 0 s2f, fd 1 f2s, fd 2 stderr, 7 the auth file, nothing on 3, 4, 9" \
    fds_are graph "0 $rd/s2f" "1 $rd/f2s" "2 $work/err" "7 $auth"
check "azure-statekeeper: fds 0 f2s, 1 s2f, 3 s2w, 4 w2s, not 7, 9" \
    fds_are statekeeper "0 $rd/f2s" "1 $rd/s2f" "2 $work/err" "3 $rd/s2w" "4 $rd/w2s"
check "azure-forwarder: fd 0 s2w, fd 1 launcher's stdout, fd 3 w2s, not 4, 7, 9" \
    fds_are forwarder "0 $rd/s2w" "1 $work/out" "2 $work/err" "3 $rd/w2s"
check "a line goes round graph -> statekeeper -> forwarder -> back" \
    grep -qx 'reply:ack:fwd:frame' "$log/graph.reply"
check "the forwarder's stdout is the launcher's stdout" stdout_is 'out:fwd:frame'
same_group() {
	_g=$(sed 's/.*) //' "/proc/$$/stat" | cut -d ' ' -f 3)
	for _r in graph statekeeper forwarder; do
		[ "$(cat "$log/$_r.pgid")" = "$_g" ] || return 1
	done
}
check "roles stay in the caller's process group" same_group
check "private directory removed" [ ! -e "$rd" ]
check "no process left" nothing_left

# --- Privileges ----------------------------------------------------------

# absent PATH...: none of them exists.
absent() {
	for _p in "$@"; do
		[ ! -e "$_p" ] && [ ! -L "$_p" ] || return 1
	done
}

# no_fd7_but_fetcher: the statekeeper and the forwarder read no fd 7.
no_fd7_but_fetcher() {
	absent "$log/statekeeper.fd7" "$log/forwarder.fd7"
}

modes pipe pipe pipe
run_graph --graph_query q --no-sandbox
check "--no-sandbox reaches the fetcher" argv_is graph \
    --tenant example.onmicrosoft.com --query q --auth-fd 7 --auth-file "$auth" \
    --timeout 1h --no-sandbox -d 0
check "--no-sandbox reaches the statekeeper" argv_is statekeeper \
    --db "$home/wodles/azure/azure.db" \
    --last-dates "$home/wodles/azure/last_dates.json" --no-sandbox -d 0
check "--no-sandbox reaches the forwarder" argv_is forwarder \
    --socket "$home/queue/sockets/queue" --no-sandbox -d 0
check "the fetcher reads the authentication file on fd 7" \
    cmp -s "$auth" "$log/graph.fd7"
check "... which neither the statekeeper nor the forwarder has" \
    no_fd7_but_fetcher

run_graph --graph_query q --graph_auth_path "$base/no such auth"
check "an authentication file that cannot be opened: --auth-file alone" \
    argv_is graph --tenant example.onmicrosoft.com --query q \
    --auth-file "$base/no such auth" --timeout 1h -d 0
check "... and no fd 7 (the caller's is closed)" fds_are graph \
    "0 $(rundir)/s2f" "1 $(rundir)/f2s" "2 $work/err"

run --storage --storage_auth_path "$auth" --container c --wazuh-home "$home" \
    --check --no-sandbox
check "--check: the auth file on fd 7 and --no-sandbox reach the fetcher" \
    argv_is storage --container c --auth-fd 7 --auth-file "$auth" \
    --timeout 1h --no-sandbox -d 0 --check
check "... which reads it" cmp -s "$auth" "$log/storage.fd7"
check "... not the others" no_fd7_but_fetcher
check "... --no-sandbox reaches the statekeeper's --check" argv_is statekeeper \
    --db "$home/wodles/azure/azure.db" \
    --last-dates "$home/wodles/azure/last_dates.json" --no-sandbox -d 0 --check

# user_ignored OPTION: the DEBUG line of an unused --*-user option.
if [ -n "$privsep_off" ]; then
	why='--no-privsep.'
else
	why="azure-logs runs as uid $(id -u), not root, and so does every role."
fi
run_graph --graph_query q --fetcher-user nobody --forwarder-user=x -d 2
check "not privilege-separated: no --user for any role" argv_is statekeeper \
    --db "$home/wodles/azure/azure.db" \
    --last-dates "$home/wodles/azure/last_dates.json" -d 2
check "... the --*-user options are ignored, at debug level" \
    logged DEBUG "--fetcher-user, --forwarder-user ignored: $why"

if [ "$(id -u)" -eq 0 ]; then
	users=$top/scripts/azure-logs-users
	fu=azlt-f$$
	su=azlt-s$$
	missing=azlt-none$$
	privsep_off=

	"$users" --fetcher-user "$fu" --statekeeper-user "$su" >"$work/out" 2>"$work/err"
	rc=$?
	created_users="$fu $su"
	check "azure-logs-users creates the users it is given (0)" status_is 0
	check "... and says so" stdout_contains_all \
	    "azure-logs-users: created the system user $fu (runs the fetchers)" \
	    "azure-logs-users: created the system user $su (runs azure-statekeeper)"
	# system_users NAME...: each has its own group alone, no home, no
	# login shell, a uid below 1000.
	system_users() {
		for _u in "$@"; do
			_e=$(getent passwd "$_u") &&
			    [ "$(id -Gn "$_u")" = "$_u" ] &&
			    [ "$(id -u "$_u")" -lt 1000 ] &&
			    [ "$(echo "$_e" | cut -d: -f6)" = /nonexistent ] &&
			    [ "$(echo "$_e" | cut -d: -f7)" = /usr/sbin/nologin ] ||
			    return 1
		done
	}
	check "... system users with their own group, no home, no login" \
	    system_users "$fu" "$su"
	"$users" --statekeeper-user="$su" --fetcher-user "$fu" >"$work/out" 2>"$work/err"
	rc=$?
	check "azure-logs-users again: nothing to do (0)" status_is 0
	check "... the users are kept" stdout_contains_all \
	    "azure-logs-users: the user $fu (runs the fetchers) exists, uid $(id -u "$fu"): kept" \
	    "azure-logs-users: the user $su (runs azure-statekeeper) exists, uid $(id -u "$su"): kept"
	"$users" --fetcher-user wazuh >"$work/out" 2>"$work/err"
	rc=$?
	check "azure-logs-users never touches wazuh (2)" status_is 2
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$users" \
	    >"$work/out" 2>"$work/err"
	rc=$?
	check "azure-logs-users needs root (1)" status_is 1
	check "... and says so" grep -qxF \
	    'azure-logs-users: error: must be run as root: it creates system users' \
	    "$work/err"

	# privsep_run ARGS...: a root Graph run, with our users.
	privsep_run() {
		run_graph --graph_query q --fetcher-user "$fu" \
		    --statekeeper-user "$su" "$@"
	}
	state=$home/wodles/azure/state
	owner_mode() {
		[ "$(stat -c '%U:%G %a' "$1")" = "$2" ]
	}

	privsep_run --forwarder-user "$missing"
	check "root: a missing forwarder user is an error (1)" error_is \
	    "The user $missing, which is to run azure-forwarder, does not exist: name the user that may write to Wazuh's queue socket with --forwarder-user."
	run_graph --graph_query q --fetcher-user "$missing"
	check "root: a missing fetcher user is an error naming the fix (1)" error_is \
	    "The user $missing, which is to run the fetcher (azure-graph), does not exist: create it with $users --fetcher-user $missing (as make install does), or name another user with --fetcher-user."
	privsep_run --statekeeper-user root
	check "root: a statekeeper user with uid 0 is an error (1)" error_is \
	    "The user root, which is to run azure-statekeeper, has uid 0: a role must not run as root; name an unprivileged user with --statekeeper-user."
	check "... no state directory made by the refusals" [ ! -e "$state" ]
	if ! id -u wazuh >/dev/null 2>&1 && ! id -u ossec >/dev/null 2>&1; then
		privsep_run
		check "root: no wazuh (nor ossec) user: an error (1)" error_is \
		    "The user wazuh, which is to run azure-forwarder, does not exist (nor ossec, its name before Wazuh 4.3): name the user that may write to Wazuh's queue socket with --forwarder-user."
		if useradd --system --no-create-home --home-dir /nonexistent \
		    --shell /usr/sbin/nologin ossec 2>/dev/null; then
			created_users="$created_users ossec"
			privsep_run --no-sandbox
			check "root: with ossec alone (Wazuh before 4.3), ossec runs the forwarder" \
			    argv_is forwarder --socket "$home/queue/sockets/queue" \
			    --user ossec --no-sandbox -d 0
			userdel ossec
			created_users="$fu $su"
		fi
		rm -rf "$state"
	fi

	privsep_run --forwarder-user nobody
	quiet_success() {
		[ "$rc" = 0 ] && err_empty
	}
	check "root: privilege separation: exit 0, nothing logged" quiet_success
	check "... --user $fu reaches the fetcher" argv_is graph \
	    --tenant example.onmicrosoft.com --query q --auth-fd 7 --auth-file "$auth" \
	    --timeout 1h --user "$fu" -d 0
	check "... the fetcher reads the authentication file on fd 7" \
	    cmp -s "$auth" "$log/graph.fd7"
	check "... --user $su and the state directory reach the statekeeper" \
	    argv_is statekeeper --db "$state/azure.db" \
	    --last-dates "$state/last_dates.json" --user "$su" -d 0
	check "... --user nobody reaches the forwarder" argv_is forwarder \
	    --socket "$home/queue/sockets/queue" --user nobody -d 0
	check "... fd 7 is the fetcher's alone" no_fd7_but_fetcher
	check "... the state directory was made: owner $su:$su, mode 0750" \
	    owner_mode "$state" "$su:$su 750"
	check "... no --no-privsep warning" [ ! -s "$work/err.privsep" ]

	privsep_run --forwarder-user nobody --no-sandbox --check
	check "root, --check: --user and --no-sandbox reach the fetcher" \
	    argv_is graph --tenant example.onmicrosoft.com --query q \
	    --auth-fd 7 --auth-file "$auth" --timeout 1h --user "$fu" \
	    --no-sandbox -d 0 --check
	check "... the statekeeper" argv_is statekeeper --db "$state/azure.db" \
	    --last-dates "$state/last_dates.json" --user "$su" --no-sandbox \
	    -d 0 --check
	check "... the forwarder" argv_is forwarder \
	    --socket "$home/queue/sockets/queue" --user nobody --no-sandbox \
	    -d 0 --check

	# Wazuh's state, in a Wazuh home of its own.
	home2="$base/wazuh home 2"
	legacy=$home2/wodles/azure
	mkdir -p "$legacy"
	for f in azure.db azure.db-wal azure.db-journal last_dates.json; do
		printf '%s\n' "$f" >"$legacy/$f"
	done
	printf 'old\n' >"$legacy/azure-dead-letter.jsonl"
	run --graph --graph_auth_path "$auth" --graph_tenant_domain d \
	    --graph_query q --wazuh-home "$home2" --fetcher-user "$fu" \
	    --statekeeper-user "$su" --forwarder-user nobody -d 1
	adopted() {
		for _f in azure.db azure.db-wal azure.db-journal last_dates.json; do
			[ ! -e "$legacy/$_f" ] &&
			    [ "$(cat "$legacy/state/$_f")" = "$_f" ] &&
			    owner_mode "$legacy/state/$_f" "$su:$su 644" || return 1
		done
		[ ! -e "$legacy/state/azure.db-shm" ]
	}
	check "root: Wazuh's azure.db, -wal, -journal and last_dates.json moved into state/, given to $su" \
	    adopted
	check "... and said, once" logged INFO \
	    "Moved Wazuh's azure.db-wal, azure.db-journal, azure.db, last_dates.json from $legacy into $legacy/state (owner $su)."
	check "... the rest of wodles/azure stays" \
	    [ "$(cat "$legacy/azure-dead-letter.jsonl")" = old ]
	check "... the statekeeper gets the state directory" argv_is statekeeper \
	    --db "$legacy/state/azure.db" \
	    --last-dates "$legacy/state/last_dates.json" --user "$su" -d 1
	printf 'new\n' >"$legacy/azure.db"
	printf 'new\n' >"$legacy/last_dates.json"
	run --graph --graph_auth_path "$auth" --graph_tenant_domain d \
	    --graph_query q --wazuh-home "$home2" --fetcher-user "$fu" \
	    --statekeeper-user "$su" --forwarder-user nobody -d 1
	left_alone() {
		[ "$rc" = 0 ] && [ "$(cat "$legacy/azure.db")" = new ] &&
		    [ "$(cat "$legacy/last_dates.json")" = new ] &&
		    [ "$(cat "$legacy/state/azure.db")" = azure.db ] &&
		    [ "$(cat "$legacy/state/last_dates.json")" = last_dates.json ] &&
		    not_logged INFO
	}
	check "root: once state/ has them, Wazuh's files are left alone" left_alone

	home3="$base/wazuh home 3"
	mkdir -p "$home3/wodles/azure" "$base/own db"
	printf 'x\n' >"$home3/wodles/azure/azure.db"
	run --graph --graph_auth_path "$auth" --graph_tenant_domain d \
	    --graph_query q --wazuh-home "$home3" --fetcher-user "$fu" \
	    --statekeeper-user "$su" --forwarder-user nobody \
	    --db "$base/own db/a.db"
	check "root, --db: the statekeeper gets it, with its user" argv_is \
	    statekeeper --db "$base/own db/a.db" \
	    --last-dates "$base/own db/last_dates.json" --user "$su" -d 0
	untouched() {
		absent "$home3/wodles/azure/state" &&
		    [ -f "$home3/wodles/azure/azure.db" ] &&
		    owner_mode "$base/own db" "root:root 755"
	}
	check "... nothing created, moved or given away" untouched

	privsep_off=--no-privsep
	run --graph --graph_auth_path "$auth" --graph_tenant_domain d \
	    --graph_query q --wazuh-home "$home3" --fetcher-user "$fu"
	check "root, --no-privsep: exit 0" status_is 0
	check "... no --user for the fetcher" argv_is graph --tenant d \
	    --query q --auth-fd 7 --auth-file "$auth" --timeout 1h -d 0
	check "... nor the statekeeper, Wazuh's database where it is" \
	    argv_is statekeeper --db "$home3/wodles/azure/azure.db" \
	    --last-dates "$home3/wodles/azure/last_dates.json" -d 0
	check "... nor the forwarder" argv_is forwarder \
	    --socket "$home3/queue/sockets/queue" -d 0
	check "... and a warning that the roles keep root" grep -q \
	    " azure: WARNING: --no-privsep: every role keeps root's privileges; for debugging only, never in production\.$" \
	    "$work/err.privsep"
	check "... nothing created or moved" untouched

	# The defaults of a run by another user: as nobody.
	privsep_off=
	home4="$base/wazuh home 4"
	mkdir -p "$home4/wodles/azure"
	chmod 0711 "$work"
	chmod 1777 "$tmp"
	chmod 0644 "$auth"
	run_as=nobody
	run --graph --graph_auth_path "$auth" --graph_tenant_domain d \
	    --graph_query q --wazuh-home "$home4" --statekeeper-user "$su" -d 2
	run_as=
	chmod 0700 "$work"
	chmod 0755 "$tmp"
	chmod 0600 "$auth"
	check "as nobody: exit 0" status_is 0
	check "... no --user for the statekeeper, Wazuh's database where it is" \
	    argv_is statekeeper --db "$home4/wodles/azure/azure.db" \
	    --last-dates "$home4/wodles/azure/last_dates.json" -d 2
	check "... nor for the forwarder" argv_is forwarder \
	    --socket "$home4/queue/sockets/queue" -d 2
	check "... the fetcher reads the authentication file on fd 7" \
	    cmp -s "$auth" "$log/graph.fd7"
	check "... --statekeeper-user is ignored, at debug level" logged DEBUG \
	    "--statekeeper-user ignored: azure-logs runs as uid $(id -u nobody), not root, and so does every role."
	check "... no state directory" [ ! -e "$home4/wodles/azure/state" ]

	for u in $created_users; do
		userdel "$u"
	done
	created_users=
	check "the users this test made are gone" \
	    [ -z "$(getent passwd "$fu" "$su")" ]
	privsep_off=--no-privsep
fi

# --- Supervision ---------------------------------------------------------

FAKE_SYNC=1
export FAKE_SYNC

modes exit:1 block block
run_graph --graph_query q
check "fetcher fails while the others block: exit 1" status_is 1
check "... SIGTERM was enough (no SIGKILL warning)" not_logged WARNING
check "... the blocked roles were killed" fakes_gone statekeeper forwarder
check "... no process and no directory left" nothing_left

# wrappers_ignore_term ROLE...: each role has TERM and HUP at their
# default while its wrapper ignores them (from before the role's fork: a
# TERM can never end a wrapper before it reports its role's exit).
wrappers_ignore_term() {
	for _r in "$@"; do
		{ read -r _own && read -r _wrapper; } <"$log/$_r.sigign" || return 1
		[ $((0x$_own & 0x4001)) -eq 0 ] || return 1
		[ $((0x$_wrapper & 0x4001)) -eq $((0x4001)) ] || return 1
	done
}
check "... each role gets TERM/HUP, its wrapper ignores them" \
    wrappers_ignore_term graph statekeeper forwarder

modes block exit:7 block
run_graph --graph_query q
check "statekeeper exits 7: the launcher exits 7" status_is 7
check "... the others were killed" fakes_gone graph forwarder
check "... nothing left" nothing_left

modes block block exit:100
run_graph --graph_query q
check "forwarder usage error 100 is passed on" status_is 100
check "... nothing left" nothing_left

modes block block suicide
run_graph --graph_query q
check "a role killed by a signal: exit 1" status_is 1
check "... reported in Wazuh's shape" logged ERROR 'azure-forwarder was killed by signal 9.'
check "... the others were killed" fakes_gone graph statekeeper
check "... nothing left" nothing_left

modes exit:1 stubborn block
run_graph --graph_query q
check "a role ignoring SIGTERM is killed (SIGKILL after 5 s): exit 1" status_is 1
check "... with a warning" logged WARNING 'Roles still running 5s after SIGTERM: killing them.'
check "... it is gone" fakes_gone statekeeper forwarder
check "... nothing left" nothing_left

for sig in TERM HUP; do
	modes block block block
	launch --graph --graph_auth_path "$auth" --graph_tenant_domain d \
	    --graph_query q --wazuh-home "$home"
	check "SIG$sig test: all roles running" wait_recorded
	rd=$(rundir)
	kill "-$sig" "$lpid"
	finish 20
	check "SIG$sig to the launcher: exit 1" status_is 1
	check "... with an ERROR line" logged ERROR "Received SIG$sig: stopping azure-logs."
	check "... every role killed" fakes_gone graph statekeeper forwarder
	check "... private directory removed" [ ! -e "$rd" ]
	check "... nothing left" nothing_left
done

# Wazuh's timeout kills the launcher's whole process group.
if command -v setsid >/dev/null 2>&1; then
	modes block block block
	saved_shell=${LAUNCHER_SHELL:-}
	LAUNCHER_SHELL="setsid $saved_shell"
	launch --graph --graph_auth_path "$auth" --graph_tenant_domain d \
	    --graph_query q --wazuh-home "$home"
	LAUNCHER_SHELL=$saved_shell
	check "process group test: all roles running" wait_recorded
	rd=$(rundir)
	kill -TERM "-$lpid"
	finish 20
	check "SIGTERM to the whole process group: exit 1" status_is 1
	check "... every role gone" fakes_gone graph statekeeper forwarder
	check "... private directory removed" [ ! -e "$rd" ]
	check "... nothing left" nothing_left
fi

# --- --config, --jobs, --stats-json, --cloud, --proxy, --identity-url -----

# A fake azure-config: records its argv, prints $FAKE_CONFIG_OUT (the
# azure_global / azure_request lines of the real one), writes
# $FAKE_CONFIG_ERR on stderr and exits $FAKE_CONFIG_RC.
cat >"$bin/azure-config" <<'EOF'
#!/bin/sh
printf '%s\0' "$@" >"$FAKE_LOG/config.argv"
[ -z "${FAKE_CONFIG_ERR:-}" ] || printf '%s\n' "$FAKE_CONFIG_ERR" >&2
cat "$FAKE_CONFIG_OUT"
exit "${FAKE_CONFIG_RC:-0}"
EOF
chmod 0755 "$bin/azure-config"
conf="$base/ossec conf.xml"
printf '<ossec_config/>\n' >"$conf"
FAKE_CONFIG_OUT="$base/config.out"
export FAKE_CONFIG_OUT

# config_is LINE...: what the fake azure-config prints.
config_is() {
	printf '%s\n' "$@" >"$FAKE_CONFIG_OUT"
}

# graph_words QUERY TAG: a Graph request's words as azure-config quotes them.
graph_words() {
	printf "'--graph' '--graph_auth_path' '%s' '--graph_tenant_domain' 'd'" "$auth"
	printf " '--graph_tag' '%s' '--graph_query' '%s'" "$2" "$1"
}

not_grep() {
	! grep -qF -e "$1" "$2"
}

modes pipe pipe pipe
config_is "azure_request 5 $(graph_words q t)"
run --config "$conf" --graph --wazuh-home "$home"
check "--config with --graph: not allowed (2)" \
    usage_is 'argument --graph: not allowed with argument --config'
run --config "$conf" --storage --wazuh-home "$home"
check "--config with --storage: not allowed (2)" \
    usage_is 'argument --storage: not allowed with argument --config'
run --config
check "--config without a value: expected one argument (2)" \
    usage_is 'argument --config: expected one argument'
for bad in 0 65 x 1.5 ''; do
	run --config "$conf" "--jobs=$bad" --wazuh-home "$home"
	check "--jobs '$bad' is refused (2)" \
	    usage_is "argument --jobs: invalid value: '$bad' (1 to 64)"
done
run_graph --graph_query q --cloud mars
check "--cloud mars: invalid choice (2)" usage_is \
    "argument --cloud: invalid choice: 'mars' (choose from 'public', 'usgov', 'usgov-dod', 'china')"
run --config "$base/missing.conf" --wazuh-home "$home"
check "a missing configuration file (1)" \
    error_is "Cannot read the configuration file $base/missing.conf."
run --config "$base" --wazuh-home "$home"
check "a directory as configuration file (1)" \
    error_is "Cannot read the configuration file $base."

FAKE_CONFIG_RC=1
FAKE_CONFIG_ERR='2026/01/01 00:00:00 azure: ERROR: x:3: not well-formed XML'
export FAKE_CONFIG_RC FAKE_CONFIG_ERR
run --config "$conf" --wazuh-home "$home"
unset FAKE_CONFIG_RC FAKE_CONFIG_ERR
check "azure-config failing: its message as it is, exit 1, no role" \
    error_is 'x:3: not well-formed XML'

config_is "azure_global '--jobs' '2'"
run --config "$conf" --wazuh-home "$home"
check "no request in the configuration (1)" \
    error_is "No request to run in $conf."

config_is "azure_request 9 $(graph_words q t) '--overlap' 'soon'"
run --config "$conf" --wazuh-home "$home"
failed_before_roles() {
	[ "$rc" = 1 ] && no_role_started
}
check "the only request invalid: exit 1, no role" failed_before_roles
check "... its error names its line" logged ERROR \
    "$conf:9: argument --overlap: invalid value: 'soon' (a duration: N seconds, or Ns, Nm, Nh, Nd); the request is skipped"
check "... then no request to run" logged ERROR "No request to run in $conf."

# One request: the fetcher and the statekeeper keep fds 0 and 1.  The
# configuration's text is intact (no cleaning of Wazuh's command line).
q="'it''s' a \\\$filter \\!x${nl}  | take 1"
config_is "azure_global '--output' '$base/out file'" \
    "azure_request 12 '--graph' '--graph_auth_path' '$auth' '--graph_tenant_domain' 'd' '--graph_tag' 'request_12' '--graph_query' ''\\''it'\\'''\\''s'\\'' a \\\$filter \\!x
  | take 1' '--cloud' 'usgov' '--proxy' 'http://proxy.example:3128' '--identity-url' 'http://127.0.0.1:9/id'" \
    "azure_request 30 '--graph' '--graph_query' 'no auth'"
run --config "$conf" --wazuh-home "$home"
check "--config: the valid request runs (0)" status_is 0
check "... the invalid one named by its line" logged ERROR \
    "$conf:30: Graph: No parameters have been provided for authentication; the request is skipped"
check "... azure-config gets -d and the file" argv_is config -d 0 -- "$conf"
check "... the query intact; --cloud, --proxy, --identity-url reach the fetcher" \
    argv_is graph --tenant d --query "$q" --auth-fd 7 --auth-file "$auth" \
    --tag request_12 --timeout 1h --cloud usgov \
    --proxy http://proxy.example:3128 --identity-url http://127.0.0.1:9/id -d 0
check "... one request: fds 0 s2f, 1 f2s as without --config" fds_are graph \
    "0 $(rundir)/s2f" "1 $(rundir)/f2s" "2 $work/err" "7 $auth"
check "... a global word: --output for the forwarder" argv_is forwarder \
    --output "$base/out file" -d 0

run --config "$conf" --wazuh-home "$home" --socket "$base/sock" -d 1
check "the command line overrides the configuration's global words" \
    argv_is forwarder --socket "$base/sock" -d 1
check "... and -d reaches azure-config" argv_is config -d 1 -- "$conf"

config_is "azure_request 3 $(graph_words q t) '--proxy' 'http://user:pa55word@proxy.example:3128'"
run --config "$conf" --wazuh-home "$home" -d 2
check "a proxy with a password: not on the fetcher's command line" \
    argv_is graph --tenant d --query q --auth-fd 7 --auth-file "$auth" \
    --tag t --timeout 1h -d 2
check "... nor in the log" not_grep pa55word "$work/err"

# azure-config's output is evaluated (as root under Wazuh, while
# azure-config parsed as the fetcher's user): only azure_global and
# azure_request lines of single-quoted words are; words may span lines
# and hold '\''.
config_refused() {
	[ "$rc" = 1 ] && no_role_started && ! [ -e "$base/pwned" ] &&
	    logged ERROR "azure-config's output is not lines of azure_global or azure_request with single-quoted words: not evaluated."
}
for bad in "azure_request 3 $(graph_words q t)${nl}touch '$base/pwned'" \
    "azure_request 3 $(graph_words q t); touch '$base/pwned'" \
    "azure_request 3 $(graph_words q t) \$(touch '$base/pwned')" \
    "azure_request 3 $(graph_words q t) 'a'b'${nl}touch '$base/pwned''" \
    "azure_global '--db' 'x
'; touch '$base/pwned'; '" \
    "azure_request \$(touch '$base/pwned') $(graph_words q t)"; do
	config_is "$bad"
	run --config "$conf" --wazuh-home "$home"
	check "azure-config's output with a command: refused, not evaluated" \
	    config_refused
done
config_is "azure_global '--db' '$base/a'\''b
c.db'" "azure_request 3 $(graph_words q "x'\''\$(touch '\''$base/pwned'\'')${nl}y")"
run --config "$conf" --wazuh-home "$home" -d 0
check "... words with '\\'' and newlines: evaluated as words" argv_is graph \
    --tenant d --query q --auth-fd 7 --auth-file "$auth" \
    --tag "x'\$(touch '$base/pwned')${nl}y" --timeout 1h -d 0
check "... nothing run" absent "$base/pwned"

# --stats-json: a fetcher that wrote nothing gets an entry of the
# launcher's, every text escaped for JSON.
stats="$base/stats dir/s.json"
mkdir -p "$base/stats dir"
tab=$(printf '\t')
tag="t \"q\" \\ b${tab}x${nl}y"
config_is "azure_request 4 '--log_analytics' '--la_auth_path' '$auth' '--la_tenant_domain' 'd' '--la_tag' '$tag' '--la_query' 'T | where a == \"1\"' '--workspace' 'w s'"
modes exit:3 pipe pipe
run --config "$conf" --wazuh-home "$home" --stats-json "$stats"
check "--stats-json: a failing fetcher's status (3)" status_is 3
check "... --stats-fd 8 reaches the fetcher" argv_is la --tenant d \
    --workspace 'w s' --query 'T | where a == "1"' --auth-fd 7 \
    --auth-file "$auth" --tag "$tag" --timeout 1h --stats-fd 8 -d 0

stats_are() {
	python3 - "$stats" "$1" <<'PY'
import json, os, stat, sys
path, tag = sys.argv[1], sys.argv[2]
with open(path) as f:
    data = json.load(f)
assert stat.S_IMODE(os.stat(path).st_mode) == 0o640, oct(os.stat(path).st_mode)
assert os.listdir(os.path.dirname(path)) == ["s.json"], os.listdir(os.path.dirname(path))
want = {"service": "log_analytics", "query": 'T | where a == "1"',
        "workspace": "w s", "container": None, "tag": tag, "fetched": 0,
        "delivered": 0, "duplicates": 0, "dead_lettered": 0, "pages": 0,
        "retries": 0, "bytes": 0, "newest_event": None, "lag_seconds": None,
        "duration_seconds": 0, "status": "error",
        "error": "azure-la exited with status 3"}
assert data == {"requests": [want]}, data
PY
}
check "... the launcher's entry: every field, texts escaped, mode 0640" \
    stats_are "$tag"

# Several requests, --jobs 1, stopped by SIGTERM while the first waits
# for the statekeeper: the others never start, yet each has its entry.
config_is "azure_request 3 $(graph_words q1 t1)" \
    "azure_request 4 $(graph_words q2 t2)" "azure_request 5 $(graph_words q3 t3)"
modes pipe block block
launch --config "$conf" --wazuh-home "$home" --jobs 1 --stats-json "$stats"

sk_fwd_recorded() {
	_i=0
	until [ -f "$log/statekeeper.pid" ] && [ -f "$log/forwarder.pid" ]; do
		_i=$((_i + 1))
		[ "$_i" -lt 200 ] || return 1
		sleep 0.05
	done
}

check "several requests: the statekeeper and the forwarder run" sk_fwd_recorded
rd=$(sed -n 's/^4 //p' "$log/statekeeper.fds")
rd=${rd%/*}
check "... the statekeeper gets --fifos DIR --requests 3" argv_is statekeeper \
    --db "$home/wodles/azure/azure.db" \
    --last-dates "$home/wodles/azure/last_dates.json" \
    --fifos "$rd" --requests 3 -d 0
check "... its fds 0 and 1 are /dev/null" fds_are statekeeper \
    "0 /dev/null" "1 /dev/null" "2 $work/err" "3 $rd/s2w" "4 $rd/w2s"
fifo_pairs() {
	[ -p "$rd/f2s.1" ] && [ -p "$rd/s2f.1" ] && [ -p "$rd/f2s.3" ] &&
	    [ -p "$rd/s2f.3" ]
}
check "... a FIFO pair per request" fifo_pairs
kill -TERM "$lpid"
finish 20
check "... SIGTERM: exit 1" status_is 1
check "... with an ERROR line" logged ERROR "Received SIGTERM: stopping azure-logs."

stats_stopped() {
	python3 - "$stats" <<'PY'
import json, sys
reqs = json.load(open(sys.argv[1]))["requests"]
assert [r["query"] for r in reqs] == ["q1", "q2", "q3"], reqs
assert [r["status"] for r in reqs] == ["error"] * 3, reqs
assert reqs[0]["error"].startswith("azure-graph exited with status "), reqs[0]
assert reqs[1]["error"] == reqs[2]["error"] == "not run: azure-logs was stopped first", reqs
PY
}

check "... the stats: the first exited, the others not run" stats_stopped
check "... private directory removed" [ ! -e "$rd" ]
check "... nothing left" nothing_left
rm -f "$bin/azure-config"

unset FAKE_SYNC
printf '1..%d\n' "$n"
