"""A PyTorch Lightning callback that logs every term of a composite loss and watches it.

``pip install 'losskit[lightning]'``. Add it to the trainer; it finds the loss module on
your LightningModule (an attribute holding a losskit composite, e.g. ``self.loss =
losskit.get("0.5*dice + 0.5*cross_entropy")``) or takes it as ``loss=``::

    from losskit.integrations.lightning import LossMonitorCallback

    trainer = lightning.Trainer(callbacks=[LossMonitorCallback()])

After every training batch it logs ``losskit/total`` and ``losskit/<term>`` for each term
(the unweighted values of ``loss.last_terms``), records them and the gradient norm in a
:class:`losskit.monitor.LossMonitor`, and logs each event the monitor reports
(``losskit/event/<kind>`` = 1 at its step, plus a warning with the message). With
``stop_on_failure=True`` (the default) a non-finite or diverging loss stops training.
"""

from __future__ import annotations

from typing import Any

import torch

try:
    import lightning.pytorch as pl
    from lightning.pytorch.utilities import rank_zero_warn
except ModuleNotFoundError as exc:  # pragma: no cover - exercised in an install without it
    raise ModuleNotFoundError(
        "losskit.integrations.lightning needs lightning: pip install 'losskit[lightning]'",
        name=exc.name) from exc

from ..monitor import LossMonitor, MonitorEvent

__all__ = ["LossMonitorCallback"]


def _loss_value(outputs: Any) -> torch.Tensor | None:
    if isinstance(outputs, torch.Tensor):
        return outputs
    if isinstance(outputs, dict):
        value = outputs.get("loss")
        return value if isinstance(value, torch.Tensor) else None
    return None


class LossMonitorCallback(pl.Callback):
    """Log each loss term and the :class:`~losskit.monitor.LossMonitor` events.

    Args:
        loss: the loss module whose ``last_terms`` to log; default: the first attribute of
            the LightningModule that has ``last_terms`` (a losskit composite).
        prefix: prefix of the logged names.
        stop_on_failure: set ``trainer.should_stop`` once the loss is non-finite or
            diverging.
        track_gradients: record the total gradient norm (read after the optimizer step,
            before the next ``zero_grad``).
        **monitor_options: passed to :class:`~losskit.monitor.LossMonitor` (``window``,
            ``plateau_steps``, ``grad_factor``, ...).
    """

    def __init__(self, loss: Any = None, *, prefix: str = "losskit/",
                 stop_on_failure: bool = True, track_gradients: bool = True,
                 **monitor_options: Any) -> None:
        super().__init__()
        self.loss = loss
        self.prefix = prefix
        self.stop_on_failure = stop_on_failure
        self.track_gradients = track_gradients
        self.monitor_options = monitor_options
        self.monitor: LossMonitor | None = None

    @property
    def events(self) -> list[MonitorEvent]:
        return list(self.monitor.events) if self.monitor is not None else []

    def _find_loss(self, pl_module: pl.LightningModule) -> Any:
        if self.loss is not None:
            return self.loss
        for module in pl_module.modules():
            if module is not pl_module and hasattr(module, "last_terms"):
                return module
        return None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.monitor = LossMonitor(model=pl_module if self.track_gradients else None,
                                   loss=self._find_loss(pl_module), **self.monitor_options)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.monitor is None:
            self.on_train_start(trainer, pl_module)
        assert self.monitor is not None
        loss = _loss_value(outputs)
        if loss is None:
            return
        events = self.monitor.record(loss.detach(), step=trainer.global_step)
        metrics = {f"{self.prefix}total": float(loss.detach())}
        for name in self.monitor.terms:
            metrics[f"{self.prefix}{name}"] = self.monitor.history[name][-1]
        for event in events:
            metrics[f"{self.prefix}event/{event.kind}"] = 1.0
            rank_zero_warn(f"losskit: {event.message}")
        pl_module.log_dict(metrics, on_step=True, on_epoch=False, batch_size=1)
        if self.stop_on_failure and self.monitor.should_stop:
            trainer.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        return {"events": [e.to_dict() for e in self.events]}
