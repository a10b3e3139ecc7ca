"""The OpenAI-compatible server of an export (``mmf_imgtune_serve``): ``app.create_app``."""
