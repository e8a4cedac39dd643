"""The devices file of `kit collect -f`: the forms ssh takes, comments, and malformed lines (exit 2, named)."""

from __future__ import annotations

import pytest

from kit.cli import main
from kit.errors import UsageError
from kit.fleet import FleetTarget, parse_targets


def test_every_form_ssh_takes_with_comments_and_blank_lines():
    text = (
        "# building B\n"
        "\n"
        "ap-b1\n"
        "  root@10.0.2.11   # indented, with a comment\n"
        "admin@router.example.net\n"
        "ssh://10.0.2.12\n"
        "ssh://admin@10.0.2.13:2222\n"
        "ssh://root@[fe80::1%eth0]:22/\n"
        "fe80::2\n"
        "root@[2001:db8::7]\n"
        "\t# tab-indented comment\n"
    )
    assert parse_targets(text, "f") == [
        FleetTarget(3, "ap-b1", "ap-b1"),
        FleetTarget(4, "root@10.0.2.11", "root@10.0.2.11"),
        FleetTarget(5, "admin@router.example.net", "admin@router.example.net"),
        FleetTarget(6, "ssh://10.0.2.12", "10.0.2.12"),
        FleetTarget(7, "ssh://admin@10.0.2.13:2222", "admin@10.0.2.13", 2222),
        FleetTarget(8, "ssh://root@[fe80::1%eth0]:22/", "root@[fe80::1%eth0]", 22),
        FleetTarget(9, "fe80::2", "fe80::2"),
        FleetTarget(10, "root@[2001:db8::7]", "root@[2001:db8::7]"),
    ]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("10.0.0.1:2222", "ssh://[user@]host:port"),
        ("root@ap1 -p 2222", "one target per line"),
        ("ssh://root@ap1:99999", "not a TCP port"),
        ("ssh://root@ap1:port", "not an ssh://"),
        ("ssh://", "not an ssh://"),
        ("http://ap1", "only ssh:// URLs"),
        ("root@", "not [user@]host"),
        ("@ap1", "not [user@]host"),
        ("-oProxyCommand=sh", "not a host name"),
        ("[fe80::zz]", "not an IPv6 address"),
    ],
)
def test_malformed_line_names_file_and_line(line, why):
    with pytest.raises(UsageError) as err:
        parse_targets(f"# ok\nap-b1\n{line}\nap-b2\n", "devices.txt")
    assert str(err.value).startswith("devices.txt:3: ") and why in str(err.value)


def test_a_file_without_targets_is_a_usage_error():
    with pytest.raises(UsageError, match="no targets"):
        parse_targets("# only comments\n\n", "devices.txt")


def test_cli_usage_errors_are_exit_2_and_one_line(tmp_path, capsys):
    devices = tmp_path / "devices.txt"
    devices.write_text("ap-b1\n10.0.0.1:22\n")
    cases = [
        (["collect", "-f", str(devices)], f"{devices}:2:"),
        (["collect", "-f", str(tmp_path / "missing.txt")], "No such file"),
        (["collect", "-f", str(devices), "root@ap"], "not both"),
        (["collect", "-f", str(devices), "--local"], "not both"),
        (["collect", "-f", str(devices), "-j", "0"], "-j 0"),
    ]
    for argv, says in cases:
        capsys.readouterr()
        assert main(argv + ["--captures", str(tmp_path / "c"), "--reports", str(tmp_path / "r")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and says in err, (argv, err)
    assert not (tmp_path / "c").exists() and not (tmp_path / "r").exists()


def test_ssh_config_problem_names_its_line(tmp_path, capsys):
    config = tmp_path / "ssh_config"
    config.write_text("Host bad\n  Port notaport\n")
    devices = tmp_path / "devices.txt"
    devices.write_text("good\nbad\n")
    assert main(["collect", "-f", str(devices), "-F", str(config), "--reports", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert f"{devices}:2:" in err and "Port" in err
    assert not (tmp_path / "r").exists()


def test_reports_or_captures_not_a_directory_is_exit_2_before_any_device(tmp_path, capsys):
    devices = tmp_path / "devices.txt"
    devices.write_text("ap-b1\n")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for flag in ("--reports", "--captures"):
        assert main(["collect", "-f", str(devices), "-F", "none", flag, str(blocker)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{flag} {blocker}: not a directory" in err
    assert main(["render", str(devices), str(devices), "--reports", str(blocker)]) == 2
    assert "not a directory" in capsys.readouterr().err
