"""Our console scripts have names of their own, so MMF's mmf_run/mmf_predict/mmf_convert_hm
(installed by facebookresearch/mmf into the same venv) cannot shadow them."""

from importlib.metadata import entry_points


def test_own_console_scripts_point_at_our_entry_points():
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts["mmf_imgtune_run"] == "mmf_imgtune.cli.run:main"
    assert scripts["mmf_imgtune_predict"] == "mmf_imgtune.cli.run:main_predict"
    assert scripts["mmf_imgtune_convert_hm"] == "mmf_imgtune.cli.convert_hateful_memes:main"
