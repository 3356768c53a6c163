"""``asyncsgd theory …`` and ``lr = "auto"`` through the real command line."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from asyncsgd.assembly.auto_lr import predict_lr, theory_estimates, theory_problem
from asyncsgd.assembly.job import Job
from asyncsgd.cli.main import main
from asyncsgd.config import load_experiment
from asyncsgd.data import load_dataset
from asyncsgd.experiment.runner import prepare_jobs
from asyncsgd.theory import guarantee_ratio, predict
from asyncsgd.theory.bound import Constants

# a quick probe on the synthetic task: a few seconds in all
PROBE = ["theory_points=2", "theory_steps=5", "theory_batches=8", "theory_hvp=5", "theory_samples=256"]
SMALL = ["dataset=synthetic", "model=logreg", "epochs=1", *PROBE]


def sets(items: list[str]) -> list[str]:
    return [a for item in items for a in ("--set", item)]


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def auto_run(tmp_path_factory):
    """One finished run with lr = auto for every method (the embedded default's three methods)."""
    out = tmp_path_factory.mktemp("auto") / "run"
    assert main(["run", "--out", str(out), "--quiet", *sets([*SMALL, "lr=auto"])]) == 0
    return out


def test_lr_auto_runs_end_to_end_and_records_its_provenance(auto_run):
    methods = json.loads((auto_run / "summary.json").read_text())["methods"]
    assert set(methods) == {"downpour", "topk-ef", "staleness-lr"}
    # the same prediction, computed apart from the run, for the default experiment's p = 8
    default = load_experiment(None, [*SMALL, "lr=auto"]).methods[0].config
    assert default.lr == "auto"
    job = Job.from_config(default.replace(lr=0.1), dataset=load_dataset("synthetic"))
    est, pred = predict_lr(job)
    for summary in methods.values():
        source = summary["lr_source"]
        assert summary["lr"] == source["value"] == pred.lr  # bit for bit: same seed, same probe
        assert source["setting"] == "auto"
        assert source["prediction"]["rule"] == "corollary2"
        assert "√(D_f/(K·L·σ_M²))" in source["prediction"]["formula"]
        inputs = source["prediction"]["inputs"]
        assert inputs["updates"] == job.expected_updates and inputs["batch_size"] == 32
        rate = inputs["d_f"] / (inputs["updates"] * inputs["lipschitz"] * inputs["sigma2_update"])
        assert summary["lr"] == pytest.approx(math.sqrt(rate))
        assert source["estimates"] == est.to_dict()
        assert source["settings"]["theory_points"] == 2 and source["settings"]["model"] == "logreg"
        assert source["estimates"]["cost"]["hessian_vector_products"] >= 2
    # the resolved config keeps what the user asked for
    assert (auto_run / "config.toml").read_text().count('lr = "auto"') == 3


def test_methods_of_one_experiment_share_one_measurement():
    exp = load_experiment(None, [*SMALL, "lr=auto", "topk-ef.theory_samples=128"])
    cache: dict = {}
    jobs = prepare_jobs(exp, estimates=cache)
    assert len(cache) == 2  # downpour and staleness-lr share; topk-ef probes a different subset
    assert jobs[0].lr_source["estimates"] == jobs[2].lr_source["estimates"]
    assert jobs[0].lr_source["estimates"] != jobs[1].lr_source["estimates"]


def test_theory_bound_uses_the_runs_staleness_and_recorded_constants(auto_run, capsys):
    summary = json.loads((auto_run / "summary.json").read_text())["methods"]["downpour"]
    for statistic, expected in (("max", summary["staleness"]["max"]), ("p95", summary["staleness"]["p95"])):
        code, out, _ = run_cli(["theory", "bound", "--run", str(auto_run), "--method", "downpour",
                                "--staleness", statistic, "--json"], capsys)  # fmt: skip
        assert code == 0
        result = json.loads(out)["methods"]["downpour"]
        assert result["staleness"]["T"] == expected
        assert result["constants_source"].startswith("recorded")
        inputs = summary["lr_source"]["prediction"]["inputs"]
        c = Constants(inputs["d_f"], inputs["lipschitz"], inputs["sigma2_update"], summary["updates"])
        assert result["bound"] == pytest.approx(c.bound(summary["lr"], expected))
        assert result["optimal_lr"] == pytest.approx(c.optimal_lr(expected))
        assert result["feasible"] == c.feasible(summary["lr"], expected)
        assert result["ratio_study"] == pytest.approx(guarantee_ratio(8, c.alpha))
    code, out, _ = run_cli(["theory", "bound", "--run", str(auto_run), "--method", "downpour"], capsys)
    assert code == 0 and "constraint (2)" in out and f"T = {summary['staleness']['max']}" in out


def test_theory_bound_measures_constants_for_a_run_without_them(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["run", "--out", str(out), "--quiet", "--methods", "downpour", *sets([*SMALL, "lr=0.2"])]
    assert main(args) == 0
    capsys.readouterr()
    code, text, _ = run_cli(["theory", "bound", "--run", str(out), "--json"], capsys)
    assert code == 0
    result = json.loads(text)["methods"]["downpour"]
    assert result["constants_source"].startswith("measured now")
    assert result["lr"] == 0.2


def test_theory_lr_json_is_consistent_with_its_own_inputs(capsys):
    code, out, _ = run_cli(["theory", "lr", "--json", "--methods", "downpour,topk-ef", *sets(SMALL)], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["format"] == 1 and len(data["estimates"]) == 1
    first, second = data["methods"]
    assert first["prediction"] == second["prediction"]  # same constants and problem
    assert second["notes"] and not first["notes"]  # top-k leaves the bound's assumptions
    pred, est = first["prediction"], data["estimates"][0]
    inputs = pred["inputs"]
    assert inputs["d_f"] == est["d_f"]["value"]
    assert inputs["lipschitz"] == est["lipschitz_hessian"]["max"]
    assert inputs["sigma2"] == pytest.approx(est["sigma2_sample"]["max"])
    assert pred["gamma_lian"] == pytest.approx(pred["lr"] / inputs["batch_size"])
    gamma = math.sqrt(inputs["d_f"] / (inputs["batch_size"] * inputs["updates"] * inputs["lipschitz"]
                                       * inputs["sigma2"]))  # fmt: skip
    assert pred["gamma_lian"] == pytest.approx(gamma)  # Corollary 2 in Lian's own convention
    assert pred["linear_speedup"]["holds"] == (pred["alpha"] >= 2 * (inputs["delay"] + 1))
    assert inputs["delay"] == 8  # T = p
    code, text, _ = run_cli(["theory", "lr", "--methods", "downpour", *sets(SMALL)], capsys)
    assert code == 0
    assert "Hessian-vector products" in text and f"lr = {pred['lr']:.4g}" in text


def test_optimal_rule_and_secant_feed_the_prediction():
    dataset = load_dataset("synthetic")
    base = load_experiment(None, [*SMALL, "lr=0.1"]).methods[0].config
    job = Job.from_config(base, dataset=dataset)
    est = theory_estimates(job)
    opt = Job.from_config(base.replace(lr="auto", theory_rate="optimal"), dataset=dataset)
    expected = predict(est, theory_problem(job), "optimal")
    assert opt.config.lr == expected.lr == expected.constants.optimal_lr(8)
    sec = Job.from_config(base.replace(lr="auto", theory_lipschitz="secant"), dataset=dataset)
    assert sec.lr_source["prediction"]["inputs"]["lipschitz"] == est.lipschitz_secant.max


def test_ratio_json_is_stable_and_machine_readable():
    args = [sys.executable, "-m", "asyncsgd.cli.main", "theory", "ratio", "--p", "256", "512",
            "--alpha", "1", "10", "100", "1000", "--json"]  # fmt: skip
    first = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    second = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    assert first == second
    data = json.loads(first)
    assert data["format"] == 1
    rows = data["rows"]
    alphas = (1.0, 10.0, 100.0, 1000.0)
    assert [(r["p"], r["alpha"]) for r in rows] == [(p, a) for p in (256, 512) for a in alphas]
    keys = ["p", "alpha", "ratio", "p_over_alpha", "u_p", "u_1", "constrained_p", "constrained_1"]
    for row in rows:
        assert list(row) == keys
        assert row["ratio"] == guarantee_ratio(row["p"], row["alpha"])
        assert row["p_over_alpha"] == row["p"] / row["alpha"]


def test_ratio_table_and_plot(tmp_path, capsys):
    plot = tmp_path / "ratio.png"
    code, out, _ = run_cli(["theory", "ratio", "--plot", str(plot)], capsys)
    assert code == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "p = 256: R_p/R_1" in out and "p = 512: R_p/R_1" in out
    assert f"{guarantee_ratio(512, 10.0):.4g}" in out


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (["run", *sets(["lr=fast"])], "lr"),
        (["run", *sets(["lr=0"])], "lr"),
        (["run", *sets(["theory_batches=2"])], "theory_batches"),
        (["run", *sets(["theory_points=0"])], "theory_points"),
        (["run", *sets(["theory_probe_lr=-1"])], "theory_probe_lr"),
        (["run", *sets(["theory_rate=magic"])], "theory_rate"),
        (["run", *sets(["theory_lipschitz=guess"])], "theory_lipschitz"),
        (["run", *sets(["theory_samples=-5"])], "theory_samples"),
        (["theory", "lr", *sets(["theory_hvp=0"])], "theory_hvp"),
        (["theory", "lr", *sets([*SMALL, "theory_f_low=100", "theory_points=1"])], "theory_f_low"),
        (["theory", "ratio", "--alpha", "-1"], "--alpha"),
        (["theory", "ratio", "--p", "0"], "--p"),
        (["theory", "bound", "--run", "/no/such/run"], "--run"),
    ],
)
def test_bad_input_is_one_line_naming_the_culprit(tmp_path, capsys, args, key):
    if args[0] == "run":
        args = [*args, "--out", str(tmp_path / "out"), "--quiet", *sets(["dataset=synthetic"])]
    code, _, err = run_cli(args, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asyncsgd: error: ") and key in lines[0], err
    assert not (tmp_path / "out").exists()


def test_bound_rejects_unknown_method_and_statistic(auto_run, capsys):
    for extra, key in ((["--method", "nope"], "--method"), (["--staleness", "p200"], "--staleness")):
        code, _, err = run_cli(["theory", "bound", "--run", str(auto_run), *extra], capsys)
        assert code == 2 and key in err and len(err.strip().splitlines()) == 1


def test_python_api_accepts_lr_auto_with_a_custom_module():
    from torch import nn

    import asyncsgd

    dataset = load_dataset("synthetic")
    module = nn.Sequential(
        nn.Linear(dataset.input_shape[0], 16), nn.Tanh(), nn.Linear(16, dataset.num_classes)
    )
    settings = {k: int(v) for k, v in (s.split("=") for s in PROBE)}
    result = asyncsgd.train(module, dataset, learners=2, updates=20, lr="auto", **settings)
    source = result.summary["lr_source"]
    assert result.summary["lr"] == source["value"] > 0
    assert source["estimates"]["parameters"] == sum(p.numel() for p in module.parameters())
    assert source["estimates"]["sigma2_sample"]["source"].startswith("per-sample gradients")
