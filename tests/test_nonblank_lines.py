"""SectionOutput.nonblank_lines counts on the bytes what `line.strip()` keeps of the decoded text.

The unread-lines share (kit.analyse.findings) divides by it; it must not decode the
whole text again (a 20 MB paste of junk would cost another 20 MB and more).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kit import capture as capture_mod
from kit.capture import SectionOutput, decode

# Bytes that decode to blanks (ASCII, NBSP, NEL, U+2028, U+3000), cut or invalid UTF-8, NUL, text.
PIECES = [b" ", b"\t", b"\n", b"\r", b"\x0b", b"\x0c", b"\x1c", b"\x1f", b"\x00", b"a", b"\xc2\xa0", b"\xc2\x85"]
PIECES += [b"\xe2\x80\xa8", b"\xe3\x80\x80", b"\xe2\x80", b"\xff", b"\x85", b"\xc3\xa9", b"\xed\xa0\x80", b"\n\n"]


def by_decoding(data: bytes) -> int:
    return sum(1 for line in decode(data).split("\n") if line.strip())


@given(st.lists(st.sampled_from(PIECES), max_size=40).map(b"".join))
def test_same_count_as_decoded_text(data):
    assert SectionOutput("ss", data, "", 0).nonblank_lines() == by_decoding(data)


@given(st.binary(max_size=300))
def test_same_count_on_any_bytes(data):
    assert SectionOutput("ss", data, "", 0).nonblank_lines() == by_decoding(data)


def test_paste_keeps_one_copy_of_its_body():
    """A raw paste whose unmangling changed it keeps the unmangled bytes only, not the pasted ones too."""
    paste = (
        b"State\tRecv-Q\tSend-Q\tLocal Address:Port\tPeer Address:Port\r\nESTAB\t0\t0\t10.0.0.1:22\t10.0.0.2:5555\r\n"
    )
    cap = capture_mod.from_bytes(paste)
    (section,) = cap.sections.values()
    assert cap.undone and section.stdout != paste
    assert cap.stdout is section.stdout
