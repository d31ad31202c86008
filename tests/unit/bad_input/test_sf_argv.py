"""``sf`` with generated argv: a documented exit status, one error line or usage, no traceback.

Each example walks the real command tree (``typer.main.get_command``) to a
command and gives it a random mix of its own options, words, numbers, paths,
very long values and undecodable argv bytes (as ``surrogateescape`` makes them).
Commands that would start long work from valid input are left out: ``up``,
``selftest``, ``doctor`` (runs the agent CLIs), ``pipeline run``/``ingest`` and
``eval run`` (run Kilroy or candidates), ``voice`` (loads speech models), and
``--template`` (scaffolds a stack).
"""

from __future__ import annotations

import click
import typer.main
from bad_input_support import Home, refused_cleanly
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factoryos.cli.app import app

LEFT_OUT = {("up",), ("selftest",), ("doctor",), ("pipeline", "run"), ("pipeline", "ingest")}
LEFT_OUT |= {("eval", "run"), ("voice", "transcribe"), ("voice", "say")}
NEVER = {"--template", "--wait", "--follow", "-f"}


def _commands() -> dict[tuple[str, ...], list[str]]:
    root = typer.main.get_command(app)
    ctx = click.Context(root)
    found: dict[tuple[str, ...], list[str]] = {}

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk(sub, (*path, name))
        elif path not in LEFT_OUT:
            options = [o for p in command.params for o in p.opts if o.startswith("-")]
            found[path] = [o for o in options if o not in NEVER]

    walk(root, ())
    return found


COMMANDS = _commands()
WORDS = st.sampled_from(
    ["p", "r", "default", "-", "--", "0", "-1", "1e309", "nan", "json", "yaml", "xml", ".", "/",
     "x" * 5000, "UPPER", "a/b", "../..", "\udcff\udcfe", "caf\udce9", "--help=x", "=", "-o"]
)  # fmt: skip
TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=12)


@st.composite
def argvs(draw: st.DrawFn) -> list[str]:
    path = draw(st.sampled_from(sorted(COMMANDS)))
    options = COMMANDS[path]
    token = st.one_of(st.sampled_from(options), WORDS, TEXT) if options else st.one_of(WORDS, TEXT)
    prefix = draw(st.sampled_from([[], [], ["--context", "nowhere"], ["--version"], ["-h"]]))
    return [*prefix, *path, *draw(st.lists(token, max_size=6))]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(argv=argvs())
def test_random_argv_gets_a_documented_status_and_one_line(home: Home, argv: list[str]) -> None:
    before = home.store.version()
    outcome = home.sf(argv)
    after = home.store.version()
    if argv[-2:] == ["product", "remove"] or "remove" in argv or "delete" in argv:
        after = before  # removing p (or a run) is a legitimate success
    refused_cleanly(outcome, before, after)


def test_an_undecodable_name_is_one_line(home: Home) -> None:
    outcome = home.sf(["run", "status", "caf\udce9"])
    assert outcome.code in {2, 3} and outcome.err.count("\n") == 1, outcome.err
