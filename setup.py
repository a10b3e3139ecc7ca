"""mmf_imgtune: MMF-compatible multimodal training that teaches LLMs to see."""

from setuptools import find_packages, setup

setup(
    name="mmf_imgtune",
    version="0.1.0",
    description="MMF-style plugin framework fusing Detectron2 region features into causal LLMs",
    python_requires=">=3.10",
    packages=find_packages(
        include=[
            "mmf_imgtune",
            "mmf_imgtune.*",
            "mmf_imgtune_mmf",
            "mmf_imgtune_mmf.*",
            "mmf_imgtune_shims",
        ]
    ),
    include_package_data=True,
    package_data={"mmf_imgtune.cli": ["chat_page.html"]},
    # Lower bounds we rely on; upper bounds are the newest majors we have tested.
    install_requires=[
        "torch>=2.4,<2.15",
        "torchvision>=0.19,<0.30",
        "lightning>=2.4,<2.7",
        "omegaconf>=2.3,<2.5",
        "transformers>=4.53,<6",
        "tokenizers>=0.21,<0.24",
        "peft>=0.17,<0.22",
        "torchmetrics>=1.4,<1.10",
        "lmdb>=1.4,<4",
        "pycocoevalcap>=1.2,<1.3",
        "numpy>=1.26,<3",
        "pillow>=10,<14",
        "matplotlib>=3.8,<3.12",
        "tqdm>=4.66,<5",
        "psutil>=5.9,<8",
        "rich>=13,<16",
        "tensorboard>=2.15,<2.22",
        "gguf>=0.10,<0.20",
        "accelerate>=1.0,<1.16",
        "safetensors>=0.4,<0.9",
        # mmf_imgtune_serve: the OpenAI-compatible API
        "fastapi>=0.110,<0.166",
        "uvicorn>=0.29,<0.56",
    ],
    extras_require={
        "test": [
            "pytest>=8,<10",
            "pytest-timeout>=2.3,<3",
            "hypothesis>=6.100,<7",
            "ruff>=0.6,<0.18",
            "import-linter>=2.16,<2.17",
            # the server's end-to-end tests and benchmarks/serve_load.py speak through it
            "openai>=1.40,<3.64",
            # raw HTTP in the server tests (bad bodies the openai client would not send)
            "httpx>=0.27,<0.29",
        ],
    },
    entry_points={
        "console_scripts": [
            # Our names, safe beside MMF (which installs mmf_run, mmf_predict, mmf_convert_hm).
            "mmf_imgtune_run=mmf_imgtune.cli.run:main",
            "mmf_imgtune_predict=mmf_imgtune.cli.run:main_predict",
            "mmf_imgtune_convert_hm=mmf_imgtune.cli.convert_hateful_memes:main",
            # MMF's names, for machines without MMF; where both are installed, the last wins.
            "mmf_run=mmf_imgtune.cli.run:main",
            "mmf_predict=mmf_imgtune.cli.run:main_predict",
            "mmf_imgtune_extract=mmf_imgtune.cli.extract:main",
            "mmf_imgtune_train_detector=mmf_imgtune.cli.train_detector:main",
            "mmf_imgtune_generate=mmf_imgtune.cli.generate:main",
            "mmf_imgtune_chat=mmf_imgtune.cli.chat:main",
            "mmf_imgtune_chat_web=mmf_imgtune.cli.chat_web:main",
            "mmf_imgtune_bench=mmf_imgtune.cli.bench:main",
            "mmf_convert_hm=mmf_imgtune.cli.convert_hateful_memes:main",
            "mmf_imgtune_consolidate=mmf_imgtune.cli.consolidate:main",
            "mmf_imgtune_ifct2017=mmf_imgtune.cli.ifct2017:main",
            "mmf_imgtune_openclipart=mmf_imgtune.cli.openclipart:main",
            "mmf_imgtune_export=mmf_imgtune.cli.export:main",
            "mmf_imgtune_serve=mmf_imgtune.cli.serve:main",
        ]
    },
)
