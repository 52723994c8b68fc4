"""Every public entry under bad input: a clear error naming the argument, or a valid result.

The cases are declared in ``bad_input_sweep.py`` (beside this file): each public entry with its
arguments, a valid value and a kind per argument, and the mutations of each kind.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bad_input_sweep as sweep

GOOD = ("clear error", "valid result", "skipped")


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sweep")


@pytest.mark.filterwarnings("ignore")
def test_every_declared_bad_input_is_refused_by_name_or_answered_correctly(tmp: Path) -> None:
    outcomes = sweep.sweep(tmp)
    counts = Counter(o.kind for o in outcomes)
    bad = [o for o in outcomes if o.kind not in GOOD]
    assert len(outcomes) > 1400 and counts["clear error"] > 1200, counts
    assert not bad, "\n".join(
        f"{o.kind}: {o.entry} {o.argument}={o.mutation}: {o.detail[:200]}" for o in bad
    )


ENTRY_NAMES = [e.name for e in sweep.entries(Path("."))]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("entry_name", ENTRY_NAMES)
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_bad_input(entry_name: str, tmp: Path, data: st.DataObject) -> None:
    entry = next(e for e in sweep.entries(tmp) if e.name == entry_name)
    argument = data.draw(st.sampled_from(sorted(entry.args)), label="argument")
    kind = entry.args[argument][0]
    mutation = data.draw(st.sampled_from([*sweep.KINDS[kind], sweep.RANDOM]), label="mutation")
    seed = data.draw(st.integers(0, 2**31 - 1), label="seed")
    outcome = sweep.run_case(entry, argument, mutation, seed)
    assert outcome.kind in GOOD, f"{outcome.kind}: {argument}={mutation.name}: {outcome.detail}"


def test_the_sweep_tells_bad_outcomes_apart(tmp: Path) -> None:
    # the classifier itself: a crash, a silent acceptance and an unnamed error are caught
    def crash(x: object) -> None:
        raise IndexError("deep inside")

    def accepts(x: object) -> int:
        return 1

    def unnamed(x: object) -> None:
        raise ValueError("something is wrong")

    nan = next(m for m in sweep.KINDS["real"] if m.name == "nan")
    for fn, kind in (
        (crash, "deep crash"),
        (accepts, "silently wrong"),
        (unnamed, "unnamed error"),
    ):
        entry = sweep.Entry("probe", fn, {"x": ("real", lambda: 1.0)})
        assert sweep.run_case(entry, "x", nan).kind == kind
