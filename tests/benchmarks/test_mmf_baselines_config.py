"""``benchmarks/mmf_baselines.py`` configures every model for shapes VQA (no MMF needed)."""

import argparse
import importlib.util

from omegaconf import OmegaConf

from mmf_imgtune.data.shapes.generate import SplitSettings, generate_split
from mmf_imgtune.utils.testing import REPO_ROOT


def _script():
    spec = importlib.util.spec_from_file_location(
        "mmf_baselines", REPO_ROOT / "benchmarks/mmf_baselines.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ARGS = argparse.Namespace(train_size=20, eval_size=10, batch_size=8, max_updates=40, lr=1e-3)


def test_every_model_gets_one_budget_task_and_metric_code():
    bench = _script()
    configs = {
        name: OmegaConf.create(bench.run_config(name, ARGS, "bert-x")) for name in bench.MODELS
    }
    for config in configs.values():
        assert config.dataset_config.shapes.task == "vqa"
        assert list(config.evaluation.metrics) == ["imgtune_vqa_accuracy", "imgtune_accuracy"]
        assert config.training.max_updates == 40 and config.training.batch_size == 8
        assert config.scheduler.type == "warmup_cosine" and config.optimizer.params.lr == 1e-3
    for name in bench.BASELINES:
        model = configs[name].model_config[name]
        # Classifiers over the 18 answers with MMF's VQA loss on the soft scores.
        assert model.num_labels == bench.NUM_ANSWERS
        assert [loss.type for loss in model.losses] == ["logit_bce"]
    assert configs["concat_bert"].model_config.concat_bert.classifier.params.out_dim == 18
    for head in ("modal_classifier", "text_classifier"):
        assert configs["late_fusion"].model_config.late_fusion[head].params.out_dim == 18
    no_ids = configs["imgtune_no_class_ids"].model_config.imgtune.region_encoder
    assert no_ids.num_object_classes == 0 and bench.mmf_model("imgtune_no_class_ids") == "imgtune"


def test_answer_priors_read_the_annotations(tmp_path):
    bench = _script()
    for split, size in (("train", 30), ("test", 10)):
        generate_split(str(tmp_path), SplitSettings(split, size, 0, 64, 1, 6), progress=False)
    priors = bench.answer_priors(tmp_path)
    assert set(priors) == {"most frequent answer", "most frequent answer per question"}
    assert all(0.0 <= value <= 1.0 for value in priors.values())
