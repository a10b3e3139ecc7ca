"""Multi-node set-up is read from the launcher's environment by Lightning: SLURM's variables
(simulated here: no cluster) give our trainer its node, rank and world size."""

from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from lightning_utilities.core.rank_zero import rank_zero_only as utils_rank_zero_only

from mmf_imgtune.config.loader import build_config
from mmf_imgtune.trainer.build import build_trainer
from mmf_imgtune.trainer.datamodule import per_device_batch_size

# What `srun` sets for task 1 of `sbatch --nodes=2 --ntasks-per-node=1` (see README).
SLURM_TASK_1 = {
    "SLURM_JOB_ID": "4242",
    "SLURM_JOB_NAME": "imgtune",
    "SLURM_NTASKS": "2",
    "SLURM_NTASKS_PER_NODE": "1",
    "SLURM_JOB_NUM_NODES": "2",
    "SLURM_NODELIST": "node[01-02]",
    "SLURM_PROCID": "1",
    "SLURM_LOCALID": "0",
    "SLURM_NODEID": "1",
}


def test_slurm_variables_set_node_rank_and_world(monkeypatch, tmp_path):
    for key, value in SLURM_TASK_1.items():
        monkeypatch.setenv(key, value)
    # Lightning's SLURMEnvironment writes MASTER_ADDR/MASTER_PORT into os.environ: restore them
    # (setenv records the old state, delenv leaves them unset for Lightning to fill in).
    for key in ("MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.setenv(key, "unset")
        monkeypatch.delenv(key)
    # Lightning records "this process is rank 1" in module globals; later in-process runs of
    # this pytest process must see rank 0 again (else their loggers stay silent).
    for holder in (rank_zero_only, utils_rank_zero_only):
        monkeypatch.setattr(holder, "rank", getattr(holder, "rank", 0))
    config = build_config(
        [
            "model=toy_classifier",
            "dataset=toy",
            "training.num_nodes=2",
            "training.devices=1",
            "training.strategy=ddp",
            "training.accelerator=cpu",
            "training.batch_size=16",
            f"env.save_dir={tmp_path}",
        ]
    )
    trainer = build_trainer(config, str(tmp_path))
    environment = trainer.strategy.cluster_environment
    assert isinstance(environment, SLURMEnvironment)
    assert (environment.global_rank(), environment.world_size()) == (1, 2)
    assert (environment.node_rank(), environment.local_rank()) == (1, 0)
    assert environment.main_address == "node01"
    assert trainer.world_size == 2 and per_device_batch_size(config, trainer.world_size) == 8
    assert rank_zero_only.rank == 1  # what the restore above undoes
