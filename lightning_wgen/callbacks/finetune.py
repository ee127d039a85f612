"""Fine-tuning: a fresh fit starts from the weights the module's ``init_from`` names."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import Callback

from lightning_wgen.loading import fine_tune_from


class InitFromWeights(Callback):
    """Before the first step of a fresh ``fit``, loads the weights of the module's ``init_from``
    (a zoo model ``zoo:NAME``, a zoo ``.safetensors`` file or a ``wgen fit`` checkpoint) into
    its configured networks (:func:`lightning_wgen.loading.fine_tune_from`). A run resumed with
    ``ckpt_path`` keeps its own weights. ``wgen fit`` adds it (and loads the weights before the
    run folder is written); with a plain ``Trainer``, pass ``callbacks=[InitFromWeights()]``."""

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if pl_module.init_from_pending():
            fine_tune_from(pl_module)
