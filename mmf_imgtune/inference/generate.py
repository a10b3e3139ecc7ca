"""Answer a prompt about one raw image with a trained generating run (``mmf_imgtune_generate``).

The run's resolved ``config.yaml`` says how the model was built and which feature store it
trained on; that store's extraction record says how its features were made, and the image's
regions are extracted the same way (``regions.py``), so a training image gets the features,
and the answer, that evaluation gave it. The prompt goes through the data set's
``llm_prompt`` processor (``inputs.prompt_batch``); decoding is the model's ``generate``
(``models/imgtune/generation.py``, the one decoding loop).
"""

from __future__ import annotations

import torch

from mmf_imgtune.inference.explain import explain_example
from mmf_imgtune.inference.inputs import RegionRequest, prompt_batch
from mmf_imgtune.trainer.load_run import LoadedRun


def answer_prompt(
    run: LoadedRun,
    image_path: str,
    prompt: str,
    request: RegionRequest | None = None,
    max_new_tokens: int | None = None,
    num_beams: int | None = None,
    explain_png: str | None = None,
) -> dict:
    """The answer to ``prompt`` about the image at ``image_path``.

    Args:
        run: an ``open_generating_run``.
        request: where the image's boxes come from (default: the training store's source).
        max_new_tokens, num_beams: override the run's ``generation`` settings.
        explain_png: also save the region-attention figure there.

    Returns:
        ``answer`` (str), and with ``explain_png`` ``explanation`` (``explain_example``'s).
    """
    # A context, not torch.set_grad_enabled(False): a caller's process keeps its autograd.
    with torch.no_grad():
        batch, answer_prefix = prompt_batch(run, image_path, prompt, request or RegionRequest())
        answer = run.model.generate(batch, max_new_tokens=max_new_tokens, num_beams=num_beams)[0]
        result: dict = {"answer": answer}
        if explain_png:
            result["explanation"] = explain_example(
                run.model, batch, 0, image_path, explain_png, answer_prefix, question=prompt
            )
    return result
