"""The BUTD captioner: teacher-forced loss, masking of unscored tokens, greedy decoding."""

import torch
from baseline_helpers import DIM, REGIONS

from mmf_imgtune.common.sample import SampleList
from mmf_imgtune.data.processors.text import TextTokenizerProcessor
from mmf_imgtune.models.baselines.butd import BUTD

WORDS = ["a", "red", "blue", "circle", "square", "left", "right"]
TOKENIZER = {"word_level": {"words": WORDS}}
CAPTIONS = ["a red circle left", "a blue square right"]


def _model(**overrides):
    config = {
        "tokenizer": TOKENIZER,
        "image_encoder": {
            "type": "region",
            "feature_dim": DIM,
            "use_boxes": False,
            "resnet": "resnet18",
            "weights": None,
            "grid_size": 1,
        },
        "embed_dim": 16,
        "hidden_size": 32,
        "attention_dim": 16,
        "dropout": 0.0,
        "max_caption_length": 8,
        "losses": [],
        **overrides,
    }
    return BUTD(config).init_from_config()


def _batch(captions=CAPTIONS, seed=0):
    processor = TextTokenizerProcessor({"tokenizer": TOKENIZER, "max_seq_length": 8})
    samples = [processor({"text": text}) for text in captions]
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(len(captions), REGIONS, DIM, generator=generator)
    batch = SampleList([{k: v for k, v in s.items() if k != "text"} for s in samples])
    batch.image_feature_0 = features
    batch.image_info_0 = {"num_boxes": torch.tensor([REGIONS, 2])}
    batch.dataset_name, batch.dataset_type = "synthetic", "train"
    return batch


def test_loss_and_scores_shape():
    model, batch = _model(), _batch()
    output = model(batch)
    loss = output["losses"]["train/synthetic/caption_cross_entropy"]
    loss.backward()
    assert model.step.region_key.weight.grad.abs().sum() > 0
    assert "generated_text" not in output  # only decoded in eval mode
    with torch.no_grad():
        assert model.eval()(batch)["scores"].shape == (2, 7, len(model.tokenizer))


def test_training_loss_reads_only_scored_positions_and_equals_the_full_one():
    """Training skips the steps after the last scored token and projects only scored
    positions onto the vocabulary: the loss must be the one of every position's scores."""
    model, batch = _model(), _batch(["a red circle left right", "a blue square"])
    batch.labels = batch.input_ids.masked_fill(batch.input_mask == 0, -100)
    batch.labels[:, :2] = -100  # a prompt: the first words are not scored
    key = "train/synthetic/caption_cross_entropy"
    trained = model(batch)["losses"][key]
    with torch.no_grad():
        scores = model.eval()(batch)["scores"]  # (B, T-1, V): every position
    targets = batch.labels[:, 1:]
    assert (targets[:, -1] == -100).all(), "the batch must end with unscored steps to skip"
    expected = torch.nn.functional.cross_entropy(scores.flatten(0, 1), targets.flatten())
    torch.testing.assert_close(trained, expected)


def test_padding_tokens_are_never_scored():
    model, batch = _model().eval(), _batch()
    with torch.no_grad():
        loss = model(batch)["losses"]["train/synthetic/caption_cross_entropy"]
        pad = batch.input_mask == 0
        batch.input_ids = batch.input_ids.masked_fill(pad, 5)  # garbage where padded
        # Pads come after [SEP], so the scored positions see the same inputs.
        assert torch.allclose(loss, model(batch)["losses"]["train/synthetic/caption_cross_entropy"])


def test_labels_select_the_scored_positions():
    model, batch = _model().eval(), _batch()
    batch.labels = torch.full_like(batch.input_ids, -100)
    batch.labels[:, 2] = batch.input_ids[:, 2]  # score only the second word
    with torch.no_grad():
        scores = model(batch)["scores"]
        loss = model(batch)["losses"]["train/synthetic/caption_cross_entropy"]
    expected = torch.nn.functional.cross_entropy(scores[:, 1], batch.input_ids[:, 2])
    torch.testing.assert_close(loss, expected)


def test_learns_region_conditioned_captions_and_decodes_them():
    # One thread: tiny sequential LSTM steps only lose time to a shared second core.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        model, batch = _model(), _batch()
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-2)
        for _ in range(60):
            optimizer.zero_grad()
            model(batch)["losses"]["train/synthetic/caption_cross_entropy"].backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    model.eval()
    with torch.no_grad():
        output = model(batch)
    # The two captions differ only through the regions, so decoding must read them.
    assert output["generated_text"] == CAPTIONS
    assert model.generate(batch) == CAPTIONS


def test_generation_primed_by_a_left_padded_prompt_skips_the_padding():
    model, batch = _model().eval(), _batch()
    cls_id = model.tokenizer.cls_token_id
    pad_id = model.tokenizer.pad_token_id
    batch.prompt_ids = torch.tensor([[cls_id], [cls_id]])
    batch.prompt_mask = torch.ones(2, 1, dtype=torch.long)
    plain = model.generate(batch)
    batch.prompt_ids = torch.tensor([[pad_id, pad_id, cls_id], [pad_id, pad_id, cls_id]])
    batch.prompt_mask = torch.tensor([[0, 0, 1], [0, 0, 1]])
    assert model.generate(batch) == plain


def test_prediction_rows_carry_the_generated_caption():
    model, batch = _model().eval(), _batch()
    batch.id = torch.tensor([7, 9])
    with torch.no_grad():
        output = model(batch)
    rows = model.format_for_prediction(batch, output)
    assert [row["id"] for row in rows] == [7, 9]
    assert [row["caption"] for row in rows] == output["generated_text"]


def test_image_without_regions_stays_finite():
    model, batch = _model(), _batch()
    batch.image_info_0["num_boxes"][0] = 0  # a detector found nothing
    output = model(batch)
    assert all(torch.isfinite(loss) for loss in output["losses"].values())
    with torch.no_grad():
        assert torch.isfinite(model.eval()(batch)["scores"]).all()
    assert len(model.generate(batch)) == 2
