"""A user plugin for mmf_imgtune: a new data set (``tsv_memes``) and a processor (``clean_text``).

Load it with ``env.user_dir=projects/plugin_example`` (or ``MMF_USER_DIR``); mmf_imgtune
imports this package before resolving configs, and again in DataLoader workers and DDP
processes, so the registrations below exist everywhere. See docs/datasets.md.
"""

from . import clean_text, tsv_memes  # noqa: F401  (each import registers its classes)
