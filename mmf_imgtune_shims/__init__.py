"""Import shims that let facebookresearch/mmf (1.0.0rc12, main) import on torch 2.14 / torchvision 0.29.

MMF imports three things that current PyTorch no longer ships:

- ``torchtext.vocab`` (``mmf/utils/vocab.py`` imports it at module level; torchtext is retired and
  has no build for torch 2.14). The stub offers an empty ``pretrained_aliases``: MMF only reads it
  when a config asks for GloVe/FastText word vectors, which then fails with a clear message.
- ``torchaudio.transforms`` (only looked up when an image transform name is not a torchvision
  one); the stub module has no transforms, so MMF reports the name as unknown.
- ``torchvision.io.read_video`` (removed in torchvision 0.29; imported by MMF's Charades builder at
  import time); the stub raises when called.

This is our code, not MMF's. ``install()`` adds a stub only where the real module is missing, so
a real torchtext/torchaudio always wins. ``scripts/install_mmf.sh`` writes a ``.pth`` file that
calls ``install()`` at interpreter start, so MMF's own ``mmf_run`` sees the shims too.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types

__all__ = ["install", "installed"]

_INSTALLED: list[str] = []


def _missing(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):
        return True


def _stub(name: str, doc: str) -> types.ModuleType:
    module = types.ModuleType(name, doc)
    # A spec (without a loader) so importlib.util.find_spec() callers, e.g. transformers'
    # availability checks, do not fail on the stub; they find no distribution metadata for it.
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    module.__dict__["__mmf_imgtune_shim__"] = True
    sys.modules[name] = module
    _INSTALLED.append(name)
    return module


class _NoPretrainedVectors(dict):
    """``torchtext.vocab.pretrained_aliases`` stand-in: empty, and says why on lookup."""

    def __getitem__(self, key):
        raise KeyError(
            f"pretrained word vectors {key!r} need torchtext, which has no build for this torch; "
            "use a BERT/HF tokenizer-based text processor instead (mmf_imgtune_shims stub)"
        )


def _install_torchtext() -> None:
    if not _missing("torchtext"):
        return
    torchtext = _stub("torchtext", "mmf_imgtune_shims stub of torchtext (retired upstream)")
    vocab = _stub("torchtext.vocab", "mmf_imgtune_shims stub of torchtext.vocab")
    vocab.pretrained_aliases = _NoPretrainedVectors()

    class Vectors:  # noqa: D401 - a stand-in class
        """Raises: word vectors need the real torchtext."""

        def __init__(self, *args, **kwargs):
            raise ImportError(
                "torchtext.vocab.Vectors needs the real torchtext (mmf_imgtune_shims stub)"
            )

    vocab.Vectors = Vectors
    vocab.GloVe = Vectors
    vocab.FastText = Vectors
    torchtext.vocab = vocab


def _install_torchaudio() -> None:
    if not _missing("torchaudio"):
        return
    torchaudio = _stub("torchaudio", "mmf_imgtune_shims stub of torchaudio (no transforms)")
    transforms = _stub("torchaudio.transforms", "mmf_imgtune_shims stub: no audio transforms")
    torchaudio.transforms = transforms


def _read_video_unavailable(*args, **kwargs):
    raise RuntimeError(
        "torchvision.io.read_video was removed in torchvision 0.29; MMF's video datasets "
        "(Charades) need an older torchvision or torchcodec (mmf_imgtune_shims stub)"
    )


def _install_read_video() -> None:
    try:
        tv_io = importlib.import_module("torchvision.io")
    except ImportError:
        return
    if not hasattr(tv_io, "read_video"):
        tv_io.read_video = _read_video_unavailable
        _INSTALLED.append("torchvision.io.read_video")


class _PatchTorchvisionIo(importlib.abc.MetaPathFinder):
    """Adds ``read_video`` right after ``torchvision.io`` is first imported, so the start-up
    hook (the ``.pth`` file) does not import torchvision in every Python process."""

    def find_spec(self, name, path=None, target=None):
        if name != "torchvision.io":
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            if not hasattr(module, "read_video"):
                module.read_video = _read_video_unavailable
                _INSTALLED.append("torchvision.io.read_video")

        loader.exec_module = exec_and_patch
        return spec


def install(lazy: bool = False) -> list[str]:
    """Add the missing stubs (idempotent). Returns the names stubbed so far.

    Args:
        lazy: patch ``torchvision.io`` when it is first imported instead of importing it now
            (what the start-up ``.pth`` file asks for).
    """
    _install_torchtext()
    _install_torchaudio()
    if lazy and "torchvision.io" not in sys.modules:
        if not any(isinstance(f, _PatchTorchvisionIo) for f in sys.meta_path):
            sys.meta_path.insert(0, _PatchTorchvisionIo())
    else:
        _install_read_video()
    return list(_INSTALLED)


def installed() -> list[str]:
    """Names this process stubbed (empty when every real module was present)."""
    return list(_INSTALLED)
