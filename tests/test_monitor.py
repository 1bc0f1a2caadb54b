"""LossMonitor: per-term records; each detector on a case that must fire and one that must not."""

from __future__ import annotations

import json
import math

import numpy as np
import torch

import losskit
from losskit.monitor import LossMonitor


def _train(lr: float, steps: int = 150, seed: int = 0, model_kw: bool = True) -> LossMonitor:
    from losskit.compare._train import single_thread

    with single_thread():
        return _loop(lr, steps, seed, model_kw)


def _loop(lr: float, steps: int, seed: int, model_kw: bool) -> LossMonitor:
    torch.manual_seed(seed)
    X = torch.randn(128, 4)
    y = X @ torch.tensor([1.0, -2.0, 0.5, 0.0]) + 0.1 * torch.randn(128)
    model = torch.nn.Linear(4, 1)
    criterion = losskit.get("0.5*mse + 0.5*huber")
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    monitor = LossMonitor(model=model if model_kw else None, loss=criterion, plateau_steps=1000)
    for _ in range(steps):
        loss = criterion(model(X)[:, 0], y)
        opt.zero_grad()
        loss.backward()
        monitor.record(loss)
        if monitor.should_stop:
            break
        opt.step()
    return monitor


def test_composite_terms_recorded_and_healthy_run_is_quiet():
    m = _train(lr=0.05)
    assert set(m.terms) == {"mse", "huber"}
    assert len(m.history["mse"]) == len(m.steps) == 150
    s = m.summary()
    assert s["status"] == "ok" and s["events"] == []
    assert s["terms"]["total"]["last"] < 0.05 * s["terms"]["total"]["first"]
    assert s["grad_norm"]["max"] > 0
    json.dumps(s)


def test_divergence_detected_with_a_learning_rate_too_high():
    m = _train(lr=3.0)  # the mse term's curvature is ~1: steps beyond 2 / 1 grow each time
    kinds = {e.kind for e in m.events}
    assert "divergence" in kinds or "nonfinite" in kinds
    assert m.should_stop and m.summary()["status"] == "failed"
    assert len(m.steps) < 150


def test_nonfinite_names_the_term_and_step():
    m = LossMonitor()
    for step in range(10):
        kl = float("nan") if step >= 6 else 1.0
        m.record(torch.tensor(2.0 + kl), terms={"recon": torch.tensor(2.0), "kl": kl})
    (event,) = [e for e in m.events if e.kind == "nonfinite"]
    assert (event.term, event.step) == ("kl", 6)
    assert "'kl'" in event.message and "step 6" in event.message


def test_gradient_explosion_detected_at_its_step():
    model = torch.nn.Linear(3, 1)
    m = LossMonitor(model=model)
    for step in range(40):
        model.zero_grad()
        scale = 1000.0 if step == 30 else 1.0
        (scale * model(torch.ones(2, 3)).sum()).backward()
        m.record(torch.tensor(1.0 / (step + 1)))
    events = [e for e in m.events if e.kind == "grad_explosion"]
    assert [e.step for e in events] == [30]
    quiet = LossMonitor(model=model)
    for _ in range(40):
        model.zero_grad()
        model(torch.ones(2, 3)).sum().backward()
        quiet.record(torch.tensor(1.0))
    assert not [e for e in quiet.events if e.kind == "grad_explosion"]


def test_plateau_detected_and_not_while_improving():
    m = LossMonitor(window=10, plateau_steps=50)
    for step in range(200):
        m.record(1.0 / (1 + step) if step < 60 else 1.0 / 61)
    plateaus = [e for e in m.events if e.kind == "plateau"]
    assert len(plateaus) == 1 and 60 <= plateaus[0].step <= 130
    improving = LossMonitor(window=10, plateau_steps=50)
    for step in range(200):
        improving.record(math.exp(-step / 40))
    assert not improving.events


def test_kl_collapse_in_a_vae_objective():
    collapsing, healthy = LossMonitor(window=10), LossMonitor(window=10)
    for step in range(120):
        kl_c = 5.0 * math.exp(-step / 10)  # falls to ~0: posterior collapse
        kl_h = 2.0 + 0.5 * math.exp(-step / 10)  # settles at a useful rate
        recon = 10.0 * math.exp(-step / 50) + 1
        collapsing.record(recon + kl_c, terms={"recon": recon, "kl": kl_c})
        healthy.record(recon + kl_h, terms={"recon": recon, "kl": kl_h})
    (event,) = [e for e in collapsing.events if e.kind == "kl_collapse"]
    # below 0.01 from step 63 (5 e^-s/10 < 0.01), reported after window = 10 such steps
    assert event.term == "kl" and 70 <= event.step <= 75
    assert not [e for e in healthy.events if e.kind == "kl_collapse"]


def test_summary_and_plot(tmp_path):
    m = _train(lr=0.05, steps=60)
    path = m.plot(str(tmp_path / "monitor.png"))
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    text = str(m)
    assert "60 steps" in text and "mse" in text
    assert np.isfinite(m.summary()["terms"]["huber"]["min"])


def test_each_plateau_is_reported_once_until_it_ends():
    rng = np.random.default_rng(0)
    m = LossMonitor(window=10, plateau_steps=50)
    for step in range(600):
        if step < 60:
            level = 1.0 / (1 + step)
        elif step < 300:
            level = 1 / 61  # first plateau, noisy
        elif step < 400:
            level = math.exp(-(step - 300) / 30) / 61  # training resumes
        else:
            level = math.exp(-100 / 30) / 61  # second plateau
        m.record(level * (1 + 0.01 * rng.uniform(-1, 1)))
    steps = [e.step for e in m.events if e.kind == "plateau"]
    assert len(steps) == 2 and 60 <= steps[0] < 300 and 400 <= steps[1] < 600, steps


def test_a_long_noisy_plateau_is_one_event():
    rng = np.random.default_rng(1)
    m = LossMonitor(window=20, plateau_steps=100)
    for step in range(5000):
        m.record((1.0 / (1 + step) if step < 100 else 0.01) + 0.002 * rng.standard_normal())
    assert [e.kind for e in m.events] == ["plateau"]


def test_record_costs_the_same_at_step_20000_as_at_step_1000():
    import time

    m = LossMonitor(plateau_steps=200)
    rng = np.random.default_rng(0)
    noise = rng.uniform(size=20000)
    times = np.empty(20000)
    for step in range(20000):
        value = 1.0 / (1 + step / 500) + 0.01 * noise[step]
        start = time.perf_counter()
        m.record(value, terms={"a": value / 2, "b": value / 2})
        times[step] = time.perf_counter() - start
    early, late = np.median(times[1000:2000]), np.median(times[19000:20000])
    # O(1) per record: the cost does not grow with the history (generous bound for a
    # shared machine; the former O(n) median made the late records ~30x slower).
    assert late < 3 * early, (early, late)
    assert len(m.history["a"]) == 20000 and m.summary()["steps"] == 20000
