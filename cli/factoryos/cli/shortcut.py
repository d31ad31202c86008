"""What the Typer-free shortcuts share: reading a plain command line from an option table,
and knowing when a command is Typer's whatever its words.

``factoryos.cli.readonly`` (``sf run list``, ``run status``, ``product list``) and
``factoryos.cli.pipelinerun`` (``sf pipeline run``) each answer the plain spellings of their
commands without importing Typer; anything they are not sure of raises ``UnsureError``,
and ``factoryos.cli.app.main`` then lets Typer run the command. Standard library only.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

#: A command's options: each spelling -> (its parameter, whether it takes a value).
OptionTable = Mapping[str, tuple[str, bool]]


class UnsureError(Exception):
    """A shortcut cannot parse or answer this one for sure: Typer runs the command."""


def typer_only(env: Mapping[str, str]) -> bool:
    """Whether every command is Typer's here: a cluster context (``FACTORYOS_CONTEXT``), or
    shell completion (``_SF_COMPLETE``), which is Click's."""
    return bool(env.get("FACTORYOS_CONTEXT")) or any(
        k.startswith("_") and k.endswith("_COMPLETE") for k in env
    )


def parse_words(
    words: Sequence[str],
    options: OptionTable,
    arguments: Sequence[str],
    repeated: Collection[str] = frozenset(),
) -> dict[str, Any]:
    """The parameters in ``words`` as Click reads them: an option's value as given (the last
    one wins, or every one in order for a ``repeated`` parameter), a flag as True, the
    positional ``arguments`` by name. ``UnsureError`` for anything else: a spelling not in
    ``options`` (``--help``, ``--opt=value``, ``-An``, ``--``, ``-``, a typo), a missing
    value or one that looks like an option (Click may read it otherwise), too few or too
    many arguments."""
    params: dict[str, Any] = {}
    positional: list[str] = []
    rest = list(words)
    while rest:
        word = rest.pop(0)
        if not word.startswith("-"):
            positional.append(word)
            continue
        if word not in options:
            raise UnsureError
        param, takes_value = options[word]
        if not takes_value:
            params[param] = True
            continue
        if not rest or rest[0].startswith("-"):
            raise UnsureError
        value = rest.pop(0)
        if param in repeated:
            params.setdefault(param, []).append(value)
        else:
            params[param] = value
    if len(positional) != len(arguments):
        raise UnsureError
    params.update(zip(arguments, positional, strict=True))
    return params
