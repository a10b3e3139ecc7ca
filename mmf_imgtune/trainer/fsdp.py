"""FSDP (``training.strategy=fsdp``): Lightning's ``FSDPStrategy`` with what our runs need.

- **Wrap by block**: one FSDP unit per LLM decoder layer (and per gated cross-attention block),
  so only one layer's full parameters exist at a time. The classes come from the model: its
  ``fsdp_wrap_classes()`` hook when it has one (ImgTune: the types in its decoder-layer list,
  the same explicit path cross-attention uses, plus ``GatedCrossAttentionBlock``), else the
  ``_no_split_modules`` every Hugging Face model declares (BERT's ``BertLayer``, ...).
- **Clipping**: Lightning refuses norm clipping under FSDP because the norm must be taken over
  every rank's shard; ``clip_grad_norm`` calls the root FSDP module's ``clip_grad_norm_``, which
  does exactly that.
- **Sharded checkpoints**: a folder per checkpoint
  (torch.distributed.checkpoint shards + Lightning's ``meta.pt``), written under a temporary
  name and renamed once complete, like our single files. ``checkpoint_io.consolidate`` (and
  ``mmf_imgtune_consolidate``) turns one into a single file for ``mmf_predict``.

CPU runs use gloo (Lightning allows FSDP only on CUDA; the subclass lifts that check, torch's
FSDP itself supports CPU with gloo and our tests run it there).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.strategies import FSDPStrategy
from torch import nn
from torch.distributed.fsdp import FullyShardedDataParallel
from torch.distributed.fsdp.wrap import ModuleWrapPolicy

from mmf_imgtune.io.atomic import temp_path
from mmf_imgtune.trainer.checkpoint_io import replace_folder


def wrap_classes(model: nn.Module) -> set[type[nn.Module]]:
    """The module classes that become their own FSDP unit.

    Raises:
        ValueError: the model names no block to wrap (FSDP would shard it as one unit, which
            saves no memory at all).
    """
    hook = getattr(model, "fsdp_wrap_classes", None)
    classes: set[type[nn.Module]] = set(hook()) if hook is not None else set()
    if not classes:
        names: set[str] = set()
        for module in model.modules():
            names.update(getattr(module, "_no_split_modules", None) or [])
        classes = {type(m) for m in model.modules() if type(m).__name__ in names}
    if not classes:
        raise ValueError(
            f"training.strategy=fsdp: {type(model).__name__} names no block to shard by; give "
            "it a fsdp_wrap_classes() method returning its layer classes, or use "
            "training.strategy=ddp"
        )
    return classes


class MMFFSDPStrategy(FSDPStrategy):
    """Args:
    model: the BaseModel (to find its block classes).
    process_group_backend: ``gloo`` on CPU, ``nccl`` on GPU (None: Lightning's choice).
    """

    def __init__(self, model: nn.Module, **kwargs: Any):
        classes = wrap_classes(model)
        # Sharded state: no rank ever gathers the whole model to save it.
        super().__init__(
            auto_wrap_policy=ModuleWrapPolicy(classes), state_dict_type="sharded", **kwargs
        )
        self.wrapped_classes = sorted(c.__name__ for c in classes)

    def _setup_model(self, model: nn.Module) -> nn.Module:
        root = getattr(self, "_root_unit", None)
        if root is not None and root.module is model:
            # validate/test after fit: the layers are FSDP units already; reuse the root unit
            # that owns the remaining (flattened) parameters.
            return root

        if self.root_device.type != "cpu":
            root = super()._setup_model(model)
        else:
            # Lightning passes no device on CPU, and FSDP then looks for an accelerator.
            root = FullyShardedDataParallel(
                module=model,
                cpu_offload=self.cpu_offload,
                mixed_precision=self.mixed_precision_config,
                sharding_strategy=self.sharding_strategy,
                device_id=torch.device("cpu"),
                **self.kwargs,
            )
        self._root_unit = root
        if self.global_rank == 0:
            units = sum(isinstance(m, FullyShardedDataParallel) for m in root.modules())
            print(f"[mmf_imgtune] FSDP: {units} units ({', '.join(self.wrapped_classes)} + root)")
        return root

    def clip_grad_norm(self, max_norm: float) -> torch.Tensor:
        """Clip by the L2 norm of the whole (sharded) gradient, as one process would."""
        return self.model.clip_grad_norm_(max_norm)

    def save_checkpoint(
        self, checkpoint: dict[str, Any], filepath: Any, storage_options: Any = None
    ) -> None:
        final = Path(self.broadcast(str(filepath)))
        # Every rank writes its shard into the same temporary folder: a crash leaves the
        # previous folder intact under the final name.
        temporary = temp_path(final, "shards")  # one name for all ranks, not a pid
        if self.global_rank == 0 and temporary.exists():
            shutil.rmtree(temporary)
        self.barrier("mmf_fsdp_checkpoint_start")
        super().save_checkpoint(checkpoint, temporary, storage_options)
        self.barrier("mmf_fsdp_checkpoint_written")
        if self.global_rank == 0:
            replace_folder(temporary, final)
        self.barrier("mmf_fsdp_checkpoint_done")
