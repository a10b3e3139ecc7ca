"""Dialogue training: visual tokens at the ``<image>`` place, loss on assistant tokens only."""

import torch
from dialogue_helpers import TOKENIZER, dialogue_batch
from imgtune_helpers import build

from mmf_imgtune.models.imgtune.placement import place_visual, text_positions


def test_place_visual_splices_rows_at_their_own_position_and_back():
    text = torch.arange(2 * 4).view(2, 4, 1).float()  # (B, T, 1)
    visual = -torch.arange(1, 2 * 2 + 1).view(2, 2, 1).float()  # (B, P, 1)
    joined = place_visual(visual, text, torch.tensor([1, 4]))
    assert joined[..., 0].tolist() == [[0, -1, -2, 1, 2, 3], [4, 5, 6, 7, -3, -4]]
    assert torch.equal(text_positions(joined, 2, torch.tensor([1, 4])), text)
    assert torch.equal(place_visual(visual, text, None), torch.cat([visual, text], 1))


def test_forward_equals_the_lm_run_on_hand_spliced_embeddings():
    model = build(tokenizer=TOKENIZER).eval()
    batch = dialogue_batch(system=True)
    position = batch.image_position
    assert (position > 0).all()  # the system line and user header come first
    scores = model(batch)["scores"]
    visual = model.encode_regions(batch)
    embeds, mask = model.embed_text(batch.input_ids), batch.input_mask
    rows = []
    for b in range(len(position)):  # the splice written out row by row
        p = int(position[b])
        row = torch.cat([embeds[b, :p], visual["tokens"][b], embeds[b, p:]])
        row_mask = torch.cat([mask[b, :p], visual["mask"][b].long(), mask[b, p:]])
        rows.append((row, row_mask))
    spliced = torch.stack([r for r, _ in rows])
    spliced_mask = torch.stack([m for _, m in rows])
    out, _ = model.run_lm(spliced, spliced_mask, None)  # no visual: nothing prepended
    expected = torch.stack(
        [
            torch.cat([out.logits[b, : int(p)], out.logits[b, int(p) + visual["tokens"].size(1) :]])
            for b, p in enumerate(position)
        ]
    )
    assert scores.shape[:2] == batch.input_ids.shape
    torch.testing.assert_close(scores, expected)


def test_loss_counts_assistant_tokens_only():
    model = build(tokenizer=TOKENIZER).eval()
    batch = dialogue_batch()
    output = model(batch)
    (loss,) = output["losses"].values()
    labels = batch.labels
    picked = labels[:, 1:] != -100  # next-token targets
    logp = output["scores"][:, :-1].log_softmax(-1)
    manual = -logp.gather(-1, labels[:, 1:].clamp(min=0).unsqueeze(-1)).squeeze(-1)[picked].mean()
    torch.testing.assert_close(loss, manual)
    # Per sample: 2 answers of one word + their EOS each, nothing from the user turns.
    assert (picked.sum(1) == 4).all() and set(batch.answer_turn[labels != -100].tolist()) == {0, 1}


def test_text_only_control_sees_neither_features_nor_box_count():
    model = build(tokenizer=TOKENIZER, zero_image_features=True).eval()
    batch, other = dialogue_batch(seed=0), dialogue_batch(seed=1)
    other.image_info_0["num_boxes"] = torch.tensor([1, 2, 5, 3])  # different counts too
    torch.testing.assert_close(model(batch)["scores"], model(other)["scores"])
