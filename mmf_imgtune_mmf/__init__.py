"""mmf_imgtune as a plugin of facebookresearch/mmf: ``mmf_run ... env.user_dir=mmf_imgtune_mmf``.

Importing this package with MMF installed registers, in ``mmf.common.registry``: the model
``imgtune`` (``model.py``), the builders ``shapes``, ``image_text_jsonl``,
``imgtune_hateful_memes``, ``imgtune_vqa2``, ``imgtune_coco`` and the processors
``llm_prompt``, ``text_tokenizer``, ``imgtune_torchvision_transforms`` (``data.py``), every
metric of ours as ``imgtune_<name>`` (``metrics.py``) and the test reporter ``imgtune_file``.
It also installs the import shims MMF needs on current torch (``mmf_imgtune_shims``) and shares
one LMDB environment per file inside MMF's feature reader (``lmdb_compat.py``).

Without MMF nothing is registered (``MMF_IMPORT_ERROR`` says why; ``require_mmf()`` raises it
with the install hint); the MMF-free translation layer (``translate``, ``metric_adapter``,
``config_paths``, ``names``, ``lmdb_compat``) imports either way.
"""

from __future__ import annotations

import importlib.util

import mmf_imgtune_shims


def _find_mmf() -> str | None:
    try:
        found = importlib.util.find_spec("mmf.common.registry") is not None
    except ImportError as error:  # e.g. an unrelated namespace folder called mmf
        return str(error)
    return None if found else "facebookresearch/mmf is not installed"


MMF_IMPORT_ERROR = _find_mmf()


def require_mmf() -> None:
    """Raise, naming the install script, when MMF is not importable."""
    if MMF_IMPORT_ERROR is not None:
        raise ImportError(
            f"mmf_imgtune_mmf needs facebookresearch/mmf ({MMF_IMPORT_ERROR}); install it with "
            "scripts/install_mmf.sh (docs/mmf.md)"
        )


if MMF_IMPORT_ERROR is None:
    mmf_imgtune_shims.install()

    import mmf_imgtune  # noqa: F401  (registers our classes in our registry)
    from mmf_imgtune_mmf import data, metrics, model  # noqa: F401
    from mmf_imgtune_mmf.lmdb_compat import patch_mmf_feature_reader

    patch_mmf_feature_reader()
    data.register()
    metrics.register()
