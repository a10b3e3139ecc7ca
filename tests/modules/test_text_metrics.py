"""Text and retrieval metrics accumulate over a split and compute once."""

import shutil

import pytest
import torch

from mmf_imgtune.common.sample import SampleList
from mmf_imgtune.modules.metrics import MetricError, Metrics
from mmf_imgtune.modules.text_metrics import PTB_TOKENIZER, REGEX_TOKENIZER
from mmf_imgtune.registry import registry


def _metric(name, **params):
    return registry.get_metric_class(name)(**params)


def test_bleu_and_cider_accumulate_across_batches():
    refs = [["a red circle left of a blue square"], ["two green triangles"]]
    perfect = {"bleu4": _metric("bleu4"), "cider": _metric("cider")}
    for metric in perfect.values():
        # Two batches of one: the corpus score must equal the one-batch score.
        metric.update(SampleList({"captions": [refs[0]]}), {"generated_text": [refs[0][0]]})
        metric.update(SampleList({"captions": [refs[1]]}), {"generated_text": [refs[1][0]]})
    whole = _metric("cider")
    whole.update(SampleList({"captions": refs}), {"generated_text": [r[0] for r in refs]})
    assert perfect["bleu4"].compute() == pytest.approx(1.0, abs=1e-6)
    assert perfect["cider"].compute() == pytest.approx(whole.compute())
    wrong = _metric("bleu4")
    wrong.update(SampleList({"captions": refs}), {"generated_text": ["blue", "square"]})
    assert wrong.compute() < 0.1
    wrong.reset()
    with pytest.raises(MetricError, match="no \\(generated text, references\\) pair"):
        wrong.compute()  # never a silent 0.0


def test_empty_hypotheses_score_as_pycocoevalcap_scores_them():
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider

    refs = [["a cat on a mat", "a cat"], ["a dog"], ["two dogs play"]]
    hyps = ["A cat.", "", "dogs play"]
    ours = {"bleu4": _metric("bleu4"), "cider": _metric("cider")}
    for metric in ours.values():
        metric.update(SampleList({"captions": refs}), {"generated_text": hyps})
    gts = dict(enumerate(refs))
    res = {0: ["a cat"], 1: [""], 2: ["dogs play"]}
    assert ours["bleu4"].compute() == pytest.approx(
        Bleu(4).compute_score(gts, res, verbose=0)[0][3]
    )
    assert ours["cider"].compute() == pytest.approx(Cider().compute_score(gts, res)[0])


@pytest.mark.skipif(shutil.which("java") is None, reason="no Java: the PTBTokenizer needs it")
def test_bleu_and_cider_equal_pycocoevalcap_with_its_ptb_tokenizer():
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    # Punctuation, case, possessives and a hyphen: where a regex and the PTB tokenizer differ.
    refs = [
        ["A man's dog, running on the beach.", "A dog runs on the beach!"],
        ["Two 3-year-old kids don't play.", "Kids (two) are not playing"],
        ["A red car.", "The car is red."],
    ]
    hyps = ["A man's dog running on a beach", "two kids don't play", "A red car."]
    ours = {"bleu4": _metric("bleu4"), "cider": _metric("cider")}
    for metric in ours.values():
        metric.update(SampleList({"captions": refs}), {"generated_text": hyps})
    tokenizer = PTBTokenizer()
    gts = tokenizer.tokenize({i: [{"caption": r} for r in rs] for i, rs in enumerate(refs)})
    res = tokenizer.tokenize({i: [{"caption": h}] for i, h in enumerate(hyps)})
    assert ours["bleu4"].compute() == Bleu(4).compute_score(gts, res, verbose=0)[0][3]
    assert ours["cider"].compute() == Cider().compute_score(gts, res)[0]
    assert ours["cider"].note() == f"tokenizer: {PTB_TOKENIZER}"
    assert gts[1][0] == "two 3-year-old kids do n't play"  # PTB's split, not a regex's


def test_without_java_the_regex_tokenizer_is_used_and_said(monkeypatch, capsys):
    from mmf_imgtune.modules import text_metrics

    monkeypatch.setattr(text_metrics.shutil, "which", lambda name: None)
    monkeypatch.setattr(text_metrics, "_warned_no_java", False)
    metric = _metric("cider")
    metric.update(
        SampleList({"captions": [["A cat."], ["A dog!"]]}), {"generated_text": ["cat", "dog"]}
    )
    metric.compute()
    metric.compute()
    printed = [line for line in capsys.readouterr().out.splitlines() if "tokenizer" in line]
    assert printed == [f"[mmf_imgtune] BLEU/CIDEr tokenizer: {REGEX_TOKENIZER}; install a Java "
                       "runtime (e.g. Debian's default-jre-headless) for the COCO tokenizer"]  # fmt: skip
    assert metric.note() == f"tokenizer: {REGEX_TOKENIZER}"


def test_a_split_is_unlabelled_only_without_any_metric_references():
    captions = SampleList({"captions": [["a cat"]], "id": torch.tensor([0])})
    output = {"generated_text": ["a cat"], "scores": torch.zeros(1, 2)}
    text = Metrics(["bleu4", "cider"])
    text.update(captions, output)  # no `targets`, yet a labelled caption split
    assert text.labelled() and set(text.compute("val", "d")) == {"val/d/bleu4", "val/d/cider"}
    unlabelled = Metrics(["accuracy", "bleu4"])
    unlabelled.update(SampleList({"id": torch.tensor([0])}), output)
    assert not unlabelled.labelled() and unlabelled.batches == 1
    mixed = Metrics(["bleu4", "accuracy"])
    mixed.update(captions, output)
    with pytest.raises(MetricError) as error:
        mixed.compute("test", "image_text_jsonl")
    message = str(error.value)
    assert message.startswith("test/image_text_jsonl/accuracy: nothing to score")
    assert "'targets'" in message and "evaluation.metrics" in message


def test_generation_vqa_accuracy():
    # Value rules: tests/modules/test_vqa_eval.py; here the metric's whole-split mean.
    metric = _metric("generation_vqa_accuracy")
    metric.update(SampleList({"answers": [["red"], ["two"]]}), {"generated_text": ["red", "3"]})
    assert metric.compute() == 0.5
    with pytest.raises(KeyError, match="generate_in_eval"):
        metric.update(SampleList({"answers": [["red"]]}), {"scores": torch.zeros(1, 2)})


def test_recall_at_k_over_whole_split():
    images = torch.eye(4)
    texts = torch.eye(4)[[0, 1, 3, 2]]  # items 2 and 3 swapped
    r1, r2 = _metric("recall_at_1"), _metric("recall_at_k", k=2, direction="image_to_text")
    for metric in (r1, r2):
        for part in (slice(0, 2), slice(2, 4)):  # two batches
            metric.update(None, {"image_embedding": images[part], "text_embedding": texts[part]})
    assert r1.compute() == 0.5
    # A swapped item has one wrong item scored strictly above its match: rank 2, a hit at k=2.
    assert r2.compute() == 1.0
    r1.reset()
    with pytest.raises(MetricError, match="no embeddings"):
        r1.compute()
