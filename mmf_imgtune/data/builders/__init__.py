"""Dataset builders; each import registers one (explicit list, no globbing)."""

from mmf_imgtune.data.builders import toy  # noqa: F401
from mmf_imgtune.data.builders import coco, hateful_memes, image_text_jsonl, vqa2  # noqa: F401
from mmf_imgtune.data.builders import shapes  # noqa: F401
