import pytest
import torch

from mmf_imgtune import Sample, SampleList
from mmf_imgtune.common.collate import BatchCollator


def _sample(i, length=3):
    sample = Sample()
    sample.input_ids = torch.arange(length) + i
    sample.text = f"t{i}"
    sample.image_info_0 = {"bbox": torch.ones(2, 4) * i, "image_width": 10}
    return sample


def test_sample_attribute_and_item_access():
    sample = _sample(1)
    assert sample["text"] == sample.text == "t1"
    assert sample.image_info_0.image_width == 10
    with pytest.raises(AttributeError, match="fields are: input_ids"):
        sample.nope  # noqa: B018  (the attribute access is the test)


def test_samplelist_stacks_tensors_lists_others_and_nests_dicts():
    batch = SampleList([_sample(0), _sample(1)])
    assert batch.input_ids.shape == (2, 3)
    assert batch.text == ["t0", "t1"]
    assert batch.image_info_0.bbox.shape == (2, 2, 4)
    assert batch.image_info_0.image_width == [10, 10]
    assert batch.get_batch_size() == 2
    assert batch.to("cpu").input_ids.equal(batch.input_ids)


def test_unequal_shapes_fail_with_advice():
    with pytest.raises(ValueError, match="pad_sequence_field"):
        SampleList([_sample(0, 3), _sample(1, 4)])


def test_pad_sequence_field_records_true_length():
    samples = [_sample(0, 3), _sample(1, 5)]
    SampleList.pad_sequence_field(samples, "input_ids", pad_value=-1)
    batch = SampleList(samples)
    assert batch.input_ids.shape == (2, 5)
    assert batch.input_ids_length.tolist() == [3, 5]
    assert batch.input_ids[0, 3:].tolist() == [-1, -1]


def test_collator_adds_dataset_name_and_type():
    batch = BatchCollator("toy", "val")([_sample(0), _sample(1)])
    assert batch.dataset_name == "toy" and batch.dataset_type == "val"
    batch.add_field("extra", 1)
    assert "extra" in batch.fields()
