"""What serves a trained run: export, the one-call pipeline, the OpenAI-compatible server.

Above ``models/`` and ``trainer/``; nothing below imports it. Submodules are imported where
used (the server's FastAPI and uvicorn load only for ``mmf_imgtune_serve``).
"""
