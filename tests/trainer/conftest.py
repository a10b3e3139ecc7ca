import pytest

from mmf_imgtune.utils.testing import write_plugin

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
            def __init__(self, config, update):
                self.update = update

            def on_train_batch_end(self, trainer, *args):
                if trainer.global_step == self.update:
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
