"""mmf_imgtune as a plugin of facebookresearch/mmf: ``mmf_run ... env.user_dir=mmf_imgtune_mmf``.

Importing this package with MMF installed registers, in ``mmf.common.registry``: the model
``imgtune`` (``model.py``), the builders ``shapes``, ``image_text_jsonl``,
``imgtune_hateful_memes``, ``imgtune_vqa2``, ``imgtune_coco`` and the processors
``llm_prompt``, ``text_tokenizer``, ``imgtune_torchvision_transforms`` (``data.py``), every
metric of ours as ``imgtune_<name>`` (``metrics.py``) and the test reporter ``imgtune_file``.
It also installs the import shims MMF needs on current torch (``mmf_imgtune_shims``) and shares
one LMDB environment per file inside MMF's feature reader (``lmdb_compat.py``).

Without MMF the import raises, naming the install script; the MMF-free translation layer
(``translate``, ``metric_adapter``, ``config_paths``, ``names``) imports either way.
"""

from __future__ import annotations

import mmf_imgtune_shims

mmf_imgtune_shims.install()

try:
    import mmf  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised where MMF is absent
    raise ImportError(
        "mmf_imgtune_mmf is a plugin of facebookresearch/mmf, which is not importable here "
        f"({error}). Install it with scripts/install_mmf.sh (see docs/mmf.md)."
    ) from error

import mmf_imgtune  # noqa: E402,F401  (registers our classes in our registry)
from mmf_imgtune_mmf import data, metrics, model  # noqa: E402,F401
from mmf_imgtune_mmf.lmdb_compat import patch_mmf_feature_reader  # noqa: E402

patch_mmf_feature_reader()
data.register()
metrics.register()
