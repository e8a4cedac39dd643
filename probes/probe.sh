#!/bin/sh
# shellcheck disable=SC2016 # section commands are single-quoted on purpose: they expand on the device.
# kit probe @KIT_VERSION@: read-only socket-memory probe for busybox ash / dash.
#
# Streamed into `sh -s` over one SSH exec channel (or saved and run by hand on
# a serial console: `sh probe.sh > capture.txt`). It writes nothing on the
# device, not even in /tmp: every command's stdout goes straight to our stdout,
# its stderr is held in a shell variable (bounded) and printed after it.
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

K='@KIT_TOKEN@'
PATH="$PATH:/usr/sbin:/sbin:/usr/bin:/bin:/usr/local/sbin:/usr/local/bin"
LC_ALL=C
export PATH LC_ALL
exec 3>&1

# kit_bounded SECONDS COMMAND: run COMMAND in its own sh with stdin from
# /dev/null and end it after SECONDS: SIGTERM to it and to its children (a
# pipeline's members), found through /proc since busybox may lack pkill and
# a script has no job control. The watchdog is an exec'd sh that polls once a
# second and inherits none of the descriptors the shell saved around us, so
# it never holds a pipe open and never delays the end of the probe: when the
# command ends first, the watchdog is killed at once. A watchdog that fired
# ignores that kill and exits 124, so a cut-off command always reports 143
# and says so on stderr, even a pipeline whose last member exited 0 on EOF.
kit_bounded() {
	sh -c "$2" </dev/null &
	kit_pid=$!
	sh -c 'i=0
		while [ "$i" -lt "$1" ]; do
			sleep 1
			kill -0 "$2" 2>/dev/null || exit 0
			i=$((i + 1))
		done
		trap "" TERM
		for s in /proc/[0-9]*/stat; do
			l=$(cat "$s" 2>/dev/null) || continue
			l=${l##*) }
			# shellcheck disable=SC2086 # split the stat fields
			set -- "$1" "$2" $l
			p=${s#/proc/}
			[ "$4" = "$2" ] && kill -TERM "${p%/stat}" 2>/dev/null
		done
		kill -TERM "$2" 2>/dev/null
		exit 124' kit_watchdog "$1" "$kit_pid" </dev/null >/dev/null 2>&1 3>&- 4>&- 5>&- 6>&- &
	kit_wd=$!
	wait "$kit_pid"
	kit_rc=$?
	kill -TERM "$kit_wd" 2>/dev/null
	wait "$kit_wd" 2>/dev/null
	if [ "$?" -eq 124 ]; then
		echo "kit: stopped after $1 s (time limit)" >&2
		return 143
	fi
	return "$kit_rc"
}

# kit_cut BYTES: copy stdin to stdout, at most BYTES of it. dd with
# iflag=count_bytes (busybox >= 1.2x, coreutils) writes each block as it
# arrives; busybox `head -c` holds the last few KB in a stdio buffer until the
# command ends, which a dropped link would lose. Old dd without count_bytes
# fails the test below, and head -c does the job.
if [ "$(printf abc | dd bs=2 count=2 iflag=count_bytes 2>/dev/null)" = ab ]; then
	kit_cut() { dd bs=65536 count="$1" iflag=count_bytes 2>/dev/null; }
else
	kit_cut() { head -c "$1"; }
fi

# kit_section NAME SECONDS MAXBYTES+1 COMMAND
kit_section() {
	printf '\n%s BEGIN %s\n' "$K" "$1"
	kit_err=$(
		{
			{
				{
					kit_bounded "$2" "$4" 2>&1 1>&4 4>&-
					printf '\n%s RC %s\n' "$K" "$?" >&6
				} | head -c 65536 >&5
			} 4>&1 | kit_cut "$3" >&3
		} 5>&1 6>&1
	)
	printf '\n%s STDERR %s\n%s' "$K" "$1" "$kit_err"
	printf '\n%s END %s\n' "$K" "$1"
}

printf '\n%s KIT-PROBE 1 @KIT_VERSION@\n' "$K"
@KIT_SECTIONS@
printf '\n%s DONE\n' "$K"
