"""Task heads are registered classes; moving them out of model.py kept every checkpoint key."""

import json
import warnings
from pathlib import Path

import pytest
from imgtune_helpers import build

from mmf_imgtune.models.imgtune import heads
from mmf_imgtune.registry import registry

# state_dict keys per task/fusion, captured from model.py before the heads moved to heads.py.
KEYS = json.loads((Path(__file__).with_name("state_dict_keys.json")).read_text())


@pytest.mark.parametrize("case", sorted(KEYS))
def test_state_dict_keys_are_those_before_the_move(case):
    task, fusion = case.split("/")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # retrieval + cross_attention warns (tested elsewhere)
        model = build(task=task, fusion=fusion, num_answers=3, num_labels=3)
    assert list(model.state_dict()) == KEYS[case]


def test_every_task_is_a_registered_head():
    expected = {
        "generation": heads.GenerationHead,
        "vqa_classification": heads.VQAClassifierHead,
        "binary": heads.BinaryClassifierHead,
        "classification": heads.MultiClassifierHead,
        "retrieval": heads.RetrievalHead,
    }
    for task, head in expected.items():
        assert registry.get_task_head_class(task) is head
        assert issubclass(head, heads.TaskHead)
    assert isinstance(build(task="binary").head, heads.BinaryClassifierHead)


def test_unknown_task_lists_the_registered_ones():
    with pytest.raises(ValueError, match="task='captioning'.*'generation'.*'retrieval'"):
        build(task="captioning")
