"""The statement task needs both modalities: text alone and image alone are near chance.

Text-only predictors are trained on the train split's statements and scored on val: the
majority label of the exact statement string, and a bag of uni+bigrams naive Bayes. Image
alone is at chance by construction (each image has as many true as false statements).
"""

import math
import re
from collections import Counter, defaultdict

from mmf_imgtune.data.shapes import SplitSettings, make_record


def statements(split: str, size: int) -> list[tuple[int, str, int]]:
    settings = SplitSettings(split=split, size=size, seed=0, image_size=64, min_objects=1,
                             max_objects=6)  # fmt: skip
    rows = []
    for index in range(size):
        _, record = make_record(settings, index)
        rows += [(index, s["statement"], s["label"]) for s in record["statements"]]
    return rows


def ngrams(text: str) -> list[str]:
    words = re.findall(r"\w+", text)
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


def naive_bayes(train, test) -> float:
    counts = {0: Counter(), 1: Counter()}
    priors = Counter(label for _, _, label in train)
    for _, text, label in train:
        counts[label].update(ngrams(text))
    vocab = set(counts[0]) | set(counts[1])
    totals = {label: sum(counts[label].values()) + len(vocab) for label in (0, 1)}

    def log_prob(text, label):
        score = math.log(priors[label])
        return score + sum(math.log((counts[label][g] + 1) / totals[label]) for g in ngrams(text))

    hits = sum((log_prob(t, 1) > log_prob(t, 0)) == bool(y) for _, t, y in test)
    return hits / len(test)


def exact_majority(train, test) -> float:
    by_text = defaultdict(Counter)
    for _, text, label in train:
        by_text[text][label] += 1
    overall = Counter(label for _, _, label in train).most_common(1)[0][0]
    hits = 0
    for _, text, label in test:
        guess = by_text[text].most_common(1)[0][0] if text in by_text else overall
        hits += guess == label
    return hits / len(test)


def test_text_alone_is_near_chance():
    train, val = statements("train", 600), statements("val", 300)
    assert abs(sum(y for *_, y in train) / len(train) - 0.5) < 1e-9  # exactly balanced
    # ~2000 val statements: one standard error of a coin is ~0.011.
    assert abs(naive_bayes(train, val) - 0.5) < 0.05
    assert abs(exact_majority(train, val) - 0.5) < 0.05
    # The same predictor does learn when text carries the label (the check has power).
    leaky = [(i, f"{t} {'yes' if y else 'no'}", y) for i, t, y in train]
    leaky_val = [(i, f"{t} {'yes' if y else 'no'}", y) for i, t, y in val]
    assert naive_bayes(leaky, leaky_val) > 0.95


def test_image_alone_is_at_chance():
    per_image = defaultdict(Counter)
    for index, _, label in statements("train", 200):
        per_image[index][label] += 1
    assert all(c[0] == c[1] >= 1 for c in per_image.values())


def test_every_template_is_balanced():
    settings = SplitSettings("train", 300, 0, 64, 1, 6)
    by_template = defaultdict(Counter)
    for index in range(settings.size):
        for item in make_record(settings, index)[1]["statements"]:
            by_template[item["template"]][item["label"]] += 1
    assert set(by_template) == {"exist", "attribute", "relation", "compare"}
    assert all(c[0] == c[1] for c in by_template.values())
