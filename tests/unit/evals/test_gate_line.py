"""The gate's decision in one line (``Evaluation.describe``), as ``sf run status`` prints it."""

from __future__ import annotations

from factoryos.models import AcceptanceMethod, Evaluation, TrialsKind


def _evaluation(**fields: object) -> Evaluation:
    base: dict[str, object] = {"candidate": 2, "n": 54, "k": 54, "lower_bound": 0.92704}
    base |= {"target": 0.9, "alpha": 0.05 / 3, "accepted": True}
    return Evaluation.model_validate(base | fields)


def test_sequential_distinct_names_the_test_the_look_and_the_pool() -> None:
    line = _evaluation(
        method=AcceptanceMethod.SEQUENTIAL, looks_taken=18, looks_planned=58, instances=306
    ).describe()
    assert line == (
        "accepted c2: 54/54 acceptance trials passed (each a distinct instance, of 306 in the "
        "pool); lower bound 0.9270 vs target 0.9 (alpha 0.0167, sequential test, decided at "
        "look 18 of 58)"
    )


def test_fixed_plan_rejection_says_so() -> None:
    line = _evaluation(k=50, accepted=False, lower_bound=0.81).describe()
    assert line.startswith("rejected c2: 50/54 acceptance trials passed; lower bound 0.8100")
    assert line.endswith("fixed Clopper-Pearson plan)")


def test_repeated_trials_say_what_is_bounded() -> None:
    line = _evaluation(trials_kind=TrialsKind.REPEATED, instances=3, flaky=1).describe()
    assert "attempts over 3 repeated instance(s), 1 flaky: a bound on per-attempt" in line
