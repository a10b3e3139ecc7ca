from mmf_imgtune.config import resolvers  # noqa: F401  (registers ${required:...} etc.)
from mmf_imgtune.config.checks import ConfigError
from mmf_imgtune.config.loader import build_config, load_yaml, save_config
from mmf_imgtune.config.run_type import RunPhases

__all__ = ["ConfigError", "RunPhases", "build_config", "load_yaml", "save_config"]
