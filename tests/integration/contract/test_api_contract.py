"""The dashboard's API keeps its own contract, checked by schemathesis against a real ``sf up``.

The OpenAPI document the dashboard serves must validate (openapi-spec-validator),
and schemathesis (every check: status codes, content types, headers and bodies
against the schema, schema-valid requests accepted and schema-invalid ones
refused, 405 with the right ``Allow``, auth enforced, ...) must find nothing
against the ``populated`` factory: two products, a finished run and a running
one. Half the generated namespaces, names, candidates, nodes and file paths are
real ones (schemathesis dictionaries), so the cases reach the data, not only 404s
(the ingest routes are off in the embedded factory: 404 is their answer there, and
new runs name random products: real ones would start work of random size).

Bounded for ``make test`` (about 8 s): every check, but the examples, fuzzing and
stateful phases only, ``FACTORYOS_API_CONTRACT_EXAMPLES`` cases per operation
(default 5) and a fixed seed. ``make api-contract`` adds the coverage phase (every
boundary of every parameter, about 350 cases more) and 50 cases per operation.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
from openapi_spec_validator import validate
from populated_support import FINISHED, RUNNING, Populated

EXAMPLES = int(os.environ.get("FACTORYOS_API_CONTRACT_EXAMPLES") or 5)
PHASES = os.environ.get("FACTORYOS_API_CONTRACT_PHASES") or "examples,fuzzing,stateful"
SEED = int(os.environ.get("FACTORYOS_API_CONTRACT_SEED") or 21)
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")

CONFIG = """
[dictionaries.namespaces]
values = ["default"]
[dictionaries.names]
values = ["{finished}", "{running}", "quality", "slow"]
[dictionaries.candidates]
values = [0, 1]
[dictionaries.nodes]
values = ["env", "implement", "wait", "start"]
[dictionaries.files]
values = ["events.ndjson", "c0/logs/env/stdout.log", "evaluations/i1/evaluation.json"]

[parameters]
"path.namespace" = {{ dictionary = "namespaces", probability = 0.5 }}
"path.name" = {{ dictionary = "names", probability = 0.5 }}
"path.candidate" = {{ dictionary = "candidates", probability = 0.5 }}
"path.node" = {{ dictionary = "nodes", probability = 0.5 }}
"path.path" = {{ dictionary = "files", probability = 0.5 }}
"""


def test_the_openapi_document_validates(populated: Populated) -> None:
    factory = populated.factory
    bearer = {"Authorization": f"Bearer {factory.token}"}
    doc = httpx.get(factory.dashboard + "api/openapi.json", headers=bearer).json()
    validate(doc)
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            documented = set(operation["responses"])
            assert {"401", "422", "429"} <= documented, (method, path, documented)
            for status, response in operation["responses"].items():
                if status.startswith("4"):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema["$ref"].rsplit("/", 1)[-1] in {"Problem", "SequenceGap"}


def test_schemathesis_finds_no_failure(populated: Populated, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG.format(finished=FINISHED, running=RUNNING))
    factory = populated.factory
    done = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(config),
            "--no-color",
            "run",
            factory.dashboard + "api/openapi.json",
            "--checks",
            "all",
            "--header",
            f"Authorization: Bearer {factory.token}",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            str(SEED),
            "--phases",
            PHASES,
            "--workers",
            "1",
            "--generation-database",
            "none",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path / "report"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    summary = done.stdout[done.stdout.rfind("SUMMARY") :]
    print(summary)  # pytest -s (make api-contract) shows it
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    cases = re.search(r"(\d+) generated, (\d+) passed", summary)
    assert cases is not None and int(cases[1]) == int(cases[2]) >= 50, summary
    assert "Tested: 13" in summary, summary
