"""The region-attention picture of a conversation's last answer, as PNG bytes (the chat page).

Dialogue exports re-read the conversation teacher-forced in a ``ChatSession``
(``inference/chat_explain.py``); single-question exports weigh the given answer with
``inference/explain.py``. Neither decodes again: the picture explains the answer given.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np
import torch

from mmf_imgtune.data.conversation import with_image

# i23a moves chat, chat_explain and explain into inference/; the lead adjusts these imports.
from mmf_imgtune.inference.chat import ChatSession
from mmf_imgtune.inference.chat_explain import draw_last_answer
from mmf_imgtune.inference.explain import plot_explanation, region_weights
from mmf_imgtune.inference.raw_image import InputError


@torch.no_grad()
def attention_png(pipe: Any, image: Any, messages: list[dict], boxes=None, objects=None) -> bytes:
    """PNG of where the last assistant message of ``messages`` looked in ``image``."""
    if len(messages) < 2 or messages[-1]["role"] != "assistant":
        raise InputError("messages", "end the conversation with the assistant answer to explain")
    if pipe.task != "generation":
        raise InputError("model", f"task={pipe.task}: only generated answers are explained")
    sample = pipe.prepare(image, messages[:-1], boxes, objects)
    batch = pipe.batch([sample])
    pixels = sample.pixels.permute(1, 2, 0).numpy()
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "attention.png")
        if pipe.is_dialogue:
            session = ChatSession(pipe.model, pipe.processor.renderer)
            session.set_image(batch)
            session.messages = with_image([dict(m) for m in messages])
            draw_last_answer(session, batch, pixels, out)
        else:
            answer = messages[-1]["content"]
            prefix = str(pipe.processor.config.answer_prefix)
            weights = region_weights(pipe.model, batch, answer, prefix)
            info = batch["image_info_0"]
            count = int(info["num_boxes"][0])
            boxes = info["bbox"][0, :count].float().cpu().numpy()
            question = messages[-2]["content"]
            real = np.asarray(weights[:count].cpu())
            plot_explanation(pixels, boxes, real, question, answer, out)
        with open(out, "rb") as handle:
            return handle.read()
