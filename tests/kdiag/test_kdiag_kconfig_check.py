"""`kit kconfig` (kit.kconfig.check.run): configs, config.gz, kernel images, exit codes 0/1/2."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import sys

import pytest
from support import FIXTURES

from kit.errors import InputError, UsageError
from kit.kconfig import check as kconfig_check
from kit.kconfig import image as kconfig_image

FIRECRACKER = FIXTURES / "kconfig-firecracker-6.18" / "config.gz"
QUIRKS = FIXTURES / "kconfig-quirks"


def _run(paths, require=(), fmt="text"):
    out = io.StringIO()
    code = kconfig_check.run([str(p) for p in paths], list(require), fmt, out)
    return code, out.getvalue()


def _boot(debian, arch, prefix):
    return next((debian(arch) / "boot").glob(prefix + "-*"))


@pytest.mark.parametrize("arch", ["amd64", "mipsel", "armel"])
def test_debian_config_passes_with_modules(debian, arch):
    code, text = _run([_boot(debian, arch, "config")])
    assert code == 0
    assert "[ok  ] CONFIG_INET_UDP_DIAG" in text and "module" in text
    code, out = _run([_boot(debian, arch, "config")], fmt="json")
    doc = json.loads(out)
    assert doc["schema"] == "kit.kconfig/1" and doc["ok"] is True
    f = doc["files"][0]
    assert f["dialect"] == "config"
    assert f["kernel_diag"]["options"]["CONFIG_INET_DIAG"]["state"] == "module"
    assert f["kernel_diag"]["options"]["CONFIG_IKCONFIG"]["state"] == "absent"
    assert f["kernel_diag"]["verdict"] == "ok"
    assert f["required"]["CONFIG_INET_TCP_DIAG"] == {"value": "m", "state": "module", "ok": True}


def test_proc_config_gz_copy_and_a_failing_requirement():
    code, text = _run([FIRECRACKER])
    assert code == 0 and "PASS (3 of 3" in text
    code, text = _run([FIRECRACKER], ["CONFIG_INET_DIAG,INET_RAW_DIAG"])
    assert code == 1
    assert "[FAIL] CONFIG_INET_RAW_DIAG" in text
    assert "-> add to the config and rebuild: CONFIG_INET_RAW_DIAG=y" in text


def test_required_option_kit_does_not_know(tmp_path):
    code, out = _run([FIRECRACKER], ["CONFIG_NET", "CONFIG_NO_SUCH_OPTION"], fmt="json")
    doc = json.loads(out)
    assert code == 1
    req = doc["files"][0]["required"]
    assert req["CONFIG_NET"]["ok"] is True
    assert req["CONFIG_NO_SUCH_OPTION"]["state"] == "absent"


def test_hand_edited_fragment_reports_skipped_lines_and_fails():
    code, text = _run([QUIRKS / "networking-hand-edited.config"])
    # UDP_DIAG's line carries a comment, so kconfig (and kit) ignore it: default n.
    assert code == 1
    assert "[FAIL] CONFIG_INET_UDP_DIAG" in text
    assert "8 line(s) skipped" in text and "line 61: option without '=value'" in text
    assert "defconfig/fragment" in text


def test_many_paths_one_failing(debian):
    code, out = _run([_boot(debian, "mipsel", "config"), QUIRKS / "networking-hand-edited.config"], fmt="json")
    doc = json.loads(out)
    assert code == 1 and [f["ok"] for f in doc["files"]] == [True, False]


@pytest.mark.parametrize("arch", ["amd64", "mipsel", "armel"])
def test_debian_vmlinuz_has_no_ikconfig_exit_2(debian, arch):
    if arch == "amd64":
        pytest.importorskip("lz4", reason="Debian's amd64 payload is lz4: needs kit[lz4]")
    with pytest.raises(InputError) as exc:
        _run([_boot(debian, arch, "vmlinuz")])
    assert exc.value.exit_code == 2
    assert "without CONFIG_IKCONFIG" in exc.value.message
    assert "CONFIG_IKCONFIG=y" in exc.value.hint
    kind = {"amd64": "x86 bzImage", "mipsel": "ELF (MIPS)", "armel": "ARM zImage"}[arch]
    assert kind in exc.value.message


def test_the_real_payloads_are_found(debian):
    """What the image search sees in Debian's own images: the real compressed kernels."""
    zimage = _boot(debian, "armel", "vmlinuz").read_bytes()
    assert [c for c, _, size in kconfig_image.payloads(zimage) if size > 1 << 20] == ["xz"]
    malta = _boot(debian, "mipsel", "vmlinuz").read_bytes()
    assert [c for c, _, size in kconfig_image.payloads(malta) if size > 1 << 20] == ["xz"]


CODECS_NEEDING = {"zstd": "zstandard", "lz4": "lz4", "lzo": "lzo"}


@pytest.mark.parametrize(
    "name",
    [
        "vmlinux-ikconfig",
        "vmlinux-ikconfig.gzip",
        "vmlinux-ikconfig.xz",
        "vmlinux-ikconfig.lzma",
        "vmlinux-ikconfig.bzip2",
        "vmlinux-ikconfig.zstd",
        "vmlinux-ikconfig.lz4",
        "vmlinux-ikconfig.lzo",
        "uImage-lzma",
        "uImage-gzip",
        "fit.itb",
        "zImage-ikconfig",
        "bzImage-ikconfig",
    ],
)
def test_images_with_ikconfig(ikconfig_images, debian, name):
    if name not in ikconfig_images:
        pytest.skip(f"{name} not built here (a tool is missing: see material.py)")
    codec = {
        "vmlinux-ikconfig": None,
        "uImage-lzma": "lzma",
        "uImage-gzip": "gzip",
        "fit.itb": "gzip",
        "zImage-ikconfig": "xz",
        "bzImage-ikconfig": "lz4",
    }.get(name, name.rsplit(".", 1)[-1])
    if codec in CODECS_NEEDING:
        pytest.importorskip(CODECS_NEEDING[codec])
    path = ikconfig_images[name]
    arch = {"uImage-gzip": "armel", "fit.itb": "armel", "zImage-ikconfig": "armel", "bzImage-ikconfig": "amd64"}.get(
        name, "mipsel"
    )
    original = _boot(debian, arch, "config").read_text()
    found = kconfig_image.find(path.read_bytes())
    assert found is not None and found.text == original
    code, out = _run([path], fmt="json")
    f = json.loads(out)["files"][0]
    assert code == 0 and f["embedded"] and "IKCFG_ST at" in f["embedded"]
    if codec:
        assert f"{codec} payload" in f["embedded"]
    assert f["kernel_diag"]["options"]["CONFIG_INET_DIAG"]["state"] == "module"


@pytest.mark.parametrize(
    "codec,module,extra", [("zstd", "zstandard", "kit[zstd]"), ("lz4", "lz4", "kit[lz4]"), ("lzo", "lzo", "kit[lzo]")]
)
def test_missing_extra_is_named(ikconfig_images, monkeypatch, codec, module, extra):
    name = f"vmlinux-ikconfig.{codec}"
    if name not in ikconfig_images:
        pytest.skip(f"{name} not built here")
    monkeypatch.setitem(sys.modules, module, None)  # as if the optional package were not installed
    if module == "lz4":
        monkeypatch.setitem(sys.modules, "lz4.block", None)
    with pytest.raises(InputError) as exc:
        _run([ikconfig_images[name]])
    assert exc.value.exit_code == 2 and extra in exc.value.message


def test_unreadable_inputs_exit_2(tmp_path):
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    text = tmp_path / "notes.txt"
    text.write_text("just some notes\nno options here\n")
    for path, words in (
        (tmp_path / "nope", "cannot read"),
        (tmp_path, "directory"),
        (empty, "empty"),
        (text, "not a kernel config"),
    ):
        with pytest.raises(InputError) as exc:
            _run([path])
        assert exc.value.exit_code == 2 and words in str(exc.value), str(exc.value)


def test_truncated_config_gz_is_still_read_as_far_as_it_goes(tmp_path):
    data = FIRECRACKER.read_bytes()
    cut = tmp_path / "config.gz"
    cut.write_bytes(gzip.compress(gzip.decompress(data)[:20000]))
    code, text = _run([cut])
    assert code == 1  # the diag options come later in the file: absent from a full .config's view
    assert "config.gz" in text


def test_usage_errors():
    with pytest.raises(UsageError):
        _run([FIRECRACKER], ["CONFIG_BAD NAME"])
    with pytest.raises(UsageError):
        _run([FIRECRACKER], fmt="yaml")
    with pytest.raises(UsageError):
        _run([])


@pytest.mark.skipif(not shutil.which("gzip"), reason="gzip missing")
def test_text_output_is_a_checklist():
    code, text = _run([FIRECRACKER], ["CONFIG_INET_DIAG,CONFIG_INET_RAW_DIAG"])
    lines = text.splitlines()
    assert lines[0].startswith(str(FIRECRACKER)) and "config.gz; full .config" in lines[0]
    marks = [ln[2:8] for ln in lines if ln.startswith("  [")]
    assert marks[:2] == ["[ok  ]", "[FAIL]"] and all(m == "[ -- ]" for m in marks[2:])
    assert lines[-1].startswith("  result: FAIL")
