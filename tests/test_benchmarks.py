"""The benchmarks' shared plumbing: picking cases, and results that a stopped run cannot spoil."""

from __future__ import annotations

import json

import pytest
from benchmarks import common, fault_soak, ps_roundtrip, ray_engine


def test_chosen_reads_a_list_or_keeps_the_default(monkeypatch):
    monkeypatch.delenv("BENCH_TEST_SIZES", raising=False)
    assert common.chosen("BENCH_TEST_SIZES", (1, 2)) == (1, 2)
    monkeypatch.setenv("BENCH_TEST_SIZES", "1e7, 100000")
    assert common.chosen("BENCH_TEST_SIZES", (1, 2)) == (10**7, 10**5)


@pytest.mark.parametrize("text", ["ten", "1e7,", "0", "-4", "2.5", "inf", "nan", "1e6;1e7"])
def test_chosen_names_the_variable_on_bad_input(monkeypatch, text):
    monkeypatch.setenv("BENCH_TEST_SIZES", text)
    with pytest.raises(SystemExit, match="BENCH_TEST_SIZES") as err:
        common.chosen("BENCH_TEST_SIZES", (1,))
    assert "\n" not in str(err.value)


def test_partial_results_never_replace_a_complete_one(monkeypatch, tmp_path):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    monkeypatch.delenv("BENCH_MACHINE", raising=False)
    common.write_result("bench", {"rows": [1, 2, 3]})
    partial = common.write_result("bench", {"rows": [9]}, partial=True)
    assert partial == tmp_path / "bench.partial.json"
    assert json.loads((tmp_path / "bench.json").read_text())["rows"] == [1, 2, 3]
    assert json.loads(partial.read_text())["rows"] == [9]
    common.write_result("bench", {"rows": [4]})
    assert not partial.exists()
    assert json.loads((tmp_path / "bench.json").read_text())["rows"] == [4]


def test_some_cases_or_another_machine_keep_their_own_files(monkeypatch, tmp_path):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    monkeypatch.delenv("BENCH_MACHINE", raising=False)
    assert common.write_result("bench", {"rows": []}, subset=True) == tmp_path / "bench.subset.json"
    monkeypatch.setenv("BENCH_MACHINE", "16cpu")
    assert common.write_result("bench", {"rows": []}) == tmp_path / "bench.16cpu.json"
    assert common.write_result("bench", {"rows": []}, subset=True) == tmp_path / "bench.subset.16cpu.json"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bench.16cpu.json", "bench.subset.16cpu.json", "bench.subset.json",
    ]  # fmt: skip


def test_roundtrip_summary_judges_targets_only_when_complete(monkeypatch):
    monkeypatch.setattr(ps_roundtrip, "PAIRS", 2)
    n = 10**7
    samples = {
        (n, 1, "dense"): {"ours": [30.0, 60.0], "ray": [10.0, 10.0]},  # ×3 and ×6: geometric mean √18
        (n, 1, "top1%"): {"ours": [20.0], "ray": []},  # one side only: no pair yet
    }
    bounds = {n: [100.0, 80.0]}
    partial = ps_roundtrip.summary(samples, bounds, 0.0)
    assert not partial["complete"] and "met" not in partial
    assert [(r["payload"], r["pairs"]) for r in partial["rows"]] == [("dense", 2)]
    row = partial["rows"][0]
    assert row["vs_ray"] == pytest.approx(18**0.5)
    assert row["vs_bound"] == pytest.approx(45.0 / 90.0)

    samples[(n, 1, "top1%")] = {"ours": [20.0, 20.0], "ray": [10.0, 10.0]}  # ×2: below the ×3 target
    done = ps_roundtrip.summary(samples, bounds, 0.0)
    assert done["complete"]
    assert done["met"] == {"ray_1e7": False, "bound_1e7": True}  # no 10^5 or 10^6 case: no such key


def test_engine_summary_judges_shards_only_where_they_ran(monkeypatch):
    monkeypatch.setattr(ray_engine, "REPEATS", 1)
    phase = [dict.fromkeys(ray_engine.PHASES, 1.0)]
    small = {"ray": [12.0], "baseline": [10.0], "local": [50.0], "ray_s1_load": [], "ray_s2_load": []}
    samples = {(10**5, 1, "dense"): small}
    result = ray_engine.summary(samples, {(10**5, 1, "dense"): phase}, 0.0, {})
    assert result["complete"] and result["met"] == {"at_least_baseline": True}

    big = {"ray": [9.0], "baseline": [10.0], "local": [30.0]}
    big |= {"ray_s1_load": [8.0, 8.0], "ray_s2_load": [4.0, 16.0]}  # pairs of ×0.5 and ×2
    samples[(10**7, 1, "dense")] = big
    phases = {case: phase for case in samples}
    result = ray_engine.summary(samples, phases, 0.0, {})
    row = result["rows"][1]
    assert row["s2_vs_s1"] == pytest.approx(1.0)  # geometric mean of the pairs: not faster
    assert result["met"] == {"at_least_baseline": False, "s2_faster_1e7": False}


def test_fault_soak_verdict_counts_every_kind_of_failure():
    good = {"finished": True, "hang": False, "wrong_label": False, "problems": [], "left_processes": 0,
            "left_files": [], "planned_kills": 2, "kills": 2, "torn": 1, "lost": 0}  # fmt: skip
    assert fault_soak.verdict([good, good])["met"]
    for bad in ({"finished": False}, {"hang": True}, {"wrong_label": True}, {"problems": ["x"]},
                {"left_processes": 1}, {"left_files": ["pymp-x"]}, {"kills": 1}):  # fmt: skip
        counts = fault_soak.verdict([good, {**good, **bad}])
        assert not counts["met"] and counts["runs"] == 2 and counts["kills"] >= 3


def test_the_capacity_meter_measures_the_middle_half_of_a_run(monkeypatch):
    """The validation compares the model's steady state with the run's middle half: pushes 2 to 6
    of 8, whatever the first and last pushes cost."""
    from benchmarks import capacity

    clock = iter([10.0, 12.0])
    cpu = iter([100.0, 103.0])
    monkeypatch.setattr(capacity.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(capacity, "busy_cpu_seconds", lambda: next(cpu))
    meter = capacity.Meter(8)
    for n in range(8):
        meter(n + 1, 32 * (n + 1))
    assert meter.machine() == {"updates_per_s": 2.0, "cores_busy": 1.5, "cpu_per_update_s": 0.75}


def test_the_machines_busy_cpu_only_grows():
    from benchmarks.capacity import busy_cpu_seconds

    first = busy_cpu_seconds()
    if first is None:
        pytest.skip("no /proc/stat on this system")
    sum(i * i for i in range(200_000))
    assert busy_cpu_seconds() >= first > 0
