"""One registry for every kind of plugin, behind MMF's ``registry.register_X`` API.

MMF plugins port by changing imports: ``@registry.register_model("my_model")`` on a
``BaseModel`` subclass, ``registry.get_model_class("my_model")`` to find it. Unlike MMF, a
second *different* class under a taken name raises (MMF overwrote silently), and an unknown
name raises with the list of registered names and the closest match.

Components are built through one call, ``registry.build(kind, spec, *args, **kwargs)``, where
``spec`` is a registered name or ``{type: name, params: {...}}``; ``KINDS`` states what a
registered class of each kind must accept and return.

Registration happens by explicit imports in each subpackage's ``__init__.py``; user plugins
register by being imported through ``env.user_dir`` (see ``mmf_imgtune.utils.user_dir``).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from omegaconf import OmegaConf

T = TypeVar("T")


@dataclass(frozen=True)
class Kind:
    """How ``Registry.build`` calls a registered entry of one kind.

    Attributes:
        contract: what a registered class must accept and return (the kind's docstring).
        params: ``"kwargs"``: ``params`` become keyword arguments; ``"config"``: the ``params``
            node is passed as the first argument (MMF's processors take ``config``).
        constructor: a classmethod to call instead of the class (e.g. ``"from_options"``).
        ignore_case: names also match case-insensitively (torch optimizer names).
    """

    contract: str
    params: str = "kwargs"
    constructor: str | None = None
    ignore_case: bool = False


KINDS: dict[str, Kind] = {
    "model": Kind(
        "A BaseModel subclass: ``Model(config)`` with ``config_path()``, ``build()`` and "
        "``forward(sample_list) -> {'scores', 'losses'}`` (built by trainer.run.build_model)."
    ),
    "builder": Kind(
        "A BaseDatasetBuilder subclass with a no-argument constructor, ``config_path()``, "
        "``build(config, split)`` and ``load(config, split) -> BaseDataset``."
    ),
    "processor": Kind(
        "A BaseProcessor subclass: ``Processor(params, **kwargs)`` (params: the spec's "
        "``params`` node), then ``processor(item: dict) -> dict``.",
        params="config",
    ),
    "loss": Kind(
        "An nn.Module: ``Loss(**params)``, then ``loss(sample_list, model_output) -> scalar``."
    ),
    "metric": Kind(
        "A BaseMetric: ``Metric(**params)`` with ``update(sample_list, model_output)``, "
        "``compute() -> float`` and ``reset()``, accumulated over a whole split."
    ),
    "encoder": Kind(
        "An image encoder nn.Module with a ``from_config(config)`` classmethod "
        "(``model_config.<m>.image_encoder``: its ``type`` and options)."
    ),
    "optimizer": Kind(
        "A torch.optim.Optimizer class: ``Optimizer(parameters, **params)``. Every torch.optim "
        "class is registered under its own name (any case), plus ``adam_w``.",
        ignore_case=True,
    ),
    "scheduler": Kind(
        "A per-update LR scheduler: ``Scheduler(optimizer, **params)`` (params: "
        "``scheduler.params``, ``num_training_steps`` filled from ``training.max_updates``)."
    ),
    "callback": Kind(
        "A lightning Callback: ``Callback(config=<run config>, **params)``, listed under "
        "``training.callbacks``."
    ),
    "transform": Kind(
        "An image transform of ``torchvision_transforms``: ``Transform(**params)`` then "
        "``transform(image) -> image``. Every torchvision.transforms class is registered."
    ),
    "projector": Kind(
        "A region-feature projector: ``Projector(in_dim, out_dim, hidden_dim=None)``, an "
        "nn.Module mapping (B, N, in_dim) to (B, N, out_dim)."
    ),
    "task_head": Kind(
        "An ImgTune task (``model_config.imgtune.task``): a ``heads.TaskHead`` nn.Module built "
        "by ``Head.from_config(model_config, hidden_size)``; it owns the task's head modules "
        "and ``run(model, sample_list, visual) -> {'scores', 'losses', ...}``.",
        constructor="from_config",
    ),
    "region_backend": Kind(
        "A regions.base.RegionBackend subclass; ``Backend.from_options(**options)`` takes "
        "``extract_features``'s model options (weights, device, ...) and a RegionOptions.",
        constructor="from_options",
    ),
    "trainer": Kind(
        "Registration only, kept so MMF plugins that register a trainer still import: "
        "mmf_imgtune has one training loop (Lightning) and builds nothing of this kind."
    ),
}


class RegistryError(KeyError):
    """Raised for unknown or conflicting registry names; the message says what to do."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it readable
        return str(self.args[0])


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def parse_spec(spec: Any, kind: str) -> tuple[str, Any]:
    """``name`` or ``{type: name, params: {...}}`` -> ``(name, params)``; params may be None."""
    if isinstance(spec, str):
        return spec, None
    if isinstance(spec, Mapping) or hasattr(spec, "keys"):
        if "type" not in spec:
            raise RegistryError(
                f"a {kind} spec needs 'type' (a registered name) and optional 'params'; got "
                f"keys {list(spec.keys())}"
            )
        return str(spec["type"]), spec.get("params", None)
    raise RegistryError(
        f"a {kind} spec is a registered name or {{type, params}}; got {type(spec).__name__} "
        f"{spec!r}"
    )


def _as_kwargs(params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    if hasattr(params, "_get_node"):  # an OmegaConf node: resolve interpolations
        return dict(OmegaConf.to_container(params, resolve=True))
    return dict(params)


class Registry:
    """Maps names to classes (or functions) for one kind of component.

    A registered class must satisfy the kind's contract (``KINDS[kind].contract``, also this
    instance's ``__doc__``); the registry stores classes and builds them, it holds no state.
    """

    def __init__(self, kind: str, spec: Kind | None = None):
        self.kind = kind
        self.spec = spec or KINDS.get(kind) or Kind("")
        self.__doc__ = self.spec.contract
        self._entries: dict[str, Any] = {}

    def register(self, name: str, obj: T) -> T:
        if not isinstance(name, str) or not name:
            raise RegistryError(f"{self.kind} names must be non-empty strings, got {name!r}")
        existing = self._entries.get(name)
        if existing is not None and existing is not obj and _qualname(existing) != _qualname(obj):
            raise RegistryError(
                f"{self.kind} name '{name}' is already taken by {_qualname(existing)}; "
                f"cannot register {_qualname(obj)} under it. Pick another name."
            )
        # Same class re-registered (module re-import in a worker or spawned process): keep newest.
        self._entries[name] = obj
        return obj

    def decorator(self, name: str) -> Callable[[T], T]:
        def wrap(obj: T) -> T:
            return self.register(name, obj)

        return wrap

    def get(self, name: str) -> Any:
        if name in self._entries:
            return self._entries[name]
        if self.spec.ignore_case:
            folded = [key for key in self._entries if key.lower() == str(name).lower()]
            if len(folded) == 1:
                return self._entries[folded[0]]
        known = sorted(self._entries)
        close = difflib.get_close_matches(str(name), known, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise RegistryError(
            f"No {self.kind} registered as '{name}'.{hint} Registered {self.kind}s: "
            f"{', '.join(known) or '(none)'}. If it lives in your own package, pass "
            f"env.user_dir=<folder> so it is imported."
        )

    def build(self, spec: Any, *args: Any, **kwargs: Any) -> Any:
        """Build one component from ``spec`` (a name or ``{type, params}``).

        ``args`` and ``kwargs`` come from the caller (e.g. the optimizer's parameters); the
        spec's ``params`` go as the kind's contract says (keyword arguments, or the first
        argument for ``processor``). A key given both ways raises.
        """
        name, params = parse_spec(spec, self.kind)
        entry = self.get(name)
        factory = getattr(entry, self.spec.constructor) if self.spec.constructor else entry
        if self.spec.params == "config":
            return factory(params or {}, *args, **kwargs)
        params = _as_kwargs(params)
        clash = sorted(set(params) & set(kwargs))
        if clash:
            raise RegistryError(
                f"{self.kind} '{name}': {clash} set both in its params and by the caller; "
                "remove them from params"
            )
        return factory(*args, **params, **kwargs)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries


class _MMFRegistry:
    """MMF's registry surface: ``register_<kind>`` decorators, ``get_<kind>_class`` getters,
    and a dotted-key ``register``/``get`` store (MMF keeps e.g. ``config`` there)."""

    def __init__(self) -> None:
        self.kinds = {kind: Registry(kind, spec) for kind, spec in KINDS.items()}
        self._state: dict[str, Any] = {}
        for kind in KINDS:
            setattr(self, f"register_{kind}", self.kinds[kind].decorator)
            setattr(self, f"get_{kind}_class", self.kinds[kind].get)

    # Typed aliases so editors and readers see the common ones.
    def register_model(self, name: str) -> Callable[[T], T]:
        return self.kinds["model"].decorator(name)

    def register_builder(self, name: str) -> Callable[[T], T]:
        return self.kinds["builder"].decorator(name)

    def register_processor(self, name: str) -> Callable[[T], T]:
        return self.kinds["processor"].decorator(name)

    def get_model_class(self, name: str) -> Any:
        return self.kinds["model"].get(name)

    def get_builder_class(self, name: str) -> Any:
        return self.kinds["builder"].get(name)

    def get_processor_class(self, name: str) -> Any:
        return self.kinds["processor"].get(name)

    def names(self, kind: str) -> list[str]:
        return self.kinds[kind].names()

    def build(self, kind: str, spec: Any, *args: Any, **kwargs: Any) -> Any:
        """Build a ``kind`` component from a name or ``{type, params}`` (see ``Registry.build``
        and the kind's contract in ``KINDS``)."""
        return self.kinds[kind].build(spec, *args, **kwargs)

    # --- dotted state store (MMF compatibility) -------------------------------------------
    def register(self, key: str, value: Any) -> None:
        node = self._state
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value

    def get(self, key: str, default: Any = None, no_warning: bool = True) -> Any:
        node: Any = self._state
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def unregister(self, key: str) -> Any:
        node = self._state
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.get(part, {})
        return node.pop(leaf, None)


registry = _MMFRegistry()
