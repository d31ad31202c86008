"""The event JSON Schema file is current with the envelope model and is a valid schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from factoryos import codegen
from factoryos.events import EventType, make_event, run_source
from factoryos.events.envelope import event_json_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "factoryos" / "schemas" / "event.schema.json"


def test_the_schema_file_is_what_the_envelope_model_generates() -> None:
    assert SCHEMA_FILE.read_text() == codegen.render_json(event_json_schema()), (
        "run `make generate`"
    )


def test_the_schema_file_is_listed_among_the_generated_files() -> None:
    assert "factoryos/schemas/event.schema.json" in codegen.render("schemas")


def test_the_schema_is_valid_draft_2020_12_and_accepts_a_real_event() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    event = make_event(source=run_source("web", "web-1"), type=EventType.RUN_STARTED, sequence=1)
    jsonschema.Draft202012Validator(schema).validate(json.loads(event.to_json_line()))
