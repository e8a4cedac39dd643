"""/etc/openwrt_release and /etc/os-release: shell-style KEY=value lines.

    DISTRIB_ID='OpenWrt'
    DISTRIB_RELEASE='23.05.2'
    PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"

Quotes are stripped as a shell would for these simple files; nothing is ever
evaluated. `cat` of a missing file prints its complaint on stderr, not here.
"""

from __future__ import annotations

from kit.frozen import frozen
from kit.records import Parsed, ParseProblem


@frozen
class Assignment:
    key: str
    value: str
    line: int = 0


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def parse(text: str) -> Parsed[Assignment]:
    result: Parsed[Assignment] = Parsed()
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        if not sep or not key.replace("_", "").isalnum():
            result.problems.append(ParseProblem(number, line[:300], "not KEY=value"))
            continue
        result.records.append(Assignment(key, _unquote(value)[:300], number))
    return result


def as_dict(parsed: Parsed[Assignment]) -> dict[str, str]:
    return {a.key: a.value for a in parsed.records}


def openwrt_release(values: dict[str, str]) -> str | None:
    """The OpenWrt release ("23.05.2", "?" when unsaid) when these files say OpenWrt, else None.

    The one rule: /etc/openwrt_release's DISTRIB_ID or os-release's ID is "openwrt".
    """
    if values.get("DISTRIB_ID", "").lower() == "openwrt" or values.get("ID", "").lower() == "openwrt":
        return values.get("DISTRIB_RELEASE") or values.get("VERSION_ID") or "?"
    return None
