import pytest

from mmf_imgtune.regions import RegionOptions, build_backend, extract_features
from mmf_imgtune.regions.options import SELECTION


def test_from_mapping_reads_only_its_fields_and_keeps_the_defaults():
    options = RegionOptions.from_mapping({"nms": 0.5, "layer": "pooled", "format": "lmdb"})
    assert options == RegionOptions(nms=0.5, layer="pooled")
    assert options.selection() == {
        "nms": 0.5,
        "conf_threshold": 0.2,
        "min_boxes": 10,
        "max_boxes": 100,
        "num_boxes": None,
    }
    assert tuple(options.selection()) == SELECTION


def test_bad_options_fail_naming_the_field(tmp_path):
    with pytest.raises(TypeError, match=r"unknown region options \['nmx'\]; use num_boxes"):
        RegionOptions().replace(nmx=0.1)
    with pytest.raises(TypeError, match="nmx"):  # before any model is built or file written
        extract_features([], str(tmp_path / "out"), nmx=0.1)
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match=r"min_boxes \(20\) must not exceed max_boxes \(5\)"):
        RegionOptions(min_boxes=20, max_boxes=5)
    assert RegionOptions(num_boxes=3, min_boxes=20, max_boxes=5).num_boxes == 3  # wins
    with pytest.raises(ValueError, match="grid=0"):
        RegionOptions(grid=0)


def test_a_backend_selects_with_the_options_it_is_given():
    regions = RegionOptions(num_boxes=3, nms=0.4, layer="pooled")
    backend = build_backend("torchvision", weights="random", backbone="mobilenet_v2",
                            min_size=64, max_size=64, device="cpu", regions=regions)  # fmt: skip
    assert backend.selection == regions.selection() and backend.layer == "pooled"
