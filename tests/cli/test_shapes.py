"""``python -m mmf_imgtune.cli.shapes``: generate the shapes data set without a training run."""

import pytest

from mmf_imgtune.cli.shapes import main


def test_command_line_generation(tmp_path, capsys):
    main(["--splits", "val", "--no-features", f"env.data_dir={tmp_path}",
          "dataset_config.shapes.sizes.val=3", "dataset_config.shapes.image_size=64"])  # fmt: skip
    assert "val: 3 images" in capsys.readouterr().out
    assert len(list((tmp_path / "shapes" / "images" / "val").glob("*.png"))) == 3
    with pytest.raises(Exception, match="sizez"):
        main(["--no-features", f"env.data_dir={tmp_path}", "dataset_config.shapes.sizez.val=3"])
