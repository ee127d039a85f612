"""The run-time policies ``wgen`` adds to a run's callbacks (fine-tuning, exact resume, the given
optimizer settings on resume, the training clock, speed options), each once, each a callback
that a plain ``Trainer`` takes too (docs/architecture.md)."""

import logging
from pathlib import Path

import pytest
from lightning.pytorch.callbacks import Timer

from lightning_wgen.callbacks import (
    ExactResume,
    GivenOptimizerSettings,
    InitFromWeights,
    SpeedOptions,
    TrainingClock,
    fit_policies,
)
from lightning_wgen.cli import _cli
from lightning_wgen.cli import main as wgen

QUICKSTART = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"
KINDS = [InitFromWeights, ExactResume, GivenOptimizerSettings, TrainingClock]


def kinds(callbacks) -> list[type]:
    return [type(c) for c in callbacks]


def test_fit_policies_add_each_kind_once_and_leave_those_given():
    assert kinds(fit_policies()) == KINDS
    mine = [ExactResume(), Timer()]  # any Timer is the clock
    assert kinds(fit_policies(mine)) == [InitFromWeights, GivenOptimizerSettings]
    assert fit_policies(fit_policies()) == []


def test_wgen_adds_the_policies_with_max_time_as_the_clocks_limit_and_the_speed_section():
    args = ["--config", str(QUICKSTART), "--trainer.logger=false", "--trainer.max_time=00:00:02:00"]
    said = []  # what Lightning's rank-zero logger lets through
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: said.append(record.getMessage())
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    rank_zero.addHandler(handler)
    try:
        cli = _cli([*args, "--speed.channels_last=true"], run=False)
    finally:
        rank_zero.removeHandler(handler)
    assert said and not any("max_time" in line for line in said)  # the limit is not "ignored"
    callbacks = cli.trainer.callbacks
    for kind in KINDS:
        assert sum(isinstance(c, kind) for c in callbacks) == 1, kind
    (timer,) = [c for c in callbacks if isinstance(c, Timer)]  # Lightning adds none of its own
    assert isinstance(timer, TrainingClock) and timer.time_remaining() == 120.0
    (speed,) = [c for c in callbacks if isinstance(c, SpeedOptions)]
    assert speed.channels_last and not speed.compile_networks


def test_a_config_yaml_with_the_speed_options_as_model_arguments_gets_one_line(tmp_path):
    # what `wgen fit` saved as config.yaml before the speed options became --speed.*
    penalty = "    gp_weight: 1.0\n"  # a line of the model's init_args
    old = QUICKSTART.read_text().replace(penalty, penalty + "    channels_last: false\n")
    assert "channels_last" in old
    (tmp_path / "config.yaml").write_text(old)
    with pytest.raises(SystemExit) as done:
        wgen(["fit", "--config", str(tmp_path / "config.yaml"), "--print_config"])
    assert str(done.value.code) == (
        "wgen: error: model: option 'channels_last' is not accepted by "
        "lightning_wgen.models.WGANGP; move it to the speed: section (--speed.channels_last), or "
        "delete it if false."
    )
