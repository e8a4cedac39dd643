"""Offline verdicts (kdiag.diagnose_config) on real configs and on real configs with lines taken out."""

from __future__ import annotations

import gzip

import pytest
from support import FIXTURES

from kit.analyse import kdiag, kdiag_facts
from kit.diag_options import OPTIONS
from kit.parsers import kconfig
from kit.render import kdiag_text

FIRECRACKER = gzip.decompress((FIXTURES / "kconfig-firecracker-6.18" / "config.gz").read_bytes()).decode()
NETWORKING = (FIXTURES / "kconfig-quirks" / "networking.config").read_text()


def _diag(text: str, source: str = "test", required=kdiag.REQUIRED):
    return kdiag.diagnose_config(
        kconfig.as_dict(kconfig.parse(text)), source, dialect=kconfig.dialect(text), required=required
    )


def _without(text: str, *names: str) -> str:
    return "\n".join(ln for ln in text.split("\n") if not any(n + "=" in ln or n + " is" in ln for n in names))


@pytest.mark.parametrize("arch", ["amd64", "mipsel", "armel"])
def test_debian_modules(debian, arch):
    text = next((debian(arch) / "boot").glob("config-*")).read_text()
    diag = _diag(text, "config-debian")
    assert diag.verdict == "ok"
    assert {n: v.state for n, v in diag.options.items()} == {
        "CONFIG_INET_DIAG": "module",
        "CONFIG_INET_TCP_DIAG": "module",
        "CONFIG_INET_UDP_DIAG": "module",
        "CONFIG_INET_RAW_DIAG": "module",
        "CONFIG_UNIX_DIAG": "module",
        "CONFIG_NETLINK_DIAG": "module",
        "CONFIG_PACKET_DIAG": "module",
        "CONFIG_IKCONFIG": "absent",
        "CONFIG_IKCONFIG_PROC": "absent",
    }
    assert kdiag_text.evidence_texts(diag.options["CONFIG_INET_DIAG"])[0] == "config-debian: CONFIG_INET_DIAG=m"
    assert diag.options["CONFIG_INET_DIAG"].remedy is None
    # IKCONFIG is an extra: absent is information, with no remedy unless asked for (--require).
    assert diag.options["CONFIG_IKCONFIG"].remedy is None
    asked = _diag(text, "config-debian", required=(*kdiag.REQUIRED, "CONFIG_IKCONFIG", "CONFIG_IKCONFIG_PROC"))
    assert "CONFIG_IKCONFIG=y" in kdiag_text.describe_remedy(asked.options["CONFIG_IKCONFIG"].remedy)
    # IKCONFIG_PROC depends on IKCONFIG, also not set: both lines are in the remedy
    assert kdiag_text.describe_remedy(asked.options["CONFIG_IKCONFIG_PROC"].remedy).endswith(
        "CONFIG_IKCONFIG=y CONFIG_IKCONFIG_PROC=y"
    )


def test_builtin_kernel():
    diag = _diag(FIRECRACKER, "/proc/config.gz")
    assert diag.verdict == "ok"
    assert diag.options["CONFIG_INET_DIAG"].state == "builtin"
    assert diag.options["CONFIG_INET_RAW_DIAG"].state == "absent"
    # evidence is data (kit.analyse.kdiag_facts), worded by kit.render.kdiag_text
    assert diag.options["CONFIG_INET_RAW_DIAG"].evidence == (
        kdiag_facts.ConfigLine("/proc/config.gz", "CONFIG_INET_RAW_DIAG", present=True, value=None),
    )
    assert kdiag_text.evidence_texts(diag.options["CONFIG_INET_RAW_DIAG"]) == [
        "/proc/config.gz: # CONFIG_INET_RAW_DIAG is not set"
    ]


def test_without_inet_diag_everything_inet_is_missing():
    # As `make menuconfig` leaves a .config once INET_DIAG is switched off: the
    # options inside `if INET_DIAG` vanish from the file.
    text = _without(
        FIRECRACKER,
        "CONFIG_INET_TCP_DIAG",
        "CONFIG_INET_UDP_DIAG",
        "CONFIG_INET_RAW_DIAG",
        "CONFIG_INET_DIAG_DESTROY",
        "CONFIG_INET_MPTCP_DIAG",
    )
    text = text.replace("CONFIG_INET_DIAG=y", "# CONFIG_INET_DIAG is not set")
    diag = _diag(text)
    assert diag.verdict == "missing"
    udp = diag.options["CONFIG_INET_UDP_DIAG"]
    assert udp.state == "absent"
    assert "not in the config (its dependencies are not met)" in kdiag_text.evidence_texts(udp)[0]
    assert "needs CONFIG_INET_DIAG, which is not set either" in kdiag_text.evidence_texts(udp)
    # The remedy is data (the config lines to add); the sentence is made from it.
    assert udp.remedy == kdiag.Remedy("config_rebuild", config_lines=("CONFIG_INET_DIAG=y", "CONFIG_INET_UDP_DIAG=y"))
    assert (
        kdiag_text.describe_remedy(udp.remedy)
        == "add to the config and rebuild: CONFIG_INET_DIAG=y CONFIG_INET_UDP_DIAG=y"
    )
    assert "no memory for TCP and UDP" in kdiag_text.summary_text(diag)


def test_udp_only_missing_is_partial():
    text = FIRECRACKER.replace("CONFIG_INET_UDP_DIAG=y", "# CONFIG_INET_UDP_DIAG is not set")
    diag = _diag(text)
    assert diag.verdict == "partial"
    assert "memory for TCP only" in kdiag_text.summary_text(diag) and "no memory for UDP" in kdiag_text.summary_text(
        diag
    )
    assert (
        kdiag_text.describe_remedy(diag.options["CONFIG_INET_UDP_DIAG"].remedy)
        == "add to the config and rebuild: CONFIG_INET_UDP_DIAG=y"
    )


def test_defconfig_defaults_apply():
    # savedefconfig leaves out what equals the default: INET_DIAG (default y)
    # and INET_TCP_DIAG (follows it) disappear, UDP_DIAG (default n) too when off.
    fragment = _without(NETWORKING, "CONFIG_INET_DIAG", "CONFIG_INET_TCP_DIAG", "CONFIG_INET_UDP_DIAG")
    assert kconfig.dialect(fragment) == "defconfig"
    diag = _diag(fragment, "defconfig")
    assert diag.options["CONFIG_INET_DIAG"].state == "builtin"
    assert (
        "Kconfig default applies: CONFIG_INET_DIAG=y" in kdiag_text.evidence_texts(diag.options["CONFIG_INET_DIAG"])[0]
    )
    assert diag.options["CONFIG_INET_TCP_DIAG"].state == "builtin"
    assert diag.options["CONFIG_INET_UDP_DIAG"].state == "absent"
    assert diag.verdict == "partial"


def test_to_json_shape():
    doc = kdiag_text.kdiag_json(_diag(FIRECRACKER))
    assert list(doc) == ["verdict", "summary", "options"]
    assert list(doc["options"]) == list(OPTIONS)
    assert "remedy" not in doc["options"]["CONFIG_INET_RAW_DIAG"]  # an extra: information
    assert not doc["options"]["CONFIG_INET_RAW_DIAG"]["required"] and doc["options"]["CONFIG_INET_DIAG"]["required"]
    asked = kdiag_text.kdiag_json(_diag(FIRECRACKER, required=("CONFIG_INET_RAW_DIAG",)))
    assert asked["options"]["CONFIG_INET_RAW_DIAG"]["remedy"]
    assert "remedy" not in doc["options"]["CONFIG_INET_DIAG"]
    assert all(o["state"] in kdiag.STATES for o in doc["options"].values())
