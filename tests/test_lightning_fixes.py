"""The short cut in Lightning's per-step logging (lightning_wgen/models/lightning_fixes.py) changes
no logged value and still moves a metric that is not on the asked device."""

import lightning as L
import pytest
import torch
from helpers import quiet_trainer, tiny_wgan_gp
from lightning.pytorch.trainer.connectors.logger_connector.result import _Metadata, _ResultMetric

from lightning_wgen.data import ToyDataModule
from lightning_wgen.models import lightning_fixes


class PerStep(L.Callback):
    """``trainer.callback_metrics`` after every generator step."""

    def __init__(self) -> None:
        self.values: list[dict[str, float]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.values.append({k: float(v) for k, v in trainer.callback_metrics.items()})


def train(steps: int = 4) -> tuple[list[dict[str, float]], dict[str, torch.Tensor]]:
    L.seed_everything(3)
    model = tiny_wgan_gp(n_critic=2, max_generator_steps=steps)
    record = PerStep()
    quiet_trainer(callbacks=[record]).fit(model, ToyDataModule("grid25", batch_size=32))
    return record.values, model.state_dict()


def test_importing_the_package_installs_the_short_cut():
    assert _ResultMetric.to is lightning_fixes._to


def test_every_step_logs_the_values_lightnings_own_code_logs(monkeypatch):
    fixed, fixed_weights = train()
    monkeypatch.setattr(_ResultMetric, "to", lightning_fixes.lightning_to)
    plain, plain_weights = train()
    assert len(fixed) == 4 and {"critic/loss", "gen/loss"} <= set(fixed[-1])
    assert fixed == plain
    assert all(torch.equal(fixed_weights[k], plain_weights[k]) for k in plain_weights)


@pytest.mark.parametrize("device", [torch.device("meta"), "meta"])
def test_a_metric_elsewhere_is_still_moved(device):
    metric = _ResultMetric(_Metadata(fx="training_step", name="loss"), is_tensor=True)
    assert metric.to(torch.device("cpu")) is metric and metric.value.device.type == "cpu"
    moved = metric.to(device)
    assert moved.value.device.type == "meta"
    assert moved.cumulated_batch_size.device.type == "meta"
