"""``mmf_imgtune.pipeline``: a trained ImgTune as one call on a raw image and a question.

    pipe = mmf_imgtune.pipeline("export_dir", device="cpu")   # or a run folder / checkpoint
    pipe("cat.png", "what colour is the circle?")               # -> "red"
    pipe(["a.png", "b.png"], ["question a", "question b"])     # -> ["...", "..."], one batch
    pipe("a.png", "what colour?", explain=True)                 # -> {"answer", "picture", ...}

The prompt goes through the training prompt processor (``llm_prompt``, or ``chat_prompt``
for dialogue exports, which also take whole conversations), the regions through the training
store's recipe (``raw_image.RegionMaker``); the model is ``ImgTune.from_pretrained`` of an
export folder (no run folder, no Lightning), or ``load_run`` of a run folder or checkpoint.
Classifier exports answer ``{"label", "score", "scores"}`` (the top five).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from mmf_imgtune.common.sample import Sample, SampleList
from mmf_imgtune.data.conversation import with_image
from mmf_imgtune.inference import attention
from mmf_imgtune.inference.raw_image import InputError, RegionMaker, to_tensor
from mmf_imgtune.models.imgtune import hf_format
from mmf_imgtune.models.imgtune.model import ImgTune
from mmf_imgtune.registry import registry

PROCESSOR_FILE = "processor_config.json"
REGIONS_FILE = "regions.json"
CLASSIFIER_TASKS = ("vqa_classification", "binary", "classification")
TOP_SCORES = 5


class Pipeline:
    """Args:
    model: an ImgTune in eval mode.
    processor_config: ``processor_config.json`` (``text_processor``, ``labels``, ...).
    regions: the model's ``RegionMaker``.
    device: where tensors go.
    """

    def __init__(self, model: ImgTune, processor_config: dict, regions: RegionMaker, device: Any):
        self.model, self.regions, self.device = model, regions, torch.device(device)
        spec = processor_config.get("text_processor")
        if spec is None:
            raise InputError("text_processor", "the export has no llm_prompt/chat_prompt processor")
        self.kind = str(spec["type"])
        self.processor = registry.build("processor", spec)
        self.labels = processor_config.get("labels")
        self.task = str(model.config.task)
        self.name = str(processor_config.get("name", "imgtune"))
        # The server prepares requests on several threads; one tokenises at a time.
        self._text_lock = threading.Lock()

    # --- building ------------------------------------------------------------------------
    @property
    def is_dialogue(self) -> bool:
        return self.kind == "chat_prompt"

    @property
    def tokenizer(self) -> Any:
        return self.processor.tokenizer

    @property
    def max_context(self) -> int | None:
        limit = getattr(self.model._hf_model().config, "max_position_embeddings", None)
        return None if limit is None else int(limit)

    def visual_length(self) -> int:
        """Visual tokens the LLM input holds (prefix fusion), for the context check."""
        if not self.model.uses_prefix:
            return 0
        resampler = self.model.config.region_encoder.resampler
        return int(resampler.num_latents) if resampler.enabled else self.regions.max_features

    def prompt_ids(self, messages: list[dict], field: str = "messages") -> tuple[list, int | None]:
        """Token ids of the prompt (and the ``<image>`` position of a dialogue)."""
        with self._text_lock:
            return self._prompt_ids(messages, field)

    def _prompt_ids(self, messages: list[dict], field: str) -> tuple[list, int | None]:
        if self.is_dialogue:
            try:
                encoded = self.processor.renderer.encode(with_image(messages), True)
            except ValueError as error:  # ConversationError: roles, <image> markers
                raise InputError(field, str(error)) from None
            return list(encoded.ids), encoded.image_position
        users = [m for m in messages if m["role"] == "user"]
        if len(messages) != 1 or len(users) != 1:
            raise InputError(
                field,
                f"this model answers one question ({self.kind} prompts); send one user message "
                f"(got {[m['role'] for m in messages]}); multi-turn chat needs a dialogue export",
            )
        item = self.processor({"text": users[0]["content"]})
        count = int(item["prompt_mask"].sum())
        # The processor keeps a too-long prompt's end; a served question must not lose words.
        full = len(self.tokenizer(item["text"], add_special_tokens=False)["input_ids"])
        bos = int(bool(self.processor.config.add_bos) and self.tokenizer.bos_token_id is not None)
        if full + bos > self.processor.max_seq_length:
            raise InputError(
                field,
                f"the prompt has {full} tokens, more than the model's max_seq_length="
                f"{self.processor.max_seq_length} (the length it was trained with)",
            )
        return item["prompt_ids"][-count:].tolist(), None

    def check_context(self, prompt_length: int, max_new_tokens: int, field: str) -> None:
        needed = prompt_length + self.visual_length() + max_new_tokens
        if self.max_context is not None and needed > self.max_context:
            raise InputError(
                field,
                f"{prompt_length} prompt tokens + {self.visual_length()} visual tokens + "
                f"{max_new_tokens} new tokens = {needed}, more than the model's context of "
                f"{self.max_context} positions",
            )

    def prepare(
        self, image: Any, messages: list[dict], boxes: Any = None, objects: Any = None,
        field: str = "image",
    ) -> Sample:  # fmt: skip
        """One sample: prompt ids (unpadded), region features of the image."""
        ids, position = self.prompt_ids(messages)
        pixels = to_tensor(image, field)
        features, info = self.regions(pixels, boxes, objects, field="boxes")
        sample = Sample({"image_feature_0": features, "image_info_0": info})
        sample.ids, sample.position, sample.pixels = ids, position, pixels
        return sample

    def batch(self, samples: list[Sample]) -> SampleList:
        """Left-pad the prompts of ``samples`` into one batch (as llm_prompt pads them)."""
        pad = self.tokenizer.pad_token_id
        width = max(len(s.ids) for s in samples)
        if not self.is_dialogue:
            width = max(width, self.processor.max_seq_length)  # the padding evaluation saw
        rows = []
        for sample in samples:
            gap = width - len(sample.ids)
            row = Sample(
                {
                    "image_feature_0": sample.image_feature_0,
                    "image_info_0": sample.image_info_0,
                    "prompt_ids": torch.tensor([pad] * gap + sample.ids, dtype=torch.long),
                    "prompt_mask": torch.tensor([0] * gap + [1] * len(sample.ids)),
                }
            )
            row.input_ids, row.input_mask = row.prompt_ids, row.prompt_mask  # classifier heads
            if sample.position is not None:
                row.image_position = torch.tensor(gap + sample.position, dtype=torch.long)
            rows.append(row)
        batch = SampleList(rows)
        batch.dataset_name, batch.dataset_type = "inference", "test"
        return batch.to(self.device)

    # --- running -------------------------------------------------------------------------
    @property
    def stop_id(self) -> int:
        return self.processor.renderer.stop_id if self.is_dialogue else self.tokenizer.eos_token_id

    @torch.inference_mode()
    def generate(
        self, samples: list[Sample], max_new_tokens: int | None = None, num_beams: int | None = None,
        choose: Any = None, on_step: Any = None,
    ) -> list[str]:  # fmt: skip
        """Answers of prepared samples, decoded together."""
        if self.task != "generation":
            raise InputError("model", f"task={self.task} classifies; it generates no text")
        return self.model.generate(
            self.batch(samples), max_new_tokens, num_beams, self.stop_id, choose, on_step
        )

    @torch.inference_mode()
    def classify(self, samples: list[Sample]) -> list[dict]:
        scores = self.model(self.batch(samples))["scores"].float()
        probs = scores.sigmoid() if self.task == "vqa_classification" else scores.softmax(-1)
        out = []
        for row in probs:
            top = row.topk(min(TOP_SCORES, row.numel()))
            names = [self._label(int(i)) for i in top.indices]
            values = [round(float(v), 6) for v in top.values]
            out.append({"label": names[0], "score": values[0], "scores": dict(zip(names, values))})
        return out

    def _label(self, index: int) -> str:
        return self.labels[index] if self.labels and index < len(self.labels) else str(index)

    def __call__(
        self, images: Any, prompts: Any, *, max_new_tokens: int | None = None,
        num_beams: int | None = None, boxes: Any = None, objects: Any = None,
        explain: bool = False,
    ) -> Any:  # fmt: skip
        """Answer ``prompts`` about ``images`` (one each, or lists of equal length).

        A prompt is a question (str) or, for dialogue exports, a list of chat messages.
        ``boxes``/``objects``: per image, given boxes [[x1, y1, x2, y2], ...] and class ids.
        Returns a str (a dict for classifiers; with ``explain``, a dict with the answer and
        the region-attention ``picture``), or a list of them for lists.
        """
        single = not isinstance(images, list)
        images, prompts = ([images], [prompts]) if single else (images, prompts)
        boxes = [boxes] if single else (boxes or [None] * len(images))
        objects = [objects] if single else (objects or [None] * len(images))
        if not len(images) == len(prompts) == len(boxes) == len(objects):
            raise InputError("prompts", "give one prompt (and boxes, objects) per image")
        samples = []
        for index, (image, prompt) in enumerate(zip(images, prompts)):
            messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
            sample = self.prepare(image, messages, boxes[index], objects[index])
            limit = int(max_new_tokens or self.model.config.generation.max_new_tokens)
            self.check_context(len(sample.ids), limit, "max_new_tokens")
            samples.append(sample)
        if explain:
            results = [self.explain(sample, prompt) for sample, prompt in zip(samples, prompts)]
        elif self.task in CLASSIFIER_TASKS:
            results = self.classify(samples)
        else:
            results = self.generate(samples, max_new_tokens, num_beams)
        return results[0] if single else results

    def attention_png(self, image: Any, messages: list[dict], boxes=None, objects=None) -> bytes:
        """PNG of the region attention of ``messages``' last (assistant) answer."""
        return attention.attention_png(self, image, messages, boxes, objects)

    def explain(self, sample: Sample, question: Any) -> dict:
        """The answer and its region-attention picture (``inference/explain.py``)."""
        from mmf_imgtune.inference.explain import explain_example

        if self.is_dialogue or self.task != "generation":
            raise InputError("explain", "pictures are drawn for single-question generation")
        with tempfile.TemporaryDirectory() as folder:
            image_path, out = os.path.join(folder, "image.png"), os.path.join(folder, "why.png")
            Image.fromarray(sample.pixels.permute(1, 2, 0).numpy()).save(image_path)
            result = explain_example(
                self.model, self.batch([sample]), 0, image_path, out,
                str(self.processor.config.answer_prefix), question=str(question),
            )  # fmt: skip
            with Image.open(out) as picture:
                result["picture"] = picture.copy()
        result.pop("path", None)
        return result


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise hf_format.PretrainedFolderError(f"{path} does not exist: the export is incomplete")
    return json.loads(path.read_text(encoding="utf-8"))


def from_export(folder: str | os.PathLike, device: Any = "cpu", grid: int | None = None):
    folder = Path(folder).resolve()
    model = ImgTune.from_pretrained(str(folder), device)
    processors = _read_json(folder / PROCESSOR_FILE)
    spec = processors.get("text_processor")
    if spec is not None:
        spec["params"]["tokenizer"] = hf_format.with_folder(spec["params"]["tokenizer"], folder)
    regions = _read_json(folder / REGIONS_FILE)
    maker = RegionMaker(
        regions, regions["max_features"], regions["model_feature_dim"], folder, device, grid
    )
    return Pipeline(model, {**processors, "name": folder.name}, maker, device)


def from_run(path: str | os.PathLike, device: Any = "cpu", grid: int | None = None) -> Pipeline:
    """The pipeline of a run folder or checkpoint (through ``load_run``: needs the runtime)."""
    # lazy: the runtime (Lightning) loads for run folders only, never for export folders
    from mmf_imgtune.inference import export

    run = export.load_run(path, device)
    dataset_config = run.config.dataset_config[run.dataset]
    model_config = run.config.model_config[run.config.model]
    store, key, record = export.training_store(run.dataset, dataset_config, run.save_dir)
    if record is None:
        raise InputError("regions", f"{store} ({key}) has no extraction record; re-extract it")
    record = {**record, "trained_on": {"store": str(store), "config_key": key}}
    max_features = int(dataset_config.get("max_features") or 0)
    feature_dim = int(model_config.region_encoder.feature_dim)
    maker = RegionMaker(record, max_features, feature_dim, None, device, grid)
    processors = {
        "text_processor": export.prompt_processor(run, portable=False),
        "labels": export.label_names(run, str(model_config.task)),
        "name": Path(run.save_dir).name,
    }
    return Pipeline(run.model, processors, maker, device)


def pipeline(path: str | os.PathLike, device: Any = "cpu", grid: int | None = None) -> Pipeline:
    """A ``Pipeline`` of an export folder (``config.json``) or of a run folder / checkpoint."""
    path = Path(path)
    if (path / hf_format.CONFIG_FILE).is_file():
        return from_export(path, device, grid)
    return from_run(path, device, grid)
