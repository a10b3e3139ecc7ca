"""Test set-up: offline, deterministic, small thread pools (CI machines have 2 cores)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from mmf_imgtune.utils.testing import write_plugin  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(autouse=True)
def _seed_and_env(monkeypatch, tmp_path):
    torch.manual_seed(0)
    # Runs write under the test's own folder unless a test says otherwise.
    monkeypatch.setenv("MMF_SAVE_DIR", str(tmp_path / "save"))
    monkeypatch.setenv("MMF_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MMF_USER_DIR", raising=False)
    yield


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


# A user plugin outside the package: its own model, dataset builder and a callback that
# kills the process (SIGKILL, no clean-up) right after a given update, to test resume.
PLUGIN_FILES = {
    "__init__.py": """
        from . import plugin_dataset, plugin_model, kill_callback  # noqa: F401
    """,
    "plugin_dataset.py": """
        import os
        import torch
        from mmf_imgtune import BaseDataset, BaseDatasetBuilder, Sample, registry

        class ParityDataset(BaseDataset):
            def __init__(self, config, split):
                super().__init__("parity", config, split)
                generator = torch.Generator().manual_seed({"train": 0, "val": 1, "test": 2}[split])
                self.x = torch.randint(0, 2, (int(config.size), 6), generator=generator).float()

            def __len__(self):
                return len(self.x)

            def __getitem__(self, index):
                sample = Sample()
                sample.x = self.x[index]
                sample.targets = torch.tensor(int(self.x[index, :2].sum()) % 2)
                sample.id = torch.tensor(index)
                return sample

        @registry.register_builder("parity")
        class ParityBuilder(BaseDatasetBuilder):
            def __init__(self):
                super().__init__("parity")

            @classmethod
            def config_path(cls):
                return os.path.join(os.path.dirname(__file__), "parity.yaml")

            def load(self, config, split):
                return ParityDataset(config, split)

        @registry.register_builder("parity_small")
        class SmallParityBuilder(ParityBuilder):
            def __init__(self):
                BaseDatasetBuilder.__init__(self, "parity_small")

            @classmethod
            def config_path(cls):
                return os.path.join(os.path.dirname(__file__), "parity_small.yaml")

            def load(self, config, split):
                dataset = ParityDataset(config, split)
                dataset.dataset_name = "parity_small"
                return dataset
    """,
    "parity_small.yaml": """
        dataset_config:
          parity_small:
            size: 64
    """,
    "plugin_model.py": """
        import os
        import torch
        from mmf_imgtune import BaseModel, registry

        @registry.register_model("parity_mlp")
        class ParityMLP(BaseModel):
            @classmethod
            def config_path(cls):
                return os.path.join(os.path.dirname(__file__), "parity_mlp.yaml")

            def build(self):
                self.net = torch.nn.Sequential(
                    torch.nn.Linear(6, self.config.hidden), torch.nn.ReLU(),
                    torch.nn.Dropout(0.2), torch.nn.Linear(self.config.hidden, 2))

            def forward(self, sample_list):
                return {"scores": self.net(sample_list["x"])}
    """,
    "kill_callback.py": """
        import os
        import signal
        import lightning.pytorch as pl
        from mmf_imgtune import registry

        @registry.register_callback("kill_after")
        class KillAfter(pl.Callback):
            def __init__(self, config, update, once_file=None):
                # once_file: kill only if it does not exist yet (and create it), so that the
                # same config can be run again to resume.
                self.update, self.once_file = update, once_file

            def on_train_batch_end(self, trainer, *args):
                if trainer.global_step != self.update:
                    return
                if self.once_file:
                    if os.path.exists(self.once_file):
                        return
                    open(self.once_file, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)
    """,
    "parity.yaml": """
        dataset_config:
          parity:
            size: 256
    """,
    "parity_mlp.yaml": """
        model_config:
          parity_mlp:
            hidden: 32
            losses: [cross_entropy]
    """,
}


@pytest.fixture
def plugin_dir(tmp_path):
    return write_plugin(tmp_path / "plugins", "my_plugin", PLUGIN_FILES)


from jsonl_helpers import write_jsonl_folder  # noqa: E402


@pytest.fixture
def jsonl_folder(tmp_path):
    """``jsonl_folder(kind)`` writes a tiny folder under the test's tmp_path."""
    return lambda kind: write_jsonl_folder(tmp_path / f"jsonl_{kind}", kind)
