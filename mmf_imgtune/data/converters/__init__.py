"""Converters of real data sets into the layouts the builders read: Hateful Memes' zip
(MMF's layout), the IFCT 2017 food photos of two npm packages (image_text_jsonl). Their
commands live in ``mmf_imgtune.cli``."""
