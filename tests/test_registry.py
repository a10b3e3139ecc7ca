import pytest
import torch
from omegaconf import OmegaConf

from mmf_imgtune import BaseModel, registry
from mmf_imgtune.registry import KINDS, Registry, RegistryError


def test_unknown_name_lists_registered_and_closest():
    with pytest.raises(RegistryError) as error:
        registry.get_model_class("toy_clasifier")
    message = str(error.value)
    assert "Did you mean: toy_classifier" in message
    assert "Registered models:" in message and "toy_classifier" in message


def test_different_class_under_taken_name_raises_with_both_paths():
    kinds = Registry("model")

    class First(BaseModel):
        pass

    class Second(BaseModel):
        pass

    kinds.register("dup", First)
    kinds.register("dup", First)  # the same class again (re-import) is fine
    with pytest.raises(RegistryError) as error:
        kinds.register("dup", Second)
    assert "First" in str(error.value) and "Second" in str(error.value)


def test_mmf_decorators_and_getters_for_every_kind():
    for kind in (
        "model",
        "builder",
        "processor",
        "loss",
        "metric",
        "encoder",
        "optimizer",
        "scheduler",
        "callback",
        "transform",
        "projector",
        "region_backend",
        "trainer",
    ):
        decorator = getattr(registry, f"register_{kind}")

        @decorator(f"_test_{kind}")
        class Thing:
            pass

        assert getattr(registry, f"get_{kind}_class")(f"_test_{kind}") is Thing


def test_dotted_state_store():
    registry.register("a.b.c", 3)
    assert registry.get("a.b.c") == 3
    assert registry.get("a.b") == {"c": 3}
    assert registry.get("a.missing", default="x") == "x"
    assert registry.unregister("a.b.c") == 3


def test_build_from_a_name_and_from_a_type_params_spec():
    import mmf_imgtune.trainer.optim  # noqa: F401  (registers torch.optim)

    loss = registry.build("loss", "cross_entropy")
    assert type(loss) is registry.get_loss_class("cross_entropy") and loss.params == {}
    spec = OmegaConf.create({"type": "cross_entropy", "params": {"label_smoothing": 0.1}})
    assert registry.build("loss", spec).params == {"label_smoothing": 0.1}
    # the caller's arguments go first / by keyword, the spec's params as keyword arguments
    parameters = [torch.nn.Parameter(torch.zeros(2))]
    optimizer = registry.build("optimizer", {"type": "SGD", "params": {"lr": 0.5}}, parameters)
    assert type(optimizer) is torch.optim.SGD and optimizer.param_groups[0]["lr"] == 0.5


def test_build_passes_a_processors_params_as_its_config():
    from mmf_imgtune.data.processors.base import BaseProcessor

    @registry.register_processor("_test_config_style")
    class Echo(BaseProcessor):
        pass

    processor = registry.build("processor", {"type": "_test_config_style", "params": {"a": 1}})
    assert OmegaConf.to_container(processor.config) == {"a": 1}


def test_build_unknown_name_lists_the_choices():
    with pytest.raises(RegistryError) as error:
        registry.build("loss", {"type": "cross_entropyy"})
    message = str(error.value)
    assert "No loss registered as 'cross_entropyy'" in message
    assert "Did you mean: cross_entropy" in message
    assert all(name in message for name in registry.names("loss"))


def test_build_refuses_a_spec_without_type_and_a_key_given_twice():
    with pytest.raises(RegistryError, match="needs 'type'"):
        registry.build("metric", {"params": {}})
    registry.register_callback("_test_clash")(dict)
    with pytest.raises(RegistryError, match=r"\['config'\] set both"):
        registry.build("callback", {"type": "_test_clash", "params": {"config": 1}}, config=2)


def test_optimizer_names_match_in_any_case_and_adam_w_is_adamw():
    import mmf_imgtune.trainer.optim  # noqa: F401  (registers torch.optim)

    for name in ("adam_w", "ADAMW", "adamw", "AdamW"):
        assert registry.get_optimizer_class(name) is torch.optim.AdamW
    assert registry.get_optimizer_class("sgd") is torch.optim.SGD


def test_every_kind_states_its_contract():
    for kind, spec in KINDS.items():
        assert spec.contract and registry.kinds[kind].__doc__ == spec.contract, kind
