"""The classic one-liner from the article kit grew out of, run for real with awk.

    ss -napm | awk -F '[\\(|,]' '/skmem/ {print $2}' | cut -c 2- | awk '{a+=$1}END{print a}'

field 2 is r (rmem_alloc); field 4 is t (wmem_alloc). Tests compare kit's
totals with what this prints on the same text: an independent measurement.
"""

from __future__ import annotations

import subprocess


def awk_total(ss_text: str, field: int = 2) -> int:
    script = f"awk -F '[\\(|,]' '/skmem/ {{print ${field}}}' | cut -c 2- | awk '{{a+=$1}}END{{print a+0}}'"
    out = subprocess.run(["sh", "-c", script], input=ss_text.encode(), capture_output=True, check=True)
    return int(out.stdout.decode().strip() or 0)


def count_socket_rows(ss_text: str) -> int:
    """Rows of `ss -napm` that start a socket: every line but the header and the
    indented continuation lines (counted by awk, not by kit's parser)."""
    out = subprocess.run(
        ["awk", "NR > 1 && NF > 0 && !/^[ \\t]/ {n++} END {print n+0}"],
        input=ss_text.encode(),
        capture_output=True,
        check=True,
    )
    return int(out.stdout.decode().strip())
