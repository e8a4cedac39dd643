"""Captures: the exact bytes the device sent, saved before anything parses them.

File layout (version 1):

    KIT-CAPTURE 1\\n
    {one line of JSON: the header}\\n
    <stdout bytes of the probe><stderr bytes of the probe>

The header carries the kit version, target, times, host key fingerprint, the
exit status, whether the run was cut short (`partial`), the per-run token and
the byte lengths of stdout and stderr, so the body is kept byte for byte.

A file that does not start with the magic line is either the probe's own
output saved by hand (`kit probe` run on a console, its output in a file, a
log or a ticket: read through its markers, see `_hand_run`) or a raw paste
from a ticket (`ss -napm` output, say), which `load()` wraps as a
one-section capture; the rest of the pipeline reads all three alike.

Why ~430 lines in one module: the three ways in (capture file, hand-run probe
output, paste) end in the one `Capture` and share the section splitter and
the header checks, and saving a capture as a new 0600 file sits beside reading
it; streaming a collect to disk is kit/capture_writer.py, unmangling kit/unmangle.py.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from kit.errors import InputError
from kit.frozen import frozen
from kit.numbers import to_int
from kit.probe import PROBE_START
from kit.sections import SECTIONS, Section
from kit.unmangle import Undone, unmangle

MAGIC = b"KIT-CAPTURE 1\n"
STDERR_LIMIT = 65536  # what the probe keeps of each command's stderr


class CaptureFormatError(ValueError):
    """The file claims to be a capture but its header is damaged."""


class NoSocketData(ValueError):
    """The file is neither a capture nor the probe's output, and holds no line of socket data."""


# ASCII bytes that decode to a blank to str.strip(), \n aside; NUL decodes to U+FFFD, not a blank.
_BLANKS = rb" \t\r\x0b\x0c\x1c-\x1f"
_NONBLANK_ASCII = re.compile(rb"^[" + _BLANKS + rb"\x80-\xff]*[^" + _BLANKS + rb"\n\x80-\xff]", re.MULTILINE)
_BLANK_OR_HIGH = re.compile(rb"^[" + _BLANKS + rb"]*[\x80-\xff][" + _BLANKS + rb"\x80-\xff]*$", re.MULTILINE)


@frozen
class SectionOutput:
    """One section as it came back from the device."""

    name: str
    stdout: bytes
    stderr: str
    rc: int | None  # None: the section never finished (link lost, probe killed)
    truncated: bool = False  # stdout cut at the section's max_bytes
    complete: bool = True  # the END marker arrived

    @property
    def text(self) -> str:
        return decode(self.stdout)

    @property
    def ok(self) -> bool:
        return self.rc == 0 and self.complete

    def nonblank_lines(self) -> int:
        """How many lines of `text` are not blank (`line.strip()`), counted on the bytes: decoding
        the whole text again (20 MB of junk lines, say) would cost as much memory as the text."""
        count = sum(1 for _ in _NONBLANK_ASCII.finditer(self.stdout))
        # A line of blanks and non-ASCII bytes: blank only if those bytes are blanks too (NBSP, U+2028, ...).
        return count + sum(1 for m in _BLANK_OR_HIGH.finditer(self.stdout) if decode(m.group()).strip())


@dataclass(slots=True)
class Capture:
    header: dict[str, Any]
    stdout: bytes
    stderr: bytes
    sections: dict[str, SectionOutput] = field(default_factory=dict)
    raw_paste: bool = False  # not a kit capture: text pasted from a ticket
    problems: list[str] = field(default_factory=list)  # framing trouble, shown in the report
    cut_short: bool = False  # the file or the probe's output ends early (no DONE marker)
    undone: tuple[Undone, ...] = ()  # what kit.unmangle undid before reading (CR LF, a prefix, ...)

    @property
    def partial(self) -> bool:
        """The run was cut short (header says so), or the bytes we have stop early."""
        return bool(self.header.get("partial")) or self.cut_short


def decode(data: bytes) -> str:
    """Device bytes to text: invalid UTF-8 and NUL bytes become U+FFFD, never an exception."""
    return data.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


# --- writing -----------------------------------------------------------------


def header_bytes(header: dict[str, Any]) -> bytes:
    """The magic line and the header line; the header must already hold the byte lengths."""
    line = json.dumps(header, sort_keys=True, ensure_ascii=True).encode("ascii")
    return MAGIC + line + b"\n"


def capture_bytes(header: dict[str, Any], stdout: bytes, stderr: bytes) -> bytes:
    return header_bytes(dict(header, stdout_bytes=len(stdout), stderr_bytes=len(stderr))) + stdout + stderr


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")
    return slug[:64] or "device"


def write_new(
    directory: Path, stem: str, suffix: str, data: bytes | Callable[[BinaryIO], object], mode: int = 0o600
) -> Path:
    """Write `data` atomically to a new file `stem[-N]suffix` in `directory`; never overwrite.

    `data` is the bytes, or a function that writes them to the file it is
    given (a big JSON report is streamed, never held whole).

    The bytes go to a temporary file in the same directory, are fsync'ed, and
    are then hard-linked to the first free name: a reader never sees half a
    file and an existing file is never replaced.
    """
    directory.mkdir(parents=True, exist_ok=True)
    import tempfile  # here: reading commands never write a temporary file

    fd, tmp = tempfile.mkstemp(prefix=".kit-", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return link_new(Path(tmp), directory, stem, suffix)
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def link_new(tmp: Path, directory: Path, stem: str, suffix: str) -> Path:
    """Hard-link the finished file `tmp` to the first free `stem[-N]suffix`.

    link(2) fails on any existing name, a dangling symlink included, so
    nothing is replaced and no planted link is followed.
    """
    for n in range(1000):
        path = directory / (f"{_slug(stem)}{'' if n == 0 else f'-{n}'}{suffix}")
        try:
            os.link(tmp, path)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free file name for {stem}{suffix} in {directory}")


def save(directory: Path, stem: str, header: dict[str, Any], stdout: bytes, stderr: bytes) -> Path:
    return write_new(directory, stem, ".cap", capture_bytes(header, stdout, stderr))


# --- reading -----------------------------------------------------------------


# The most `kit render` reads from one input: the largest capture `kit collect`
# writes (--max-capture, 512 MiB by default) with room to spare.
MAX_INPUT = 640 * 1024 * 1024


def load(path: Path, limit: int = MAX_INPUT) -> Capture:
    """Read a capture or paste from `path` (bounded: kit.bounded_read) and make a Capture of it."""
    from kit.bounded_read import read_file

    return from_bytes(read_file(path, limit, "capture"), source=str(path))


def read(path: Path) -> Capture:
    """load(), with every way the file cannot be read as an InputError (exit 2): what kit
    render and kit collect say about a capture they cannot read."""
    try:
        return load(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a capture") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except CaptureFormatError as exc:
        raise InputError(f"{path}: damaged capture: {exc}") from None
    except NoSocketData as exc:
        raise InputError(f"{path}: {exc}") from None


def from_bytes(data: bytes, source: str = "") -> Capture:
    if not data.startswith(MAGIC):
        return _raw_paste(data, source)
    end = data.find(b"\n", len(MAGIC))
    if end < 0:
        raise CaptureFormatError("capture header is cut off")
    header, problems = read_header(data[len(MAGIC) : end])
    body = data[end + 1 :]
    n_out = header.get("stdout_bytes", len(body))
    n_err = header.get("stderr_bytes", 0)
    stdout, stderr = body[:n_out], body[n_out : n_out + n_err]
    capture = Capture(header=header, stdout=stdout, stderr=stderr, problems=problems)
    if len(body) < n_out + n_err:
        capture.cut_short = True
        capture.problems.append(f"capture file is shorter than its header says ({len(body)} of {n_out + n_err} bytes)")
    token = header.get("token")
    if token:
        _split(capture, token)
    return capture


# The header fields kit reads, and the JSON types each may have (None: null).
# A field of another type is dropped with a problem: the body still renders.
_HEADER_TYPES: dict[str, tuple[type, ...]] = {
    "kit_version": (str,),
    "target": (str,),
    "started": (str,),
    "finished": (str,),
    "host_key": (str,),
    "error": (str,),
    "exit_status": (int,),
    "partial": (bool,),
    "stdout_bytes": (int,),
    "stderr_bytes": (int,),
    "token": (str,),
}
_TOKEN = re.compile(r"[A-Za-z0-9]{1,64}")


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def read_header(line: bytes) -> tuple[dict[str, Any], list[str]]:
    """The capture header line as a dict whose known fields have their types; never raises but CaptureFormatError.

    Not JSON, not an object, NaN/Infinity anywhere, or byte counts that are
    not counts: CaptureFormatError (exit 2: the body cannot be cut). Another
    known field of the wrong type is dropped and named in the problems.
    """
    try:
        header = json.loads(line, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise CaptureFormatError(f"capture header is not valid JSON ({one_line_text(exc)})") from None
    if not isinstance(header, dict):
        raise CaptureFormatError(f"capture header is not a JSON object (it is {type(header).__name__})")
    problems = []
    for key, types in _HEADER_TYPES.items():
        value = header.get(key)
        # bool is an int in Python: exit_status true is not a status.
        if value is None or (isinstance(value, types) and not (bool not in types and isinstance(value, bool))):
            continue
        if key in ("stdout_bytes", "stderr_bytes"):
            raise CaptureFormatError(f"capture header: {key} is not a byte count")
        problems.append(f"capture header: {key} is not a {types[0].__name__}; ignored")
        del header[key]
    for key in ("stdout_bytes", "stderr_bytes"):
        if header.get(key, 0) is None:
            del header[key]  # null: as if absent
        elif header.get(key, 0) < 0:
            raise CaptureFormatError(f"capture header: {key} is negative")
    token = header.get("token")
    if token is not None and not _TOKEN.fullmatch(token):
        problems.append("capture header: the token is not a kit token; the sections cannot be found")
        del header["token"]
    return header, problems


def one_line_text(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _split(capture: Capture, token: str) -> None:
    """Cut the probe's output into its sections; no end marker: the capture is partial."""
    capture.sections, problems = split_sections(capture.stdout, token)
    capture.problems.extend(problems)
    if not capture.stdout.rstrip().endswith(f"{token} DONE".encode("ascii")):
        capture.cut_short = True
        if not capture.header.get("partial"):
            capture.problems.append("the probe's output stops before its end marker: the capture is partial")


def _hand_run(text: str, source: str) -> Capture | None:
    """The probe's own output, saved by hand (`sh probe.sh > out.txt`, `kit probe | ssh dev sh -s`,
    a serial-console log, a ticket): None when the text holds no probe start marker.

    The token is read back from the probe's first marker line. The text is
    unmangled with the token's marker lines as the data lines (so a console's
    CR LF and a logger's timestamp on every line go), then cut to the last run
    of the probe in it: from its start marker to its DONE marker. What stands
    before (the echoed command line) and after (the next prompt) is counted,
    not read.
    """
    starts = list(PROBE_START.finditer(text))
    if not starts:
        return None
    token, version = starts[-1].group("token"), starts[-1].group("version")
    markers = re.compile(re.escape(token) + r" (?:KIT-PROBE|BEGIN|STDERR|RC|END|DONE)\b")
    clean = unmangle(text, anchor=markers, tabs=False)
    lines = clean.text.split("\n")
    for i, line in enumerate(lines):
        m = markers.search(line)
        if m and m.start():  # a marker whose prefix did not fit the pattern: the marker is what counts
            lines[i] = line[m.start() :]
    start_line = f"{token} KIT-PROBE 1 "
    first = max(i for i, line in enumerate(lines) if line.startswith(start_line))
    done = next((i for i in range(first + 1, len(lines)) if lines[i].rstrip() == f"{token} DONE"), None)
    last = len(lines) - 1 if done is None else done
    stdout = ("\n" + "\n".join(lines[first : last + 1]) + "\n").encode("utf-8")
    header = {
        "target": source or "probe output",
        "hand_run": True,
        "kit_version": version,
        "token": token,
        "lines_before": sum(1 for line in lines[:first] if line.strip()),
        "lines_after": sum(1 for line in lines[last + 1 :] if line.strip()),
    }
    capture = Capture(header=header, stdout=stdout, stderr=b"", undone=clean.undone)
    _split(capture, token)
    return capture


def _raw_paste(data: bytes, source: str) -> Capture:
    from kit.paste import detect, has_socket_data  # local import: detection is only for pastes

    text = decode(data)
    hand_run = _hand_run(text, source)
    if hand_run is not None:
        return hand_run
    clean = unmangle(text)
    if not has_socket_data(clean.text):
        raise NoSocketData(
            "no socket data in it: kit reads a capture of kit collect, the output of kit probe, "
            "or a paste of ss, netstat or a /proc/net table"
            + (" (this is empty)" if not text.strip() else " (this looks binary)" if _binary(data) else "")
        )
    name = detect(clean.text)
    undone = clean.undone
    header = {"target": source or "paste", "raw_paste": True, "detected": name}
    # The section holds the unmangled text: what the parser reads, and what
    # its line numbers (and the report's unread lines) refer to.
    # Nothing reads the pasted bytes once unmangled (the file is on disk):
    # the capture's stdout is the section's, not a second copy of the paste.
    body = clean.text.encode("utf-8") if clean.undone else data
    del text, clean
    section = SectionOutput(name=name, stdout=body, stderr="", rc=0)
    return Capture(header=header, stdout=body, stderr=b"", sections={name: section}, raw_paste=True, undone=undone)


def _binary(data: bytes) -> bool:
    head = data[:4096]
    return b"\x00" in head or sum(b < 9 or 13 < b < 32 for b in head) > len(head) // 10


_MARKER = re.compile(rb"(BEGIN|STDERR|RC|END|DONE|KIT-PROBE) ?([^\n]*)\n?")


def split_sections(
    stdout: bytes, token: str, table: tuple[Section, ...] = SECTIONS
) -> tuple[dict[str, SectionOutput], list[str]]:
    """Cut the probe's stdout into sections at the token's markers (see probes/probe.sh).

    `table` is the section table the probe was rendered from: it gives each
    section's byte limit, so a cut output can be recognised.
    """
    limits = {s.name: s.max_bytes for s in table}
    sections: dict[str, SectionOutput] = {}
    problems: list[str] = []
    chunks = stdout.split(b"\n" + token.encode("ascii") + b" ")
    if chunks and chunks[0].strip():
        problems.append(f"{len(chunks[0])} bytes before the probe's first marker (shell noise?)")
    current: str | None = None
    out, err, rc = b"", b"", None

    def finish(name: str, complete: bool) -> None:
        limit = limits.get(name)
        truncated = limit is not None and len(out) > limit
        sections[name] = SectionOutput(
            name=name,
            stdout=out[:limit] if truncated else out,
            stderr=decode(err[:STDERR_LIMIT]).strip("\n"),
            rc=rc,
            truncated=truncated,
            complete=complete,
        )

    for chunk in chunks[1:]:
        m = _MARKER.match(chunk)
        if not m:
            problems.append(f"unknown probe marker: {decode(chunk[:40])!r}")
            continue
        kind, arg = m.group(1).decode(), decode(m.group(2)).strip()
        rest = chunk[m.end() :]
        if kind == "BEGIN":
            if current is not None:
                finish(current, complete=False)
                problems.append(f"section {current} has no end marker")
            current, out, err, rc = arg, rest, b"", None
        elif current is None and kind in ("STDERR", "RC", "END"):
            problems.append(f"marker {kind} {arg} outside any section")
        elif kind == "STDERR":
            err = rest
        elif kind == "RC":
            # The exit status races the command's stderr into the same pipe:
            # what follows the RC line is more stderr.
            rc = to_int(arg)
            err += rest
        elif kind == "END" and current is not None:
            finish(current, complete=True)
            current = None
    if current is not None:
        # The link dropped or the probe was killed inside this section.
        finish(current, complete=False)
        problems.append(f"section {current} did not finish")
    return sections, problems
