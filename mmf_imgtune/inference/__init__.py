"""Serving a trained run: open it, turn a raw image into regions the way the training store
made them, batch a prompt, decode, chat, explain, evaluate dialogues; export it, the one-call
pipeline and the OpenAI-compatible server.

The layer above ``models`` and ``trainer`` (``docs/architecture.md``). Kept light on purpose:
import the submodule you need (``mmf_imgtune.inference.chat`` ...); nothing heavy runs here
(the server's FastAPI and uvicorn load only for ``mmf_imgtune_serve``).
"""
