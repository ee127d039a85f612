from pathlib import Path

import lightning as L
import pytest
import torch
from helpers import CountingToyData, quiet_trainer, tiny_wgan_gp
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from lightning_wgen.cli import build_from_config
from lightning_wgen.errors import ConfigError
from lightning_wgen.metrics import exact_w1
from lightning_wgen.models import critic_steps_for
from lightning_wgen.models.ema import ema_decay_at

TOY_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "wgan_gp" / "toy.yaml"


class RecordSteps(Callback):
    """Records 'C' or 'G' for every optimizer step Lightning takes."""

    def __init__(self):
        self.pattern = []
        self.seconds_at_start = None

    def on_train_start(self, trainer, pl_module):
        self.seconds_at_start = pl_module.train_seconds

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        is_critic = optimizer.param_groups[0]["params"][0] is next(pl_module.critic.parameters())
        self.pattern.append("C" if is_critic else "G")


def expected_pattern(generator_steps, n_critic, warmup):
    return "".join(
        "C" * critic_steps_for(step, n_critic, warmup) + "G" for step in range(generator_steps)
    )


def test_warmup_schedule_values():
    assert [critic_steps_for(s, 5, False) for s in (0, 24, 25, 500)] == [5, 5, 5, 5]
    assert [critic_steps_for(s, 5, True) for s in (0, 24, 25, 499, 500, 501, 1000)] == [
        100,
        100,
        5,
        5,
        100,
        5,
        100,
    ]


@pytest.mark.parametrize("n_critic", [1, 3])
def test_n_critic_steps_per_generator_step(n_critic):
    recorder, data = RecordSteps(), CountingToyData()
    model = tiny_wgan_gp(n_critic=n_critic, max_generator_steps=7)
    trainer = quiet_trainer(callbacks=[recorder])
    trainer.fit(model, data)
    assert "".join(recorder.pattern) == expected_pattern(7, n_critic, False)
    assert model.generator_steps == 7
    assert trainer.global_step == 7 * (n_critic + 1)  # Lightning counts every optimizer step
    # every critic update drew a fresh real batch (plus at most the fetcher's one prefetch)
    assert 7 * n_critic <= len(data.drawn) <= 7 * n_critic + 2


def test_warmup_schedule_over_a_real_run():
    recorder, data = RecordSteps(), CountingToyData(batch_size=4)
    model = tiny_wgan_gp(n_critic=5, critic_warmup=True, max_generator_steps=27)
    quiet_trainer(callbacks=[recorder]).fit(model, data)
    pattern = "".join(recorder.pattern)
    assert pattern == ("C" * 100 + "G") * 25 + ("C" * 5 + "G") * 2
    assert pattern == expected_pattern(27, 5, True)


def test_cycle_continues_across_epochs():
    # 10 real batches per epoch and n_critic 3: cycles straddle epoch boundaries, and the
    # pattern must still be exactly CCCG.
    images = TensorDataset(torch.randn(40, 2))
    loader = DataLoader(images, batch_size=4, shuffle=True, drop_last=True)
    recorder = RecordSteps()
    model = tiny_wgan_gp(n_critic=3, max_generator_steps=8)
    trainer = quiet_trainer(callbacks=[recorder])
    trainer.fit(model, train_dataloaders=loader)
    assert "".join(recorder.pattern) == expected_pattern(8, 3, False)
    assert trainer.current_epoch >= 2


def test_generator_steps_survive_save_and_resume(tmp_path):
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    model = tiny_wgan_gp(n_critic=2, max_generator_steps=4)
    quiet_trainer(callbacks=[ckpt], enable_checkpointing=True).fit(model, CountingToyData())
    saved = torch.load(tmp_path / "last.ckpt", weights_only=True)
    seconds = saved["wgen"].pop("train_seconds")
    assert set(saved["wgen"].pop("random_state")) == {"torch", "numpy", "python"}
    assert saved["wgen"] == {"generator_steps": 4, "critic_steps_in_cycle": 0, "skipped_updates": 0}
    assert seconds > 0

    recorder = RecordSteps()
    resumed = tiny_wgan_gp(n_critic=2, max_generator_steps=6)
    trainer = quiet_trainer(callbacks=[recorder])
    trainer.fit(resumed, CountingToyData(), ckpt_path=tmp_path / "last.ckpt")
    assert resumed.generator_steps == 6
    assert "".join(recorder.pattern) == "CCGCCG"  # two more generator steps, not six
    assert trainer.global_step == 6 * 3
    # the training time goes on from the checkpoint's (taken before the module starts its clock)
    assert recorder.seconds_at_start == seconds and resumed.train_seconds > seconds


class RecordLearningRates(Callback):
    """The learning rate of every critic ('C') and generator ('G') optimizer step."""

    def __init__(self):
        self.rates = {"C": [], "G": []}

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        is_critic = optimizer.param_groups[0]["params"][0] is next(pl_module.critic.parameters())
        self.rates["C" if is_critic else "G"].append(optimizer.param_groups[0]["lr"])


def test_linear_lr_decay_falls_to_zero_per_generator_step_and_resumes(tmp_path):
    lr = 1e-4  # WGAN-GP's paper optimizer
    full = [lr * (1 - step / 4) for step in range(4)]  # 1e-4, 7.5e-5, 5e-5, 2.5e-5
    recorder = RecordLearningRates()
    model = tiny_wgan_gp(n_critic=2, max_generator_steps=4, lr_decay="linear")
    quiet_trainer(callbacks=[recorder]).fit(model, CountingToyData())
    assert recorder.rates["G"] == pytest.approx(full)
    assert recorder.rates["C"] == pytest.approx([r for r in full for _ in range(2)])
    assert [opt.param_groups[0]["lr"] for opt in model.optimizers()] == [0.0, 0.0]

    # Interrupted after two generator steps (3 optimizer steps each), the resumed run goes on
    # from the saved schedule rather than restarting it.
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    model = tiny_wgan_gp(n_critic=2, max_generator_steps=4, lr_decay="linear")
    trainer = quiet_trainer(callbacks=[ckpt], enable_checkpointing=True, max_steps=6)
    trainer.fit(model, CountingToyData())
    assert model.generator_steps == 2
    recorder = RecordLearningRates()
    resumed = tiny_wgan_gp(n_critic=2, max_generator_steps=4, lr_decay="linear")
    quiet_trainer(callbacks=[recorder]).fit(
        resumed, CountingToyData(), ckpt_path=tmp_path / "last.ckpt"
    )
    assert recorder.rates["G"] == pytest.approx(full[2:])


def test_checkpoint_from_python_loads_with_weights_only(tmp_path):
    model = tiny_wgan_gp(max_generator_steps=1, ema_decay=0.9)
    trainer = quiet_trainer()
    trainer.fit(model, CountingToyData())
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    state = torch.load(tmp_path / "m.ckpt", weights_only=True)
    assert "generator_ema.module.net.0.weight" in state["state_dict"]
    assert "generator" not in state["hyper_parameters"]


def test_sample_is_seeded_and_uses_ema():
    model = tiny_wgan_gp(ema_decay=0.5, max_generator_steps=3)
    quiet_trainer().fit(model, CountingToyData())
    a, b = model.sample(10, seed=1), model.sample(10, seed=1)
    torch.testing.assert_close(a, b)
    assert a.shape == (10, 2)
    assert not torch.equal(model.sample(10, seed=2), a)
    # EMA weights differ from the live generator after training, so the samples do too
    assert not torch.allclose(model.sample(10, seed=1, ema=False), a)
    z = torch.randn(1000, 2, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(model.sample(1000, seed=1, batch_size=64), model.generator_ema(z))


def test_ema_follows_the_exponential_average():
    model = tiny_wgan_gp(ema_decay=0.75, ema_warmup=False, max_generator_steps=1)
    quiet_trainer().fit(model, CountingToyData())
    live = list(model.generator.parameters())
    ema = list(model.generator_ema.module.parameters())
    # after the first generator step the average starts from the live weights ...
    for p, e in zip(live, ema, strict=True):
        torch.testing.assert_close(e, p)
    first = [p.detach().clone() for p in live]
    model.max_generator_steps = 2
    quiet_trainer().fit(model, CountingToyData())
    # ... then ema = decay * ema + (1 - decay) * weights after every generator step
    assert not all(torch.equal(a, b) for a, b in zip(first, live, strict=True))
    for p0, p1, e in zip(first, live, ema, strict=True):
        torch.testing.assert_close(e, 0.75 * p0 + 0.25 * p1)


def test_ema_warmup_lowers_the_decay_of_early_updates():
    assert [ema_decay_at(0.999, t) for t in (0, 1, 90)] == [0.1, 2 / 11, 0.91]
    assert ema_decay_at(0.999, 10**6) == 0.999 and ema_decay_at(0.999, 1, warmup=False) == 0.999
    model = tiny_wgan_gp(ema_decay=0.999, max_generator_steps=1)  # warm-up is the default
    quiet_trainer().fit(model, CountingToyData())
    first = [p.detach().clone() for p in model.generator.parameters()]
    model.max_generator_steps = 2
    quiet_trainer().fit(model, CountingToyData())
    live, ema = model.generator.parameters(), model.generator_ema.module.parameters()
    for p0, p1, e in zip(first, live, ema, strict=True):  # update 1: decay 2/11, not 0.999
        torch.testing.assert_close(e, 2 / 11 * p0 + 9 / 11 * p1)


def test_ema_copies_the_generator_before_its_start_step():
    model = tiny_wgan_gp(ema_decay=0.5, ema_warmup=False, ema_start=3, max_generator_steps=3)
    quiet_trainer().fit(model, CountingToyData())
    live, ema = model.generator.parameters(), model.generator_ema.module.parameters()
    for p, e in zip(live, ema, strict=True):
        torch.testing.assert_close(e, p)
    model.max_generator_steps = 4
    quiet_trainer().fit(model, CountingToyData())
    assert not torch.allclose(model.sample(10, seed=0), model.sample(10, seed=0, ema=False))


def test_warmed_up_ema_is_not_worse_than_the_raw_generator_early_on():
    """Issue 26: 200 generator steps of the grid25 WGAN-GP config (width 64) with decay 0.999.
    Without warm-up the average still holds the untrained weights and is far worse than the
    generator it averages (exact W1: 3.65 against 1.12); with it, it is as good within 3 %.
    (Strictly not worse does not hold: at step 200 the generator still improves fast and the
    average of its last ~20 steps lags, by 1.7 to 2.1 % on three sample seeds.)
    """
    w1 = {}
    for warmup in (False, True):
        model, data = build_from_config(
            TOY_CONFIG,
            "--model.init_args.max_generator_steps=200",
            "--model.init_args.ema_decay=0.999",
            f"--model.init_args.ema_warmup={str(warmup).lower()}",
            "--trainer.callbacks=[]",
            "--model.init_args.generator.init_args.hidden_features=64",
            "--model.init_args.critic.init_args.hidden_features=64",
        )
        quiet_trainer().fit(model, data)
        real = data.sample(2000, seed=1)
        for ema in (False, True):
            w1[warmup, ema] = exact_w1(model.sample(2000, seed=0, ema=ema), real)
    assert w1[False, False] == pytest.approx(w1[True, False])  # the same training run
    assert w1[False, True] > 1.5 * w1[False, False], w1  # today's average: far worse
    assert w1[True, True] <= 1.03 * w1[True, False], w1  # warmed up: as good within 3 %


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_critic": 0}, "n_critic must be >= 1, got 0"),
        ({"gp_weight": -1.0}, "gp_weight must be >= 0, got -1.0"),
        ({"ema_decay": 1.5}, "ema_decay must be in"),
        ({"ema_start": -1}, "ema_start must be >= 0 generator steps, got -1"),
        ({"max_generator_steps": 0}, "max_generator_steps must be >= 1"),
        ({"lr_decay": "cosine"}, "lr_decay must be one of .*'cosine'"),
        ({"lr_decay": "linear"}, "decays to zero at max_generator_steps, which is not set"),
    ],
)
def test_bad_config_values_raise_one_clear_line(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        tiny_wgan_gp(**kwargs)


def test_seeded_runs_are_reproducible():
    def run():
        L.seed_everything(3, verbose=False)
        model = tiny_wgan_gp(max_generator_steps=5)
        quiet_trainer().fit(model, CountingToyData())
        return model.sample(5, seed=0)

    torch.testing.assert_close(run(), run())
