"""The `kit` command line: one parser, one cmd_<name>() per subcommand, errors mapped here only.

Exit codes: kit.errors.ExitStatus (docs/design.md, "Exit codes").

Why one module of ~900 lines: it is the whole command-line surface (each
command's options and --help examples, the placing of outputs, the one error
handler); the work of each cmd_<name>() lives in the module it calls.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from kit import __version__
from kit.diag_options import REQUIRED
from kit.errors import ExitStatus, InputError, KitError, UsageError
from kit.output_file import silence_stdout
from kit.terminal_text import one_line, visible

MIB = 1024 * 1024
MAX_SECONDS = 86400.0 * 7  # a week: beyond that a limit is a mistake (and overflows select())

if TYPE_CHECKING:
    from kit.analyse.trend import Trend
    from kit.capture import Capture
    from kit.collect import Collected
    from kit.report import Report
    from kit.transport.base import Transport
    from kit.transport.sshconfig import Flags

EPILOG_COLLECT = """\
examples:
  kit collect --local                              this machine, same probe, no SSH
  kit collect root@192.168.1.1                     a router; key from ssh-agent or ~/.ssh
  kit collect root@10.0.0.1 -p 2222 -i ~/.ssh/id_ed25519
  KIT_PW=secret kit collect root@10.0.0.1 --password-env KIT_PW
  kit collect root@10.0.0.1 --accept-new           first contact: record the host key
  kit collect router-lab                           a Host alias from ~/.ssh/config
  kit collect root@192.168.1.1 -J admin@bastion    through a jump host (like ssh -J)
  kit collect root@192.168.1.1 --legacy            dropbear of 2015-2020 (SHA-1 kex, ssh-rsa)
  kit collect -f devices.txt -j 16                 many devices, 16 at once, one index page
  KIT_PW=secret kit collect -f aps.txt -F aps.ssh_config --password-env KIT_PW --accept-new

A devices file has one target per line, as ssh takes them (ssh_config alias,
[user@]host, ssh://[user@]host[:port]) and # comments; per-host ports, users
and keys go in ssh_config. With -f kit never prompts; it prints two paths:
the index HTML and the index JSON (docs/fleet.md), and exits with the largest
code any device gave.

Writes a capture (the device's raw output, saved first), an HTML report and a
JSON report, and prints their three paths on stdout.

  kit collect root@192.168.1.1 --every 30 --count 20   a series over one SSH connection
  kit collect --local --every 5 --count 12             the same on this machine
  kit collect -f devices.txt --every 60 --count 30     every device its own series (and the index)

With --every/--count each run is a capture of its own, printed as it is
written; then the trend report's HTML and JSON paths (kit trend explains it).
Ctrl-C keeps the captures written and still writes their trend (exit 130).

Exit 1 when the kernel cannot report socket memory (see the report), 3 when the device could not be
reached or refused the login, 4 when the probe was cut short (the partial
capture and a report marked partial are still written).
"""

EPILOG_RENDER = """\
examples:
  kit render captures/router-20261126T101500Z.cap            HTML under ./reports
  kit render captures/router.cap --format json | jq .totals
  kit render out.txt                                         the output of `kit probe` run by hand
  kit render ticket-paste.txt --format text                  `ss -napm`, netstat or /proc/net pasted in a ticket
  xclip -o | kit render - --format text                      a paste on stdin (or type/paste, then Ctrl-D)
  kit render captures/router.cap --redact -o ticket.html     addresses and names replaced
  kit render captures/*.cap                                  each as HTML, plus their index page and JSON

CAPTURE is a file written by `kit collect`, the output of `kit probe` however
it was saved (ssh redirect, serial-console log with CR LF, echoed command and
prompt, a timestamp on every line, text around it in a ticket), or a paste:
`ss` of any version, busybox/net-tools `netstat`, /proc/net/{tcp,udp,raw,unix}
or sockstat (kit detects which), also when quoted in a mail (`> > `), with a
timestamp or `#` on every line, in quoted-printable, with CR LF or tabs, or
wrapped at a fixed width: the report says what kit undid. `-` reads stdin.

With several inputs each HTML path is printed, then the index HTML and index
JSON (docs/fleet.md); the exit code is the largest any input gave.

Exit 0 rendered; 2 the input cannot be read or holds no socket data at all
(a binary, a text about something else, an empty file); 4 rendered, but the probe's output was cut short (the report says partial).
"""

EPILOG_DIFF = """\
examples:
  kit diff captures/router-before.cap captures/router-after.cap          HTML under ./reports
  kit diff before.cap after.cap --format text                            a summary on the terminal
  kit diff before.cap after.cap --format json | jq '.processes[0]'       the process that changed most
  kit diff monday-paste.txt tuesday-paste.txt                            two `ss -napm` pastes work too
  kit diff before.cap after.cap --redact -o ticket-diff.html             addresses and names replaced

Shows totals old/new/change; per process (matched by name and pid, then by
name) the change of r, t, w and socket count; sockets new, gone and changed
(matched by inode, else by type, local and peer address), largest first; the
kernel diag verdict; findings that appeared or were resolved; and the
counters of memory trouble, which count since boot: a change between the
two captures means the trouble is still going on. Captures of two different
devices are still compared, with a warning at the top.
"""

EPILOG_TREND = """\
examples:
  kit trend captures/router-*.cap                       HTML under ./reports
  kit trend captures/router-*.cap --format text         what grows, on the terminal
  kit trend captures/router-*.cap --format json | jq '.findings[] | select(.code == "growing") | .title'

The captures (of one device; another device's capture is refused, exit 2) are
ordered by capture time. The report charts the totals, the top processes'
socket memory and TCP memory against tcp_mem over time, and gives a
`growing` finding for every process or socket whose memory rose in most
steps and by more than 16 KiB overall (critical when at that rate TCP would
reach tcp_mem pressure, or it would hold a tenth of MemTotal, within an
hour). `kit collect HOST --every 30 --count 20` makes such a series and its
trend in one go.
"""

EPILOG_PROBE = """\
examples:
  kit probe > probe.sh                 copy probe.sh to the device, then on its console:
                                         sh probe.sh > /tmp/out.txt    (or log the console)
  kit probe | ssh root@router sh -s > out.txt
  kit render out.txt                   the report, as kit collect would make it

The probe is POSIX sh for busybox ash and dash. It only reads: nothing is
written on the device (except where you redirect its output). Every line it
prints is framed by a random token, so `kit render` finds its output however
it came back: a file, a serial-console log (CR LF, the echoed command line,
the next prompt, a timestamp on every line), or pasted into a ticket with
text around it. A run that was cut off renders as a partial report (exit 4).
It is printed without comments (about 9 KB, quick to paste into a console);
the commented script is probes/probe.sh in kit's source, with its commands
in kit/sections.py and its framing in docs/design.md.
"""

EPILOG_KCONFIG = f"""\
examples:
  kit kconfig build/linux-5.15/.config             gate a kernel build (exit 1 when an option is missing)
  kit kconfig /proc/config.gz
  kit kconfig vmlinux   (or zImage, uImage)        the config embedded with CONFIG_IKCONFIG
  kit kconfig .config --require CONFIG_INET_DIAG,CONFIG_UNIX_DIAG --format json

Default --require: {",".join(REQUIRED)}
(without them `ss -m` shows no socket memory); =y and =m both satisfy it.
Exit 0 all present, 1 one missing, 2 the file cannot be read as a config.
"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and still exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(ExitStatus.USAGE, f"{self.prog}: {one_line(message)} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def _seconds(text: str) -> float:
    """A time limit: a finite number of seconds above 0 (nan, inf, -1 and 1e400 are refused)."""
    try:
        if not text.isascii():  # float() reads any Unicode digit ("１" is 1.0)
            raise ValueError(text)
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or not 0 < value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"{text!r}: give seconds above 0 and at most {MAX_SECONDS:g}")
    return value


def _progress_printer(stream: TextIO) -> Callable[[str], None]:
    if not stream.isatty():
        return lambda _msg: None

    def show(message: str) -> None:
        stream.write(f"\r\x1b[2Kkit: {one_line(message)}")
        stream.flush()

    return show


# --- collect -----------------------------------------------------------------


def _password(args: argparse.Namespace) -> str | None:
    """The password from --password-env (never from argv); --ask-password prompts later, when needed."""
    if args.password_env:
        value = os.environ.get(args.password_env)
        if value is None:
            raise UsageError(f"--password-env {args.password_env}: that environment variable is not set")
        return value
    if args.ask_password and not sys.stdin.isatty():
        raise UsageError("--ask-password needs a terminal; use --password-env VAR in scripts")
    return None


def _flags(args: argparse.Namespace) -> Flags:
    """The SSH options the command line gave, for kit.transport.sshconfig.resolve."""
    from kit.transport.sshconfig import Flags

    if args.port is not None and not 0 < args.port < 65536:
        raise UsageError(f"-p {args.port}: not a TCP port")
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError("--timeout must be more than 0 seconds")
    return Flags(
        port=args.port,
        user=args.login,
        identity=tuple(Path(k).expanduser() for k in args.identity),
        config=args.config,
        jump=args.jump,
        known_hosts=Path(args.known_hosts).expanduser() if args.known_hosts else None,
        accept_new=args.accept_new,
        timeout=args.timeout,
        legacy=args.legacy,
        password=_password(args),
        ask_password=args.ask_password,
    )


def _transport(args: argparse.Namespace) -> Transport:
    if args.local:
        if args.destination:
            raise UsageError("give either --local or a destination, not both")
        from kit.transport.local import LocalTransport

        return LocalTransport()
    if not args.destination:
        raise UsageError("a destination is needed: kit collect [user@]host, or kit collect --local")
    from kit.transport.ssh import SshTransport
    from kit.transport.sshconfig import resolve

    target = resolve(args.destination, _flags(args))

    def ask(prompt: str, echo: bool) -> str | None:
        """Key passphrases, passwords, keyboard-interactive prompts: only from a terminal."""
        if not sys.stdin.isatty():
            return None
        sys.stderr.write("\r\x1b[2K")
        try:
            # The prompt may come from the server (keyboard-interactive): shown inert.
            shown = visible(prompt)
            if echo:
                return input(shown)
            import getpass

            return getpass.getpass(shown)
        except EOFError:
            return None

    return SshTransport(target, ask=ask)


def cmd_collect(args: argparse.Namespace) -> int:
    from kit import collect

    if (args.every is None) != (args.count is None):
        raise UsageError("--every and --count go together: kit collect HOST --every SECONDS --count N")
    if args.file is not None:
        return _collect_fleet(args)
    transport = _transport(args)
    progress = _progress_printer(sys.stderr)
    if args.count is not None:
        return _collect_series(args, transport, progress)
    result = collect.run(
        transport, Path(args.captures), Path(args.reports), args.probe_timeout, progress, args.max_capture * MIB
    )
    if sys.stderr.isatty() and result.report is not None:
        from kit.render import text

        sys.stderr.write("\r\x1b[2K" + visible(text.render(result.report, str(result.html)), keep_newlines=True))
    from kit import output_file

    output_file.to_stdout(lambda out: out.write(f"{result.capture}\n{result.html}\n{result.json}\n"))
    if result.error is not None:
        sys.stderr.write(f"kit: {one_line(result.error)} — partial capture saved in {one_line(result.capture)}\n")
    return result.exit_code


def _collect_fleet(args: argparse.Namespace) -> int:
    """kit collect -f FILE: every device of the file, then the index; stdout is the index's two paths.

    With --every/--count every device runs a series over its own connection:
    stdout is each capture as it is written, then the index (whose entries
    link each device's trend).
    """
    from kit import fleet
    from kit.index import exit_code

    if args.local or args.destination:
        raise UsageError("give either -f FILE or a destination (or --local), not both")
    if args.ask_password:
        raise UsageError("-f never prompts: give the password with --password-env VAR")
    if not 1 <= args.jobs <= fleet.MAX_JOBS:
        raise UsageError(f"-j {args.jobs}: give 1 to {fleet.MAX_JOBS} devices at once")
    source = "<stdin>" if args.file == "-" else args.file
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"-f {args.file}: {exc.strerror or exc}") from None
    lines = fleet.parse_targets(text, source)
    targets = fleet.resolve_all(lines, _flags(args), source)
    from kit import output_file

    # Checked before any device is reached: a fleet must not end without its index (exit 2 now).
    output_file.directory(Path(args.captures), "--captures")
    output_file.directory(Path(args.reports), "--reports")
    series = None
    if args.count is not None:
        # --every with -f: each device's captures printed as they are written (from any device, whole lines).
        import threading

        from kit import output_file

        printing = threading.Lock()

        def written(path: Path) -> None:
            with printing:
                output_file.to_stdout(lambda out: out.write(f"{path}\n"))

        series = (args.every, args.count, written)
    results, html_path, json_path = fleet.collect_all(
        lines,
        targets,
        Path(args.captures),
        Path(args.reports),
        args.jobs,
        args.probe_timeout,
        args.max_capture * MIB,
        on_done=_fleet_progress(sys.stderr, len(lines)),
        internal_error=lambda exc: (
            f"internal error: {type(exc).__name__}: {exc} (traceback in {_write_crash_log(exc)})"
        ),
        series=series,
    )
    output_file.to_stdout(lambda out: out.write(f"{html_path}\n{json_path}\n"))
    return exit_code(results)


def _fleet_progress(stream: TextIO, total: int) -> Callable[[int, Collected], None]:
    """One line per finished device on a terminal; nothing otherwise."""
    if not stream.isatty():
        return lambda _i, _result: None
    done = [0]

    def show(_i: int, result: Collected) -> None:
        done[0] += 1
        what = f"exit {result.exit_code}" + (f": {result.error}" if result.error else "")
        if result.report is not None and not result.error:
            what = f"{result.report.kernel_diag.verdict} -> {result.html}"
        stream.write(f"kit: [{done[0]}/{total}] {one_line(result.target)}: {one_line(what)}\n")
        stream.flush()

    return show


def _collect_series(args: argparse.Namespace, transport: Transport, progress: Callable[[str], None]) -> int:
    """--every/--count: one line per capture as it is written, then the trend's HTML and JSON paths."""
    from kit import output_file, series

    def written(path: Path) -> None:
        output_file.to_stdout(lambda out: out.write(f"{path}\n"))

    result = series.run(
        transport,
        Path(args.captures),
        Path(args.reports),
        args.every,
        args.count,
        written,
        args.probe_timeout,
        progress,
        args.max_capture * MIB,
    )
    if sys.stderr.isatty() and result.trend is not None:
        from kit.render import trend as trend_render

        sys.stderr.write("\r\x1b[2K" + visible(trend_render.render_text(result.trend), keep_newlines=True))
    output_file.to_stdout(lambda out: out.write(f"{result.trend_html}\n{result.trend_json}\n"))
    n = len(result.captures)
    if result.interrupted:
        sys.stderr.write(f"kit collect: interrupted after {n} capture(s); the trend covers those\n")
    elif result.error is not None:
        sys.stderr.write(f"kit collect: the series stopped after {n} capture(s): {one_line(result.error)}\n")
    return result.exit_code


# --- render ------------------------------------------------------------------


def read_input(arg: str) -> tuple[Capture, str]:
    """What `kit render` (and every command that reads captures) reads: a file, or stdin for `-`.

    Returns (capture, source name). Unreadable input is an InputError (exit 2).
    """
    from kit import capture  # not kit.collect: reading needs none of the SSH side (~5 ms of imports)

    if arg != "-":
        return capture.read(Path(arg)), arg
    # A paste on stdin (`xclip -o | kit render -`, or pasted into the terminal, then Ctrl-D).
    try:
        from kit.bounded_read import read_stream

        data = read_stream(sys.stdin.buffer, capture.MAX_INPUT, "stdin", "capture")
        return capture.from_bytes(data, source="stdin"), "-"
    except capture.CaptureFormatError as exc:
        raise InputError(f"stdin: damaged capture: {exc}") from None
    except capture.NoSocketData as exc:
        raise InputError(f"stdin: {exc}") from None


def _read_report(arg: str) -> Report:
    """A Report from anything `kit render` reads (one place, so render, diff and trend read alike)."""
    from kit import report as report_mod

    cap, source = read_input(arg)
    return report_mod.build(cap, source=source)


def _place(
    emit: Callable[[TextIO], object], fmt: str, dest: str | None, reports: str, stem: str, inputs: Sequence[str]
) -> None:
    """Output where `kit render` puts it: html under --reports (path printed), json/text on stdout, or -o.

    `emit(stream)` writes the output (the JSON report is streamed, never held
    whole). `-o` never replaces one of `inputs`, a link or a device (kit.output_file).
    """
    import io

    from kit import output_file

    if dest == "-" or (dest is None and fmt != "html"):
        output_file.to_stdout(emit)
    elif dest is None:
        buffer = io.StringIO()
        emit(buffer)
        out_path = output_file.new_file(Path(reports), stem, ".html", buffer.getvalue().encode("utf-8"))
        print(out_path)
    else:
        with output_file.replacing(Path(dest), inputs) as fh:
            emit(fh)


def cmd_render(args: argparse.Namespace) -> int:
    if len(args.capture) > 1 or args.index:
        return _render_many(args)
    args.capture = args.capture[0]
    if args.capture != "-":
        from kit import failure_note

        note = failure_note.read(Path(args.capture))
        if note is not None:  # a device that was never reached: nothing to render
            sys.stderr.write(f"kit render: {one_line(args.capture)}: {one_line(note.target)}: {one_line(note.error)}\n")
            return note.exit
    path = Path("stdin" if args.capture == "-" else args.capture)
    rep = _read_report(args.capture)
    _hold_until_exit(rep)
    emit: Callable[[TextIO], object]  # writes the output: the JSON is streamed, never held whole
    if args.format == "html":
        from kit.render import html

        output = html.render(rep, redact=args.redact)
        emit = lambda out: out.write(output)  # noqa: E731
    elif args.format == "json":
        from kit.render import json as json_render

        if args.redact:
            from kit.redact import redact_json

            redacted = redact_json(json_render.to_dict(rep))
            emit = lambda out: json_render.write_data(redacted, out)  # noqa: E731
        else:
            emit = lambda out: json_render.write(rep, out)  # noqa: E731
    else:
        from kit.render import text

        if args.redact:
            from kit.redact import redact

            rep = redact(rep)
        output = visible(text.render(rep), keep_newlines=True)
        emit = lambda out: out.write(output)  # noqa: E731
    # A redacted report's name must not repeat the capture's (it names the host and the user).
    stem = "redacted" if args.redact else path.stem
    _place(emit, args.format, args.output, args.reports, stem, [args.capture])
    if rep.capture.partial:
        # Rendered all the same; the exit says what a collect cut short says (docs/design.md: exit 4).
        sys.stderr.write(f"kit render: {one_line(path)}: the probe's output is cut short: the report is partial\n")
        return ExitStatus.INCOMPLETE
    return ExitStatus.OK


def _render_many(args: argparse.Namespace) -> int:
    """kit render A B ...: each as `kit render A` (HTML under --reports), then their index; paths printed."""
    from kit import index, output_file

    if args.format != "html" or args.output is not None or args.redact:
        raise UsageError(
            "several inputs are rendered as HTML under --reports, plus their index; "
            "for --format, -o or --redact give one input at a time"
        )
    started = time.time()
    if args.capture.count("-") > 1:
        raise UsageError("stdin (-) can be read only once")
    output_file.directory(Path(args.reports), "--reports")
    entries = [index.render_one(arg, Path(args.reports), read_input) for arg in args.capture]
    for entry in entries:
        if entry.html is None:
            sys.stderr.write(f"kit render: {one_line(entry.error)}\n")
    written = "".join(f"{e.html}\n" for e in entries if e.html is not None)
    output_file.to_stdout(lambda out: out.write(written))
    html_path, json_path = index.write(entries, Path(args.reports), started, time.time())
    output_file.to_stdout(lambda out: out.write(f"{html_path}\n{json_path}\n"))
    return index.exit_code(entries)


# --- diff --------------------------------------------------------------------


def cmd_diff(args: argparse.Namespace) -> int:
    from kit.analyse import diff as diff_mod
    from kit.render import diff as diff_render

    if args.old == "-" and args.new == "-":
        raise UsageError("only one of OLD and NEW can be - (stdin)")
    old, new = _read_report(args.old), _read_report(args.new)
    result = diff_mod.diff(old, new)
    if args.redact:
        from kit.redact import redactor_for_reports

        result = redactor_for_reports((old, new)).value(result)
    del old, new
    if args.format == "html":
        output = diff_render.render_html(result, redacted=args.redact)
    elif args.format == "json":
        output = diff_render.render_json(result)
    else:
        output = diff_render.render_text(result)
    stem = "diff-redacted" if args.redact else f"diff-{Path(args.old).stem[:30]}-{Path(args.new).stem[:30]}"
    _place(lambda out: out.write(output), args.format, args.output, args.reports, stem, [args.old, args.new])
    return ExitStatus.OK


# --- trend -------------------------------------------------------------------


def trend_of(paths: Sequence[str]) -> Trend:
    """The Trend of captures of one device (each boiled down to a sample as it is read)."""
    from kit.analyse import trend as trend_mod
    from kit.render.diff import describe_side

    samples = []
    for arg in paths:
        samples.append(trend_mod.sample(_read_report(arg)))
        stranger = trend_mod.other_device(samples)
        if stranger is not None:
            raise InputError(
                f"{arg}: a capture of {describe_side(stranger.side)}, not of {describe_side(samples[0].side)}: "
                "kit trend takes captures of one device"
            )
    return trend_mod.build(samples)


def cmd_trend(args: argparse.Namespace) -> int:
    from kit.render import trend as trend_render

    if args.captures.count("-") > 1:
        raise UsageError("stdin (-) can be given once")
    trend = trend_of(args.captures)
    if args.format == "html":
        output = trend_render.render_html(trend)
    elif args.format == "json":
        output = trend_render.render_json(trend)
    else:
        output = trend_render.render_text(trend)
    stem = f"trend-{Path(trend.samples[0].side.source or 'stdin').stem[:50]}"
    _place(lambda out: out.write(output), args.format, args.output, args.reports, stem, args.captures)
    return ExitStatus.OK


# --- probe / kconfig ---------------------------------------------------------


def cmd_probe(args: argparse.Namespace) -> int:
    from kit.probe import render_probe

    sys.stdout.write(render_probe())
    return ExitStatus.OK


def cmd_kconfig(args: argparse.Namespace) -> int:
    from kit.kconfig import check as kconfig_check

    require = [o.strip() for o in args.require.split(",") if o.strip()]
    if not require:
        raise UsageError("--require needs at least one CONFIG_ option")
    return kconfig_check.run(args.paths, require, args.format, sys.stdout)


# --- the parser and the error handler ---------------------------------------


def _add_output_options(p: argparse.ArgumentParser, redact: bool) -> None:
    """--format, -o, [--redact,] --reports: where render, diff and trend put what they write."""
    p.add_argument("--format", choices=("html", "json", "text"), default="html")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE|-",
        help="write here (- is stdout); default: html under --reports, json and text on stdout",
    )
    if redact:
        p.add_argument("--redact", action="store_true", help="replace addresses and host names with tokens")
    p.add_argument("--reports", default="reports", metavar="DIR", help="where html goes without -o (default ./reports)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kit",
        description="Field diagnostic kit for socket memory on embedded Linux routers: "
        "collect `ss -napm` and what explains it over SSH, check the kernel can report "
        "socket memory at all, and render one self-contained report for a ticket.",
        epilog="Start with: kit collect --local   (this machine), or kit collect root@ROUTER",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    raw = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser(
        "collect",
        help="probe a device (or --local) and write capture + reports",
        description="Run the read-only probe on a device over SSH (or here with --local), "
        "save the raw capture first, then render HTML and JSON reports.",
        epilog=EPILOG_COLLECT,
        formatter_class=raw,
    )
    p.add_argument("destination", nargs="?", metavar="[user@]host", help="the device, as for ssh")
    p.add_argument(
        "-f",
        dest="file",
        metavar="FILE",
        help="many devices: one target per line ([user@]host, ssh_config alias, ssh://[user@]host[:port]; "
        "- is stdin); prints the index HTML and JSON paths",
    )
    p.add_argument(
        "-j", dest="jobs", type=int, default=8, metavar="N", help="with -f: at most N devices at once (default 8)"
    )
    p.add_argument("--local", action="store_true", help="run the probe on this machine with /bin/sh")
    p.add_argument("-p", "--port", type=int, help="SSH port (default 22)")
    p.add_argument("-l", "--login", metavar="USER", help="user to log in as (default: user@ or your name)")
    p.add_argument(
        "-i", "--identity", action="append", default=[], metavar="KEYFILE", help="private key file; may be repeated"
    )
    p.add_argument(
        "-F",
        dest="config",
        metavar="SSH_CONFIG",
        help="ssh_config file (default ~/.ssh/config, then /etc/ssh/ssh_config; 'none': no file)",
    )
    p.add_argument(
        "-J",
        dest="jump",
        metavar="[user@]host[:port]",
        help="reach the device through this jump host (comma-separated for several; like ssh -J / ProxyJump)",
    )
    p.add_argument("--known-hosts", metavar="FILE", help="known_hosts file (default ~/.ssh/known_hosts)")
    p.add_argument(
        "--accept-new",
        action="store_true",
        help="record an unknown host key in the known_hosts file (a changed key is always refused)",
    )
    pw = p.add_mutually_exclusive_group()
    pw.add_argument("--password-env", metavar="VAR", help="take the password from environment variable VAR")
    pw.add_argument(
        "--ask-password",
        action="store_true",
        help="prompt for the password on the terminal when the server asks for one",
    )
    p.add_argument(
        "--legacy",
        action="store_true",
        help="also allow SHA-1 key exchange, ssh-rsa/ssh-dss host keys and CBC ciphers, "
        "for old dropbear builds (see docs/decisions/paramiko-legacy.md)",
    )
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="connect/handshake/auth timeout (default: ssh_config ConnectTimeout, else 15)",
    )
    p.add_argument(
        "--probe-timeout",
        type=_seconds,
        default=300.0,
        metavar="SECONDS",
        help="time allowed for the whole probe (default 300)",
    )
    p.add_argument(
        "--max-capture",
        type=_positive_int,
        default=512,
        metavar="MiB",
        help="stop reading after this much output: the link is closed, the partial capture kept, exit 4 (default 512)",
    )
    p.add_argument(
        "--every",
        type=_seconds,
        metavar="SECONDS",
        help="with --count: run the probe every SECONDS over one connection, then write the trend",
    )
    p.add_argument(
        "--count", type=_positive_int, metavar="N", help="with --every: how many runs (each its own capture)"
    )
    p.add_argument("--captures", default="captures", metavar="DIR", help="where captures go (default ./captures)")
    p.add_argument("--reports", default="reports", metavar="DIR", help="where reports go (default ./reports)")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser(
        "render",
        help="render a saved capture or a pasted `ss` output",
        description="Parse and analyse a capture again and render it as HTML, JSON or text.",
        epilog=EPILOG_RENDER,
        formatter_class=raw,
    )
    p.add_argument(
        "capture",
        nargs="+",
        metavar="CAPTURE",
        help="a .cap file from kit collect, the saved output of kit probe, or a pasted ss/netstat/proc table; "
        "- is stdin; several: each rendered, plus their index",
    )
    _add_output_options(p, redact=True)
    p.add_argument(
        "--index", action="store_true", help="also write the index of the inputs (implied by several inputs)"
    )
    p.set_defaults(func=cmd_render)

    p = sub.add_parser(
        "diff",
        help="what changed between two captures (before/after, or a leak)",
        description="Compare two captures (or pastes) of a device: totals, processes, sockets, "
        "kernel diag and findings, OLD against NEW.",
        epilog=EPILOG_DIFF,
        formatter_class=raw,
    )
    p.add_argument("old", metavar="OLD", help="the earlier capture (anything kit render reads)")
    p.add_argument("new", metavar="NEW", help="the later capture")
    _add_output_options(p, redact=True)
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser(
        "trend",
        help="how socket memory moved over a series of captures; what grows",
        description="Read captures of one device, order them by time, chart socket memory and "
        "find the processes and sockets whose memory keeps growing.",
        epilog=EPILOG_TREND,
        formatter_class=raw,
    )
    p.add_argument("captures", nargs="+", metavar="CAPTURE", help="captures of one device (anything kit render reads)")
    _add_output_options(p, redact=False)
    p.set_defaults(func=cmd_trend)

    p = sub.add_parser(
        "probe",
        help="print the device-side probe (POSIX sh)",
        description="Print the read-only probe script, to run by hand where SSH is not possible.",
        epilog=EPILOG_PROBE,
        formatter_class=raw,
    )
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser(
        "kconfig",
        help="check a kernel config or image for the socket diag options",
        description="Check .config files, config.gz, or kernel images built with "
        "CONFIG_IKCONFIG for the options ss needs to show socket memory.",
        epilog=EPILOG_KCONFIG,
        formatter_class=raw,
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--require", default=",".join(REQUIRED), metavar="OPT[,OPT...]")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_kconfig)
    return parser


def _log_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(base) / "kit" / "kit.log"


def _write_crash_log(exc: BaseException) -> Path:
    """Append the traceback to the log, created 0600 in a directory only this user can write.

    The log holds argv and tracebacks: never a predictable name in a shared
    /tmp (a planted symlink there would be followed), never readable by others.
    """
    import datetime as dt  # here: commands that do not crash do not pay for these imports
    import tempfile
    import traceback

    text = "".join(traceback.format_exception(exc))
    stamp = dt.datetime.now(dt.timezone.utc).isoformat()
    entry = f"--- {stamp} kit {__version__} {' '.join(sys.argv)}\n{text}\n"
    candidates = [_log_path]
    candidates.append(lambda: Path(tempfile.mkdtemp(prefix="kit-log-")) / "kit.log")  # new, 0700
    for where in candidates:
        try:
            path = where()
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            st = path.parent.stat()
            if st.st_uid != os.getuid() or st.st_mode & 0o022:
                continue  # someone else could swap the file: not here
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(entry)
            return path
        except OSError:
            continue
    return Path("(nowhere: no writable log location)")


def main(argv: Sequence[str] | None = None) -> int:
    _HELD.clear()
    parser = build_parser()
    args = parser.parse_args(argv)
    code = _dispatch(args)
    try:
        sys.stdout.flush()  # what was printed (collect's three paths) must reach stdout
    except BrokenPipeError:
        silence_stdout()
    except OSError as exc:  # stdout on /dev/full, a full disk
        silence_stdout()
        sys.stderr.write(f"kit {args.command}: cannot write to stdout: {one_line(exc.strerror or exc)}\n")
        return max(code, ExitStatus.USAGE)
    return code


def entry() -> NoReturn:
    """The `kit` console script and `python -m kit`: main(), then the exit."""
    code = main()
    if _HELD:
        # A command left its big result to the OS (_hold_until_exit): its output
        # is written and flushed (main), and nothing it ran registered an atexit
        # handler (tests/test_cli.py checks), so the process ends here, without
        # freeing ~400k objects of a 100k-socket report one by one (~20 ms).
        try:
            sys.stderr.flush()
        finally:
            os._exit(code)
    # What is left is dropped with the process: gc.freeze() spares the exit's
    # garbage collections a walk over every object of every imported module
    # (~20 ms of CPU, ~30 ms of wall time of each command, measured on kit
    # collect). Not in main(): tests call it in-process many times.
    gc.freeze()
    sys.exit(code)


# What the console script leaves to the OS to free when it exits (entry()):
# the report `kit render` made, held from the start of the command to the end
# of the process. main() empties it, so in-process callers hold at most one.
_HELD: list[object] = []


def _hold_until_exit(big: object) -> None:
    _HELD.append(big)


def _dispatch(args: argparse.Namespace) -> int:
    """Run the command; turn every way it can end into an exit code and at most one stderr line."""
    command: Callable[[argparse.Namespace], int] = args.func
    try:
        return command(args)
    except KitError as exc:
        sys.stderr.write(f"kit {args.command}: {one_line(exc)}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write(f"kit {args.command}: interrupted\n")
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:
        # `kit render ... | head`: the reader left; not an error of ours.
        silence_stdout()
        return ExitStatus.OK
    except Exception as exc:  # noqa: BLE001 - the one place that turns surprises into a line
        log = _write_crash_log(exc)
        sys.stderr.write(
            f"kit {args.command}: internal error: {type(exc).__name__}: "
            f"{one_line(str(exc).splitlines()[0]) if str(exc) else ''} (traceback in {one_line(log)})\n"
        )
        return ExitStatus.INTERNAL
