"""Constrained field types shared by the resource models: names, paths, counts.

Each type carries its rule in two forms: a schema constraint the API server
checks (pattern, bounds) and a plain-English message Python reports.

Names: Kubernetes accepts an RFC 1123 *subdomain* (dots allowed, up to 253
characters) for a custom resource's ``metadata.name``. Factory OS asks for the
stricter RFC 1123 *label* (no dots, at most 63 characters) for every name it
owns, because each name is reused where only a label fits: in git branch names
(``factory/<run>/c<i>``), in label values (``factoryos.dev/product=<name>``,
at most 63 characters), in event sources (``/products/<p>/runs/<r>``) and in
child Job and Pod names.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated

from pydantic import Field

from factoryos.models._base import Checked, Explained
from factoryos.version import GROUP_VERSION

LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
LABEL_MAX_LENGTH = 63
NAME_RULE = (
    "must be a lowercase RFC 1123 name "
    "(a-z, 0-9, '-', start and end alphanumeric, at most 63 characters)"
)

#: A name Factory OS owns: an RFC 1123 label (see the module docstring).
DnsLabel = Annotated[
    str,
    Field(pattern=LABEL_PATTERN, max_length=LABEL_MAX_LENGTH),
    Explained(NAME_RULE, value_first=True),
]

NonNegativeInt = Annotated[int, Field(ge=0), Explained("must be 0 or more")]
PositiveInt = Annotated[int, Field(ge=1), Explained("must be at least 1")]
#: The most candidates (K) one iteration may build: every one is a workload, and the
#: control plane keeps a record per candidate (a K of 10**12 would wedge it).
MAX_CANDIDATES = 100
CandidateCount = Annotated[
    int,
    Field(ge=1, le=MAX_CANDIDATES),
    Explained(f"must be between 1 and {MAX_CANDIDATES}"),
]
NonEmptyStr = Annotated[str, Field(min_length=1), Explained("must not be empty")]
#: A probability-like value in [0, 1].
UnitInterval = Annotated[float, Field(ge=0, le=1), Explained("must be between 0 and 1")]

ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
EnvVarName = Annotated[
    str,
    Field(pattern=ENV_NAME_PATTERN),
    Explained("must be an environment variable name (letters, digits, '_')", value_first=True),
]


def _is_relative_inside(path: str) -> bool:
    pure = PurePosixPath(path)
    return bool(path) and not pure.is_absolute() and ".." not in pure.parts


def _is_absolute(path: str) -> bool:
    return PurePosixPath(path).is_absolute()


# git check-ref-format, the parts a branch name typed by a person can break.
_BAD_REF = re.compile(r"\s|\.\.|@\{|[~^:?*\[\\]|^[-/]|/$|\.lock$|^$")


def _is_branch_name(name: str) -> bool:
    return _BAD_REF.search(name) is None


#: A file path inside a repository or run directory: relative, no ``..``.
RelativePath = Annotated[
    str, Checked(_is_relative_inside, "must be a relative path without '..' segments")
]
#: A path on the machine that runs the controller (local mode) or on a mounted volume.
AbsolutePath = Annotated[str, Checked(_is_absolute, "must be an absolute path")]
BranchName = Annotated[str, Checked(_is_branch_name, "must be a valid git branch name")]
#: ``apiVersion`` of every Factory OS resource.
ApiVersion = Annotated[str, Checked(lambda v: v == GROUP_VERSION, f"must be {GROUP_VERSION}")]
