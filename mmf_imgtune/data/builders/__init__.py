"""Dataset builders; each import registers one (explicit list, no globbing)."""

from mmf_imgtune.data.builders import toy  # noqa: F401
