"""Dataset builders; each import registers one (explicit list, no globbing)."""

from mmf_imgtune.data.builders import (  # noqa: F401
    coco,
    hateful_memes,
    image_text_jsonl,
    llava,
    shapes,  # noqa: F401
    toy,  # noqa: F401
    vqa2,
)
