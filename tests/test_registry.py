import pytest

from mmf_imgtune import BaseModel, registry
from mmf_imgtune.registry import Registry, RegistryError


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
