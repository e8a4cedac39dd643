#!/bin/sh
# shellcheck disable=SC2016 # section commands are single-quoted on purpose: they expand on the device.
# kit probe @KIT_VERSION@: read-only socket-memory probe for busybox ash / dash.
# (kit sends it without the comments and indentation below: kit/probe.py)
#
# Streamed into `sh -s` over one SSH exec channel (or saved and run by hand on
# a serial console: `sh probe.sh > capture.txt`). It writes nothing on the
# device, not even in /tmp: every command's stdout goes straight to our stdout,
# its stderr is held in a shell variable and printed after it (at most 64 KiB).
#
# Output framing. Every marker starts a line with the per-run token K, which
# is random for each run, so nothing the device prints can forge a boundary:
#   \n K BEGIN name          then the command's exact stdout bytes
#   \n K STDERR name         then its stderr (at most 64 KiB) and, somewhere
#                            in it, the line "K RC n" with its exit status
#   \n K END name
# A marker is always preceded by a newline that belongs to the framing, so the
# reader recovers stdout byte for byte, with or without a final newline.
# stdout is cut after max+1 bytes (the reader then knows it was cut), and a
# command still running after its time limit gets SIGTERM (exit 143).
#
# Light on the device: a router in trouble should not pay hundreds of
# processes for a diagnosis (kit/probe.py picks the function per section).
# One watchdog serves the whole run. A command runs in the $( ) shell that
# holds its stderr (eval, no `sh -c`); only a command whose output nothing
# else bounds (ss, a kernel config) goes through a bound process. Consecutive
# /proc files are read by one awk, which writes their framing itself.

K='@KIT_TOKEN@'
PATH="$PATH:/usr/sbin:/sbin:/usr/bin:/bin:/usr/local/sbin:/usr/local/bin"
LC_ALL=C
export PATH LC_ALL
exec 3>&1
kit_nl='
'

# The stdout bound of a command: busybox dd with iflag=count_bytes (busybox
# >= 1.2x) writes each block as it arrives; busybox `head -c` holds the last
# few KB in a stdio buffer until the command ends, which a dropped link would
# lose. GNU dd (coreutils: `--version` answers) counts every short read from
# a pipe as a block, so `count=N iflag=count_bytes` stops after N/bs reads,
# after the first one when N < bs: a command writing line by line was cut
# (tests/test_sections.py). There, and where dd lacks count_bytes, head -c
# does the job.
if ! dd --version >/dev/null 2>&1 && dd if=/dev/null of=/dev/null count=0 iflag=count_bytes 2>/dev/null; then
	kit_dd=1
else
	kit_dd=
fi

# With `set -o pipefail` (busybox ash has it, dash does not) a bounded
# command's exit status comes through the pipe into its bound: one process
# fewer. `command` keeps dash from exiting on the unknown option. It is set
# for that pipe only: a pipeline inside a command keeps the status of its
# last command, as in `sh -c`.
# shellcheck disable=SC3040 # tried, and used only where the shell has it
if command set -o pipefail 2>/dev/null; then
	set +o pipefail
	kit_pipefail=1
else
	kit_pipefail=
fi

# The kernel release, once for the run (the kdiag sections' $(uname -r)):
# the shell's own read of the string sysctl, else one uname. (A kernel that
# answers only a read from offset 0 gives one character here.)
kit_release=
{ read -r kit_release </proc/sys/kernel/osrelease; } 2>/dev/null
[ "${#kit_release}" -gt 1 ] || kit_release=$(uname -r 2>/dev/null)

# --- the watchdog ----------------------------------------------------------------
#
# The sections run in kit_main, the left side of a pipeline whose right side
# is kit_watchdog; they write to it on fd 7: "s PID SECONDS" when a section's
# $( ) shell starts. A ticker adds a "t" line every second; at each, a PID
# that is gone (its section ended: kit_main reaped it) is forgotten, which
# spares an "end" message (and a wake-up of the watchdog) per section. When
# a section outlives its time limit, the watchdog sends SIGTERM to that
# shell and to every process below it, found through /proc (busybox may
# lack pkill and a script has no job control); the section then reports
# exit 143 and says so on stderr. Commands run with fd 7 closed, so a command
# left running never keeps the watchdog (and the SSH channel) open.

kit_watchdog() {
	kit_pid='' kit_left=''
	while read -r kit_what kit_a kit_b; do
		case $kit_what in
		# Ticks come a second apart, the first early: one more.
		s) kit_pid=$kit_a kit_left=$((kit_b + 1)) ;;
		t)
			[ -n "$kit_pid" ] || continue
			kill -0 "$kit_pid" 2>/dev/null || {
				kit_pid=
				continue
			}
			kit_left=$((kit_left - 1))
			[ "$kit_left" -le 0 ] || continue
			kit_reap "$kit_pid"
			kit_pid=
			;;
		esac
	done
}

# kit_reap PID: SIGTERM to PID and every process below it. /proc/PID/stat is
# "pid (comm) state ppid ...", comm may hold spaces and parentheses.
kit_reap() {
	kit_tree=" $1 " kit_more=1
	while [ -n "$kit_more" ]; do
		kit_more=
		for kit_s in /proc/[0-9]*/stat; do
			{ read -r kit_l <"$kit_s"; } 2>/dev/null || continue
			kit_p=${kit_l%% *}
			kit_l=${kit_l##*) }
			# shellcheck disable=SC2086 # split the stat fields: state ppid ...
			set -- $kit_l
			case $kit_tree in *" $kit_p "*) continue ;; esac
			case $kit_tree in *" $2 "*)
				kit_tree="$kit_tree$kit_p "
				kit_more=1
				;;
			esac
		done
	done
	# shellcheck disable=SC2086 # one word per pid
	kill -TERM $kit_tree 2>/dev/null
}

# kit_tick PID: "t" on fd 7 every second while PID (kit_main) lives.
kit_tick() {
	while sleep 1 7>&-; do
		kill -0 "$1" 2>/dev/null || exit 0
		echo t >&7 || exit 0
	done
}

# --- one section -------------------------------------------------------------------

# kit_orphan_exit: kit_main runs under the shell that reads this script; when
# that shell is gone (killed), stop here as that shell would have, before
# another marker. (kill -0 is one system call; reading /proc/self/stat with
# the shell's `read` took two per byte.)
kit_orphan_exit() {
	kill -0 "$$" 2>/dev/null || exit 0
}

# kit_watch SECONDS, in a section's $( ) shell: its own PID ($$ is the
# script's, also in a subshell; where the kernel's /proc/self link points,
# resolved by cd -P without a process) and time limit, to the watchdog.
kit_watch() {
	cd -P /proc/self 2>/dev/null || return 0
	echo "s ${PWD##*/} $1" >&7
	cd "$OLDPWD" || cd /
}

# kit_begin NAME: the BEGIN marker.
kit_begin() {
	kit_orphan_exit
	printf '\n%s BEGIN %s\n' "$K" "$1"
}

# kit_end NAME SECONDS: the held stderr kit_err, bounded, then (unless it
# came with the stderr: kit_rc empty) the exit status kit_rc, with a line
# saying so when it is 143: the watchdog's SIGTERM ended the section's
# $( ) shell at its time limit; and END.
kit_end() {
	kit_orphan_exit
	kit_tail=
	if [ -n "$kit_rc" ]; then
		[ "$kit_rc" -ne 143 ] || kit_tail="${kit_nl}kit: stopped after $2 s (time limit)"
		kit_tail="$kit_tail$kit_nl$K RC $kit_rc"
	fi
	printf '\n%s STDERR %s\n%.65536s%s' "$K" "$1" "$kit_err" "$kit_tail"
	printf '\n%s END %s\n' "$K" "$1"
	# The socket list came from ss: the fallback sections need not run.
	if [ "$1" = ss ]; then
		case $kit_err$kit_tail in *"$K RC 0" | *"$K RC 0$kit_nl"*) kit_ss_ok=1 ;; esac
	fi
}

# kit_run NAME SECONDS COMMAND: a command whose output the kernel or the
# command itself bounds (uname, id, the kdiag listings): its stdout straight
# out, no bound process; it runs in the $( ) shell holding its stderr (which
# an `exec` in COMMAND replaces: no process of the shell's own).
kit_run() {
	kit_begin "$1"
	kit_err=$(
		kit_watch "$2"
		exec 2>&1 >&3 3>&- 7>&- </dev/null
		eval "$3"
	)
	kit_rc=$?
	kit_end "$1" "$2"
}

# kit_section NAME SECONDS MAXBYTES+1 COMMAND: COMMAND's stdout through the
# bound (dd or head -c), its stderr and status held.
kit_section() {
	kit_begin "$1"
	if [ -n "$kit_dd" ]; then
		kit_cut_argv="dd bs=65536 iflag=count_bytes count=$3"
	else
		kit_cut_argv="head -c $3"
	fi
	if [ -n "$kit_pipefail" ]; then
		# shellcheck disable=SC2086,SC3040 # $kit_cut_argv: the bound's words; pipefail: checked above
		kit_err=$(
			kit_watch "$2"
			set -o pipefail
			{ { set +o pipefail; exec 2>&5 3>&- 7>&- </dev/null; eval "$4"; } | $kit_cut_argv 2>/dev/null 7>&-; } 5>&1 >&3
		)
		kit_rc=$?
	else
		# Without pipefail the status leaves through the held stderr, from
		# an exit trap (COMMAND may `exit`; one that may `exec` runs in a
		# subshell of its own).
		# shellcheck disable=SC2086 # $kit_cut_argv: the bound's words
		kit_err=$(
			kit_watch "$2"
			{
				{
					exec 2>&5 3>&- 7>&- </dev/null
					trap 'printf "\n%s RC %s\n" "$K" "$?" >&2' EXIT
					case $4 in
					*exec*) (eval "$4") ;;
					*) eval "$4" ;;
					esac
				} | $kit_cut_argv 2>/dev/null 7>&-
			} 5>&1 >&3
		)
		kit_rc=$?
		[ "$kit_rc" -ne 0 ] || kit_rc=
	fi
	kit_end "$1" "$2"
}

# kit_unless_ss NAME SECONDS MAXBYTES+1 COMMAND: a fallback for a device
# without a working ss: skipped, without a process, when the ss section ran
# and exited 0; else as kit_section.
kit_unless_ss() {
	if [ -n "$kit_ss_ok" ]; then
		kit_skip "$1"
	else
		kit_section "$@"
	fi
}

# kit_skip NAME: a fallback section skipped: framing only.
kit_skip() {
	kit_orphan_exit
	printf '\n%s BEGIN %s\n\n%s STDERR %s\n@KIT_SS_WORKS@\n%s RC 0\n\n%s END %s\n' "$K" "$1" "$K" "$1" "$K" "$K" "$1"
}

# kit_file NAME SECONDS MAXBYTES+1 FILE...: as `cat FILE...` of files that
# are not the kernel's: a `head -c` a file that exists, exec'd by the $( )
# shell for a single file; a FIFO in place of a file is ended by the
# watchdog. A missing file is said without a process.
kit_file() {
	kit_begin "$1"
	kit_n=$1 kit_s=$2 kit_m=$3
	shift 3
	kit_err=$(
		kit_watch "$kit_s"
		exec 2>&1 >&3 3>&- 7>&- </dev/null
		[ $# -gt 1 ] || [ ! -e "$1" ] || exec head -c "$kit_m" "$1"
		kit_r=0
		for kit_f; do
			if [ -e "$kit_f" ]; then
				head -c "$kit_m" "$kit_f" || kit_r=$?
			else
				echo "$kit_f: No such file or directory" >&2
				kit_r=1
			fi
		done
		exit "$kit_r"
	)
	kit_rc=$?
	kit_end "$kit_n" "$kit_s"
}

# kit_kernel_files NAME MAXBYTES+1 N FILE1 .. FILEN [NAME ...]...: sections
# that are `cat` of /proc files, which the kernel makes on each read and
# never blocks on (no watchdog), read by ONE awk that writes each section's
# framing itself, bounds its bytes, and says on its stderr (RC 1) a file it
# cannot read. awk reads a file from offset 0 in blocks (a /proc/sys file
# answers only a read from its start, so never the shell's `read`): as one
# record (RS is a byte the kernel's text files do not hold, put back if one
# does) for a bound up to 1 MiB, exact bytes; line by line above (the /proc/net
# tables: a big table is not held whole), where a last line without a
# newline would gain one.
kit_kernel_files() {
	kit_orphan_exit
	if ! command -v awk >/dev/null 2>&1; then
		while [ $# -gt 0 ]; do
			kit_n=$1 kit_m=$2 kit_i=$3 kit_fs=
			shift 3
			while [ "$kit_i" -gt 0 ]; do
				kit_fs="$kit_fs $1"
				shift
				kit_i=$((kit_i - 1))
			done
			# shellcheck disable=SC2086 # /proc paths, one word each
			kit_file "$kit_n" 15 "$kit_m" $kit_fs
		done
		return
	fi
	# The files that are not there, for awk (it cannot tell why an open failed).
	kit_miss=' '
	for kit_f; do
		case $kit_f in /*) [ -e "$kit_f" ] || kit_miss="$kit_miss$kit_f " ;; esac
	done
	awk -v K="$K" -v M="$kit_miss" '
BEGIN {
	for (i = 1; i < ARGC;) {
		name = ARGV[i]; lim = ARGV[i + 1] + 0; n = ARGV[i + 2] + 0; i += 3
		printf "\n%s BEGIN %s\n", K, name
		out = 0; err = ""; rc = 0
		for (; n > 0; n--) {
			f = ARGV[i++]
			if (index(M, " " f " ")) {
				err = err f ": No such file or directory\n"; rc = 1
				continue
			}
			whole = lim <= 1048577
			RS = whole ? "\001" : "\n"
			r = 1; sep = ""
			while (out < lim && (r = (getline l < f)) > 0) {
				l = whole ? sep l : l "\n"
				sep = RS
				if (out + length(l) > lim) l = substr(l, 1, lim - out)
				printf "%s", l
				out += length(l)
			}
			if (r < 0) { err = err f ": cannot read\n"; rc = 1 }
			close(f)
		}
		printf "\n%s STDERR %s\n%s\n%s RC %d\n\n%s END %s\n", K, name, err, K, rc, K, name
	}
	exit 0
}' "$@" 7>&- </dev/null
}

# kit_unless_ss_kernel_files: as kit_kernel_files, for fallbacks (the
# /proc/net tables): each skipped without a process after an ss that worked.
kit_unless_ss_kernel_files() {
	if [ -z "$kit_ss_ok" ]; then
		kit_kernel_files "$@"
		return
	fi
	while [ $# -gt 0 ]; do
		kit_skip "$1"
		shift $(($3 + 3))
	done
}

# --- the run -----------------------------------------------------------------------

kit_main() {
	kit_me=$$
	if cd -P /proc/self 2>/dev/null; then
		kit_me=${PWD##*/}
		cd "$OLDPWD" || cd /
	fi
	kit_tick "$kit_me" </dev/null >/dev/null 2>&1 3>&- &
	kit_ticker=$!
	printf '\n%s KIT-PROBE 1 @KIT_VERSION@\n' "$K"
@KIT_SECTIONS@
	kill "$kit_ticker" 2>/dev/null
	printf '\n%s DONE\n' "$K"
}

kit_main 7>&1 >&3 | kit_watchdog >/dev/null 2>&1 3>&-
