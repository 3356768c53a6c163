"""The squared norm of the full training gradient, ‖∇f(x)‖², at each evaluation (``eval_grad_norm``)."""

from __future__ import annotations

import copy
import csv
import math

import pytest
import torch
from torch import nn

from asyncsgd.experiment.runner import run_job
from asyncsgd.metrics.evaluate import Evaluator, full_gradient
from asyncsgd.vocabulary.flat import FlatModel
from tests.conftest import make_job


def reference_gradient(module: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∇f of the mean cross-entropy over all of (x, y), one autograd pass in float64."""
    ref = copy.deepcopy(module).double().train()
    loss = nn.functional.cross_entropy(ref(x.double()), y)
    grads = torch.autograd.grad(loss, [p for p in ref.parameters() if p.requires_grad])
    return torch.cat([g.reshape(-1) for g in grads])


@pytest.mark.parametrize("chunk", [1000, 64, 100])  # one pass; chunks dividing n; a ragged last chunk
def test_full_gradient_is_the_gradient_of_the_mean_loss_over_every_sample(synthetic, chunk):
    job = make_job(synthetic)
    flat = job.flat_model("cpu")
    x, y = synthetic.x_train[:1000], synthetic.y_train[:1000]
    point = flat.params + 0.3 * torch.randn(flat.size, generator=torch.Generator().manual_seed(3))
    module = copy.deepcopy(flat.module)
    with torch.no_grad():
        for p, seg in zip([p for p in module.parameters() if p.requires_grad], flat.layout, strict=True):
            p.copy_(point[seg.offset : seg.stop].view(seg.shape))
    expected = reference_gradient(module, x, y)
    got = full_gradient(flat, point, x, y, chunk=chunk)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-7)
    assert float(got @ got) == pytest.approx(float(expected @ expected), rel=1e-5)


def test_batchnorm_statistics_are_put_back_after_the_gradient():
    gen = torch.Generator().manual_seed(0)
    module = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    flat = FlatModel(module)
    before = [b.clone() for b in module.buffers()]
    x, y = torch.randn(50, 6, generator=gen), torch.randint(0, 3, (50,), generator=gen)
    full_gradient(flat, flat.params.clone(), x, y, chunk=16)
    assert all(torch.equal(a, b) for a, b in zip(before, module.buffers(), strict=True))


def test_evaluator_reports_the_norm_only_when_asked(synthetic):
    job = make_job(synthetic)
    params = job.flat_model("cpu").params.clone()
    plain = Evaluator(job.flat_model("cpu"), synthetic)(params)
    with_norm = Evaluator(job.flat_model("cpu"), synthetic, grad_norm=True)(params)
    assert "grad_norm_sq" not in plain and with_norm["grad_norm_sq"] > 0
    assert {k: v for k, v in with_norm.items() if k != "grad_norm_sq"} == plain
    g = full_gradient(job.flat_model("cpu"), params, synthetic.x_train, synthetic.y_train)
    assert with_norm["grad_norm_sq"] == pytest.approx(float(g @ g), rel=1e-12)


def test_a_run_records_the_norm_at_every_evaluation_and_its_ergodic_mean(synthetic, tmp_path):
    job = make_job(synthetic, eval_grad_norm=True, updates=60, eval_every=20)
    result = run_job(job, tmp_path)
    values = [m["grad_norm_sq"] for m in result.metrics]
    assert len(values) == 4 and all(v > 0 and math.isfinite(v) for v in values)  # updates 0, 20, 40, 60
    gn = result.summary["grad_norm_sq"]
    assert gn == {"final": values[-1], "ergodic": pytest.approx(sum(values) / 4), "points": 4}
    with (tmp_path / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [float(r["grad_norm_sq"]) for r in rows] == pytest.approx(values, rel=1e-6)
    # without the setting: a nan column in the CSV, nothing in the summary
    plain = run_job(make_job(synthetic, updates=60, eval_every=20), tmp_path / "plain")
    assert "grad_norm_sq" not in plain.summary and all("grad_norm_sq" not in m for m in plain.metrics)
    with (tmp_path / "plain" / "metrics.csv").open() as f:
        assert {r["grad_norm_sq"] for r in csv.DictReader(f)} == {"nan"}
