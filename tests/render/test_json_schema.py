"""docs/report.schema.json validates every JSON report the render tests make, and rejects broken ones."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
from support import build_report as build

from kit import capture as capture_mod
from kit import report as report_mod
from kit.redact import redact_json
from kit.render import json as json_render

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "report.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def check(doc: dict) -> None:
    errors = sorted(VALIDATOR.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def test_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("name", ["situations_cap", "idle_cap", "nonroot_cap", "noss_cap", "local_cap"])
def test_real_outputs_validate(request, name):
    report = build(request.getfixturevalue(name))
    doc = json.loads(json_render.render(report))  # exactly what kit render --format json prints
    check(doc)
    check(redact_json(doc))


def test_pastes_validate():
    for text in (
        b"Netid State Recv-Q Send-Q Local Address:Port Peer Address:Port\n",
        b"> garbage\n> \x00\xff\n> Netid State Recv-Q Send-Q Local Address:Port Peer Address:Port\r\n"
        b"> tcp ESTAB 0 0 10.0.0.1:22 10.0.0.2:5000\r\n",
    ):
        check(json.loads(json_render.render(report_mod.build(capture_mod.from_bytes(text, source="paste")))))
    for text in (b"", b"garbage\n\x00\xff"):  # no socket data: refused (exit 2), nothing to validate
        with pytest.raises(capture_mod.NoSocketData):
            capture_mod.from_bytes(text, source="paste")


def test_schema_rejects_broken_reports(idle_cap):
    doc = json.loads(json_render.render(build(idle_cap)))
    for path, value in (
        (("kernel_diag", "verdict"), "fine"),
        (("totals", "rmem_alloc"), -1),
        (("sockets", 0, "skmem", "rmem_alloc"), "12"),
        (("schema",), "kit.report/2"),
    ):
        broken = copy.deepcopy(doc)
        target = broken
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        assert list(VALIDATOR.iter_errors(broken)), f"schema accepted {path} = {value!r}"
    broken = copy.deepcopy(doc)
    del broken["sockets"][0]["skmem"]
    assert list(VALIDATOR.iter_errors(broken))
