"""When the recorder stops a run whose pushes are rejected: ``diverged`` (NaN/Inf, a result of the
settings) against ``stalled`` (any other rejection), and the count a checkpoint carries."""

import pytest

from asyncsgd.metrics.recorder import STALL_MIN, Recorder
from asyncsgd.vocabulary.messages import ApplyRecord
from asyncsgd.vocabulary.reporting import Timing


def recorder(learners: int = 2) -> Recorder:
    return Recorder(None, 100, 10**9, lambda p: {}, learners)


def push(rec: Recorder, code: str = "") -> None:
    record = ApplyRecord(0, 0, 0, 0, 4, accepted=not code, applied=not code, reason=code, code=code)
    rec.on_push(record, Timing(), float("nan") if code else 1.0, 1)


def stopped_after(rec: Recorder, codes: list[str]) -> int | None:
    """The number of the push after which the recorder asks to stop (None: never)."""
    for i, code in enumerate(codes, 1):
        push(rec, code)
        if rec.stop_requested():
            return i
    return None


def test_a_run_of_non_finite_pushes_stops_as_diverged_at_the_limit():
    rec = recorder()
    assert stopped_after(rec, ["non_finite"] * (STALL_MIN + 5)) == STALL_MIN
    assert rec.stop_reason == "diverged"


def test_the_limit_grows_with_the_learners():
    rec = recorder(learners=30)
    assert rec.stall_limit == 300 and stopped_after(rec, ["non_finite"] * 400) == 300


@pytest.mark.parametrize(
    "codes",
    [["shape"] * STALL_MIN, ["non_finite"] * 50 + ["version"] + ["non_finite"] * (STALL_MIN - 51)],
    ids=["other-rejections", "one-other-in-the-run"],
)
def test_a_run_with_any_other_rejection_stops_as_stalled(codes):
    rec = recorder()
    assert stopped_after(rec, codes) == STALL_MIN and rec.stop_reason == "stalled"


def test_an_accepted_push_starts_the_count_again():
    rec = recorder()
    codes = ["non_finite"] * (STALL_MIN - 1) + [""] + ["non_finite"] * (STALL_MIN - 1)
    assert stopped_after(rec, codes) is None and rec.stop_reason == ""


def test_a_checkpoint_carries_the_count_and_one_without_it_resumes_from_zero():
    rec = recorder()
    stopped_after(rec, ["non_finite"] * 60)
    state = rec.state_dict()
    assert state["_non_finite_run"] == 60 and Recorder.state_problem(state) == ""
    resumed = Recorder(None, 100, 10**9, lambda p: {}, 2, resume=state)
    assert stopped_after(resumed, ["non_finite"] * 40) == 40 and resumed.stop_reason == "diverged"
    older = {k: v for k, v in state.items() if k != "_non_finite_run"}
    assert Recorder.state_problem(older) == ""
    from_older = Recorder(None, 100, 10**9, lambda p: {}, 2, resume=older)
    assert stopped_after(from_older, ["non_finite"] * 40) == 40 and from_older.stop_reason == "stalled"
    assert Recorder.state_problem({**state, "_non_finite_run": "60"}) == "_non_finite_run"
