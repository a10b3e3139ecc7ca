"""A tiny ``image_text_jsonl`` folder for tests (a uniquely named module: test files import
it by name, where ``conftest`` would be whichever conftest came first)."""

# A tiny image_text_jsonl folder (configs/datasets/image_text_jsonl/folder.yaml's layout):
# the colour of a square is the caption, the class (label) and the answer.
JSONL_COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}
JSONL_WORDS = ["a", "red", "green", "blue", "square", "describe", "the", "image", "what",
               "colour", "is", "it", "?"]  # fmt: skip
JSONL_TOKENIZER = "{word_level: {words: [" + ", ".join(f"'{w}'" for w in JSONL_WORDS) + "]}}"


def write_jsonl_folder(root, kind: str, sizes=(9, 3, 3)):
    """``kind``: caption, label or answers; returns the folder."""
    import json

    from PIL import Image

    names = list(JSONL_COLOURS)
    (root / "images").mkdir(parents=True, exist_ok=True)
    index = 0
    for split, size in zip(("train", "val", "test"), sizes):
        lines = []
        for _ in range(size):
            colour = names[index % 3]
            image = Image.new("RGB", (40, 32), (90, 90, 90))
            image.paste(Image.new("RGB", (16, 16), JSONL_COLOURS[colour]), (8 + index % 5, 8))
            image.save(root / "images" / f"{index}.png")
            line = {"id": index, "image": f"{index}.png"}
            if kind == "caption":
                line.update(text="describe the image", caption=f"a {colour} square")
            elif kind == "label":
                line.update(text="what colour is it ?", label=index % 3)
            else:
                line.update(text="what colour is it ?", answers=[colour] * 3)
            lines.append(json.dumps(line))
            index += 1
        (root / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return root
