"""``mmf_imgtune_generate`` end to end: train a tiny ImgTune on shapes VQA, then answer."""

import pytest
import torch
from PIL import Image

from mmf_imgtune.cli.generate import main

pytestmark = pytest.mark.slow

TINY_CONFIG = """
model_config:
  imgtune:
    task: generation
    fusion: both
    tokenizer: ${dataset_config.shapes.processors.text_processor.params.tokenizer}
    lm:
      config: {model_type: llama, vocab_size: 96, hidden_size: 32, intermediate_size: 64,
               num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
               max_position_embeddings: 128}
    region_encoder: {feature_dim: 1280, projector_hidden_dim: 64, num_object_classes: 19}
    generation: {max_new_tokens: 3}
dataset_config:
  shapes:
    sizes: {train: 24, val: 8, test: 8}
    processors:
      text_processor:
        type: llm_prompt
        params: {max_seq_length: 24, prompt_template: "question: {text} answer:"}
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from mmf_imgtune.cli.run import run

    root = tmp_path_factory.mktemp("generate")
    (root / "tiny.yaml").write_text(TINY_CONFIG)
    torch.manual_seed(0)
    result = run(
        [
            f"config={root / 'tiny.yaml'}",
            "model=imgtune",
            "dataset=shapes",
            "run_type=train",
            f"env.data_dir={root / 'data'}",
            f"env.save_dir={root / 'save'}",
            "training.max_updates=3",
            "training.batch_size=8",
            "training.checkpoint_interval=3",
            "training.progress_bar=false",
        ]
    )
    assert result["num_updates"] == 3
    image = root / "data" / "shapes" / "images" / "train" / "train_000000.png"
    return root / "save", image


def test_generate_prints_answer_and_explanation(trained, tmp_path, capsys):
    save, image = trained
    code = main(
        [
            "--checkpoint",
            str(save / "current.ckpt"),
            "--image",
            str(image),
            "--prompt",
            "what colour is the circle?",
            "--boxes",
            "[[10, 10, 60, 60], [70, 70, 120, 120]]",
            "--explain",
            str(tmp_path / "why.png"),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert len(out.splitlines()) == 1  # exactly one line: the answer
    assert "why.png" in err and "region weights" in err
    with Image.open(tmp_path / "why.png") as png:
        assert png.format == "PNG"


def test_generate_follows_the_training_store_from_model_folder_checkpoint(trained, capsys):
    save, image = trained
    checkpoint = next((save / "models").glob("model_*.ckpt"))  # config.yaml is one folder up
    common = ["--checkpoint", str(checkpoint), "--image", str(image), "--prompt",
              "how many objects are there?", "--max-new-tokens", "2"]  # fmt: skip
    # shapes' features were pooled over the true boxes: no box source to copy without them.
    assert main(common) == 2
    assert "pooled over given boxes" in capsys.readouterr().err
    assert main([*common, "--grid", "2"]) == 0
    out, err = capsys.readouterr()
    assert out.endswith("\n") and len(out.splitlines()) == 1
    assert (
        "regions: whole image + 2x2 grid, pooled from imagenet-mobilenet_v2 layer 'pooled'" in err
    )
    assert "warning: this model was trained with object class ids" in err
    assert "num_object_classes=19" in err
    boxes = ["--boxes", "[[10, 10, 60, 60]]"]
    assert main([*common, *boxes, "--objects", "[3]"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert main([*common, *boxes, "--objects", "[3, 4]"]) == 2
    assert "one integer class id per --boxes box (1)" in capsys.readouterr().err


def test_errors_exit_2_with_message(trained, tmp_path, capsys):
    save, image = trained
    lone = tmp_path / "lone.ckpt"
    lone.write_bytes((save / "current.ckpt").read_bytes())
    assert main(["--checkpoint", str(lone), "--image", str(image), "--prompt", "x"]) == 2
    assert "--config" in capsys.readouterr().err
    assert (
        main(
            [
                "--checkpoint",
                str(save / "current.ckpt"),
                "--image",
                str(image),
                "--prompt",
                "x",
                "--boxes",
                "[[1, 2]]x",
            ]
        )
        == 2
    )
    assert "--boxes" in capsys.readouterr().err


def test_explain_command_draws_one_example_of_the_run(trained, tmp_path, capsys):
    """``make demo``'s last step: ``python -m mmf_imgtune.cli.explain RUN_DIR``."""
    from mmf_imgtune.cli.explain import main as explain_main

    save, _ = trained
    out = tmp_path / "why.png"
    explain_main([str(save), "--split", "train", "--index", "1", "--out", str(out)])
    printed = capsys.readouterr().out
    assert f"explanation: {out}" in printed
    weights = [float(w) for w in printed.split("region weights ")[1].split(")")[0].split(", ")]
    assert abs(sum(weights) - 1.0) < 0.02  # rounded to 2 decimals, over the real boxes
    with Image.open(out) as png:
        assert png.format == "PNG"
