"""``mmf_imgtune_bench``: train several models under one budget and compare them.

``suite.py`` reads a suite yaml, ``runner.py`` runs each (model, seed) in its own process,
``report.py`` aggregates the results into ``results.md``/``results.json``, ``plots.py`` draws
``results.png``.
"""
