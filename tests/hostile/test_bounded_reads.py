"""Every read is bounded: device files refused, FIFOs and stdin read with a cap, gzip and
image decompression capped. One line on stderr, exit 2, no memory blow-up."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import pytest

from kit.bounded_read import read_stream
from kit.errors import InputError
from kit.kconfig import check as kconfig_check
from kit.kconfig import image as kconfig_image

CAPTURE = Path(__file__).resolve().parents[2] / "captures" / "testdev-busybox-dropbear.cap"
KIT = str(Path(sys.executable).with_name("kit"))
MIB = 1024 * 1024


def gzip_of_zeros(n: int) -> bytes:
    """A gzip stream of n zero bytes, made chunk by chunk (the test never holds n bytes)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(MIB)
    parts = [c.compress(zeros) for _ in range(n // MIB)]
    return b"".join(parts) + c.flush()


@pytest.mark.parametrize("command", [["render"], ["render", "--format", "json"], ["kconfig"]])
def test_device_files_are_refused_at_once(command, kit_run):
    ran = kit_run(command[0], "/dev/zero", *command[1:], timeout=30)
    assert ran.code == 2 and "/dev/zero: is a device" in ran.line


def test_a_fifo_is_read(tmp_path, kit_run):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def feed():
        with open(fifo, "wb") as fh:
            fh.write(CAPTURE.read_bytes())

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    ran = kit_run("render", fifo, "--format", "json", timeout=60)
    writer.join(10)
    assert ran.code == 0 and ran.out.startswith(b"{"), ran


def test_a_pipe_that_never_ends_is_cut_at_the_limit():
    proc = subprocess.Popen(["yes"], stdout=subprocess.PIPE)
    try:
        with pytest.raises(InputError, match="stdin: more than 4 MiB"):
            read_stream(proc.stdout, 4 * MIB, "stdin", "capture")
    finally:
        proc.kill()
        proc.wait()


def test_gzip_bomb_as_config_gz(tmp_path, kit_run):
    bomb = tmp_path / "config.gz"
    bomb.write_bytes(gzip_of_zeros(200 * MIB))
    assert bomb.stat().st_size < 1 * MIB
    ran = kit_run("kconfig", bomb, timeout=60)
    assert ran.code == 2 and "unpacks to more than 64 MiB" in ran.line


def test_gzip_bomb_inside_a_kernel_image_stops_at_the_cap(tmp_path):
    """A payload of 300 MiB of zeros: decompressed only up to kconfig_image.MAX_OUTPUT, then 'no config'."""
    image = tmp_path / "vmlinuz"
    image.write_bytes(b"\x7fELF\x01\x01\x01" + bytes(64) + gzip_of_zeros(300 * MIB))
    proc = subprocess.run(
        [sys.executable, "-c", "import resource, sys; from kit.cli import main; code = main(sys.argv[1:]); "
         "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(code)",
         "kconfig", str(image)],
        capture_output=True, timeout=120,
    )  # fmt: skip
    line, rss_kb = proc.stderr.decode().splitlines()
    assert proc.returncode == 2 and "no embedded kernel config" in line
    assert int(rss_kb) * 1024 < 2 * kconfig_image.MAX_OUTPUT + 200 * MIB


def test_limits_are_what_the_docs_say():
    from kit import capture

    assert capture.MAX_INPUT == 640 * MIB
    assert kconfig_check.MAX_INPUT == 1024 * MIB and kconfig_check.MAX_CONFIG == 64 * MIB
    assert kconfig_image.MAX_OUTPUT == 256 * MIB
