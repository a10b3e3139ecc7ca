"""The ``required`` config resolver: a key the user must give.

    data_dir: ${required:dataset_config.image_text_jsonl.data_dir}

It fires only while the key still holds it (an override replaces the whole value) and fails
with one line naming the key and what to type. Registered when ``mmf_imgtune.config`` is
imported. Resolvers that read data folders live with the data (``data/jsonl_resolvers.py``).
"""

from __future__ import annotations

from omegaconf import OmegaConf

from mmf_imgtune.config.checks import ConfigError


def required(key: str) -> str:
    raise ConfigError(
        f"{key} is required: give it on the command line ({key}=PATH for mmf_run, "
        f"--set {key}=PATH for mmf_imgtune_bench)"
    )


# omegaconf 2.4 renamed register_new_resolver to register_resolver (same behaviour).
_register = getattr(OmegaConf, "register_resolver", None) or OmegaConf.register_new_resolver
if not OmegaConf.has_resolver("required"):
    _register("required", required)
