"""``clean_text``: a processor that strips URLs and @mentions and lower-cases meme text."""

import re

from mmf_imgtune import BaseProcessor, registry

_NOISE = re.compile(r"https?://\S+|@\w+")


@registry.register_processor("clean_text")
class CleanText(BaseProcessor):
    """``{"text": str}`` -> the same dict with cleaned text. Params: ``lowercase`` (bool)."""

    def __call__(self, item, *args, **kwargs):
        text = " ".join(_NOISE.sub(" ", item["text"]).split())
        return {**item, "text": text.lower() if self.config.lowercase else text}
