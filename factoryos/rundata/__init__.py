"""Reading what a run left on disk: its stage artifacts and per-stage diffs.

The dashboard (and anything else that shows a run) reads the run directory
only through here: ``RunFiles`` confines every path to the run directory,
``stage_diff`` reads a stage's change from the commits Kilroy makes after
every node.
"""

from factoryos.rundata.diffs import StageDiff, stage_diff
from factoryos.rundata.files import FileEntry, RunFiles

__all__ = ["FileEntry", "RunFiles", "StageDiff", "stage_diff"]
