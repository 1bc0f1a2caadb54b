"""LossMonitorCallback: a tiny Lightning run on CPU logs every composite term and the
monitor's events, and stops a run whose loss goes non-finite."""

from __future__ import annotations

import csv
import math
import warnings

import pytest
import torch

pytest.importorskip("lightning")

import lightning.pytorch as pl
from lightning.pytorch.loggers import CSVLogger

import losskit
from losskit.integrations.lightning import LossMonitorCallback


class Regressor(pl.LightningModule):
    def __init__(self, poison_at: int | None = None) -> None:
        super().__init__()
        self.net = torch.nn.Linear(3, 1)
        self.loss = losskit.get("0.5*mse + 0.5*huber")
        self.poison_at = poison_at

    def training_step(self, batch, batch_idx):
        x, y = batch
        pred = self.net(x)[:, 0]
        if self.poison_at is not None and self.global_step >= self.poison_at:
            pred = pred * float("nan")
        return self.loss(pred, y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _data() -> torch.utils.data.DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(64, generator=g)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)


def _fit(tmp_path, model: Regressor, steps: int) -> LossMonitorCallback:
    callback = LossMonitorCallback(window=5, plateau_steps=1000)
    trainer = pl.Trainer(max_steps=steps, accelerator="cpu", devices=1,
                         logger=CSVLogger(tmp_path), callbacks=[callback],
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, log_every_n_steps=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(model, _data())
    return callback


def _logged(tmp_path) -> list[dict[str, str]]:
    (path,) = tmp_path.glob("lightning_logs/version_*/metrics.csv")
    with open(path) as f:
        return list(csv.DictReader(f))


def test_every_term_is_logged_and_recorded(tmp_path):
    callback = _fit(tmp_path, Regressor(), steps=12)
    monitor = callback.monitor
    assert set(monitor.terms) == {"mse", "huber"} and len(monitor.steps) == 12
    assert monitor.grad_norms and all(math.isfinite(g) for g in monitor.grad_norms)
    rows = [r for r in _logged(tmp_path) if r.get("losskit/total")]
    assert len(rows) == 12
    for row in rows:  # the total is the weighted sum of the logged terms
        total = float(row["losskit/total"])
        assert math.isclose(total, 0.5 * float(row["losskit/mse"])
                            + 0.5 * float(row["losskit/huber"]), rel_tol=1e-5)
    assert float(rows[-1]["losskit/total"]) < float(rows[0]["losskit/total"])
    assert not callback.events


def test_events_are_logged_and_a_nan_loss_stops_training(tmp_path):
    callback = _fit(tmp_path, Regressor(poison_at=6), steps=40)
    kinds = {e.kind for e in callback.events}
    assert "nonfinite" in kinds
    assert len(callback.monitor.steps) < 40  # stopped early
    rows = _logged(tmp_path)
    assert any(r.get("losskit/event/nonfinite") == "1.0" for r in rows)
    assert callback.state_dict()["events"][0]["kind"] == "nonfinite"
