#!/bin/sh
# shellcheck disable=SC2016 # section commands are single-quoted on purpose: they expand on the device.
# kit probe @KIT_VERSION@: read-only socket-memory probe for busybox ash / dash.
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
# processes for a diagnosis. One watchdog serves the whole run (not one per
# section); a file is read by one bounded `head -c`; a command costs its own
# processes plus its $( ) shell and its bound (and one more where the shell
# has no pipefail).

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
# does the job. Called as `$kit_cut MAX` (no function: one process fewer).
if ! dd --version >/dev/null 2>&1 && dd if=/dev/null of=/dev/null count=0 iflag=count_bytes 2>/dev/null; then
	kit_dd=1
else
	kit_dd=
fi

# With `set -o pipefail` (busybox ash has it, dash does not) a section's
# exit status comes through the pipe into its bound: one process fewer.
# shellcheck disable=SC3040 # tried, and used only where the shell has it
if (set -o pipefail) 2>/dev/null; then
	kit_pipefail=1
else
	kit_pipefail=
fi

# --- the watchdog ----------------------------------------------------------------
#
# The sections run in kit_main, the left side of a pipeline whose right side
# is kit_watchdog; they write to it on fd 7: "s PID SECONDS" when a command
# starts, "e" when its section ends. A ticker adds a "t" line every second.
# When a command outlives its time limit, the watchdog sends SIGTERM to it
# and to every process below it, found through /proc (busybox may lack
# pkill and a script has no job control); the section then reports exit 143
# and says so on stderr. Commands run with fd 7 closed, so a command left
# running never keeps the watchdog (and the SSH channel) open.

kit_watchdog() {
	kit_pid='' kit_left=''
	while read -r kit_what kit_a kit_b; do
		case $kit_what in
		s | b) kit_how=$kit_what kit_pid=$kit_a kit_left=$((kit_b + 1)) ;; # ticks come a second apart, the first early
		e) kit_pid= ;;
		t)
			[ -n "$kit_pid" ] || continue
			kit_left=$((kit_left - 1))
			[ "$kit_left" -le 0 ] || continue
			kit_reap "$kit_pid" "$kit_how"
			kit_pid=
			;;
		esac
	done
}

# kit_reap PID HOW: SIGTERM to every process below PID, and to PID itself
# unless HOW is b. /proc/PID/stat is "pid (comm) state ppid ...", comm may
# hold spaces and parentheses.
kit_reap() {
	kit_root=$1 kit_how=$2
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
	[ "$kit_how" != b ] || kit_tree=${kit_tree#" $kit_root "}
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

# kit_timed SECONDS RC: the exit status to report: 143, with a line on
# stderr, when the command ran into its time limit (the watchdog's SIGTERM).
kit_timed() {
	[ "$2" -ne 0 ] || return 0
	kit_t1=
	{ read -r kit_t1 kit_l </proc/uptime; } 2>/dev/null
	if [ -n "$kit_t1" ] && [ -n "$kit_t0" ]; then
		[ $((${kit_t1%.*} - ${kit_t0%.*} + 1)) -ge "$1" ] || return "$2"
	elif [ "$2" -ne 143 ]; then
		return "$2"
	fi
	echo "kit: stopped after $1 s (time limit)"
	return 143
}

# kit_orphan_exit: kit_main runs under the shell that reads this script; when
# that shell is gone (killed), stop here as that shell would have, before
# another marker. (kill -0 is one system call; reading /proc/self/stat with
# the shell's `read` took two per byte.)
kit_orphan_exit() {
	kill -0 "$$" 2>/dev/null || exit 0
}

# kit_self: this shell's own PID ($$ is the script's, also in a subshell):
# where the kernel's /proc/self link points (cd -P resolves it, no process).
kit_self() {
	kit_me=''
	cd -P /proc/self 2>/dev/null || return 0
	kit_me=${PWD##*/}
	cd "$OLDPWD" || cd /
}

# kit_begin NAME: the BEGIN marker and the start time.
kit_begin() {
	kit_orphan_exit
	kit_t0=''
	{ read -r kit_t0 kit_l </proc/uptime; } 2>/dev/null
	printf '\n%s BEGIN %s\n' "$K" "$1"
}

# kit_end NAME STDERR: the command's stderr (with its RC line), bounded, and END.
kit_end() {
	echo e >&7
	kit_orphan_exit
	printf '\n%s STDERR %s\n%.65536s' "$K" "$1" "$2"
	printf '\n%s END %s\n' "$K" "$1"
}

# kit_section NAME SECONDS MAXBYTES+1 COMMAND: COMMAND in its own sh, stdin
# from /dev/null; its stdout through the bound, its stderr and status held.
kit_section() {
	kit_begin "$1"
	if [ -n "$kit_dd" ]; then
		kit_cut="dd bs=65536 iflag=count_bytes count=$3"
	else
		kit_cut="head -c $3"
	fi
	if [ -n "$kit_pipefail" ]; then
		# The watchdog ends what runs below this $( ) shell ("b"), which then
		# reports the status.
		# shellcheck disable=SC2086,SC3040 # $kit_cut: the bound's words; pipefail: checked above
		kit_err=$(
			set -o pipefail
			kit_self
			[ -z "$kit_me" ] || echo "b $kit_me $2" >&7
			{ sh -c "$4" 2>&5 7>&- </dev/null | $kit_cut 2>/dev/null >&3 7>&-; } 5>&1
			kit_timed "$2" "$?"
			printf '\n%s RC %s\n' "$K" "$?"
		)
	else
		# shellcheck disable=SC2086 # $kit_cut: the bound's words
		kit_err=$(
			{
				{
					sh -c "$4" 2>&5 7>&- </dev/null &
					echo "s $! $2" >&7
					wait "$!"
					kit_timed "$2" "$?" >&5
					printf '\n%s RC %s\n' "$K" "$?" >&5
				} | $kit_cut 2>/dev/null >&3 7>&-
			} 5>&1
		)
	fi
	# The socket list came from ss: the fallback sections need not run.
	if [ "$1" = ss ]; then
		case $kit_err in *"$K RC 0" | *"$K RC 0$kit_nl"*) kit_ss_ok=1 ;; esac
	fi
	kit_end "$1" "$kit_err"
}

# kit_unless_ss NAME SECONDS MAXBYTES+1 COMMAND: a fallback for a device
# without a working ss: skipped, without a process, when the ss section ran
# and exited 0; else as kit_section.
kit_unless_ss() {
	if [ -n "$kit_ss_ok" ]; then
		kit_begin "$1"
		kit_end "$1" "@KIT_SS_WORKS@$kit_nl$K RC 0"
	else
		kit_section "$@"
	fi
}

# kit_file NAME SECONDS MAXBYTES+1 FILE...: as `cat FILE...`, one `head -c`
# per file (a FIFO in place of a file is ended by the watchdog).
kit_file() {
	kit_begin "$1"
	kit_n=$1 kit_s=$2 kit_m=$3
	shift 3
	kit_err=$(
		kit_r=0
		for kit_f; do
			head -c "$kit_m" "$kit_f" 2>&1 >&3 3>&- 7>&- </dev/null &
			echo "s $! $kit_s" >&7
			wait "$!"
			kit_timed "$kit_s" "$?" || kit_r=$?
		done
		printf '\n%s RC %s\n' "$K" "$kit_r"
	)
	kit_end "$kit_n" "$kit_err"
}

# kit_kernel_file NAME MAXBYTES+1 FILE...: as `cat FILE...` for the text
# files the kernel makes on each read (/proc): such reads never block, so no
# watchdog; one exec'd `head -c` a file. (Not the shell's own `read`: it
# takes two system calls a byte, slower than a process on the MIPS router,
# and a /proc/sys file answers only a read from its start.)
kit_kernel_file() {
	kit_begin "$1"
	kit_n=$1 kit_m=$2 kit_r=0 kit_err=''
	shift 2
	for kit_f; do
		kit_e=$(exec head -c "$kit_m" "$kit_f" 2>&1 >&3 3>&- 7>&- </dev/null) || kit_r=1
		kit_err="$kit_err$kit_e${kit_e:+$kit_nl}"
	done
	kit_end "$kit_n" "$kit_err$kit_nl$K RC $kit_r"
}

# --- the run -----------------------------------------------------------------------

kit_main() {
	kit_me=$$
	kit_self
	[ -n "$kit_me" ] || kit_me=$$
	kit_tick "$kit_me" </dev/null >/dev/null 2>&1 3>&- &
	kit_ticker=$!
	printf '\n%s KIT-PROBE 1 @KIT_VERSION@\n' "$K"
@KIT_SECTIONS@
	kill "$kit_ticker" 2>/dev/null
	printf '\n%s DONE\n' "$K"
}

kit_main 7>&1 >&3 | kit_watchdog >/dev/null 2>&1 3>&-
