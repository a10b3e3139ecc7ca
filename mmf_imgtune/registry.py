"""One registry for every kind of plugin, behind MMF's ``registry.register_X`` API.

MMF plugins port by changing imports: ``@registry.register_model("my_model")`` on a
``BaseModel`` subclass, ``registry.get_model_class("my_model")`` to find it. Unlike MMF, a
second *different* class under a taken name raises (MMF overwrote silently), and an unknown
name raises with the list of registered names and the closest match.

Registration happens by explicit imports in each subpackage's ``__init__.py``; user plugins
register by being imported through ``env.user_dir`` (see ``mmf_imgtune.utils.user_dir``).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

KINDS = (
    "model",
    "builder",
    "processor",
    "loss",
    "metric",
    "encoder",
    "optimizer",
    "scheduler",
    "callback",
    "trainer",
)


class RegistryError(KeyError):
    """Raised for unknown or conflicting registry names; the message says what to do."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it readable
        return str(self.args[0])


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


class Registry:
    """Maps names to classes (or functions) for one kind of component.

    A registered class must satisfy the contract in the kind's docstring (see
    ``mmf_imgtune.registry.registry`` getters); the registry itself only stores.
    """

    def __init__(self, kind: str):
        self.kind = kind
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
        known = sorted(self._entries)
        close = difflib.get_close_matches(str(name), known, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise RegistryError(
            f"No {self.kind} registered as '{name}'.{hint} Registered {self.kind}s: "
            f"{', '.join(known) or '(none)'}. If it lives in your own package, pass "
            f"env.user_dir=<folder> so it is imported."
        )

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries


class _MMFRegistry:
    """MMF's registry surface: ``register_<kind>`` decorators, ``get_<kind>_class`` getters,
    and a dotted-key ``register``/``get`` store (MMF keeps e.g. ``config`` there)."""

    def __init__(self) -> None:
        self.kinds = {kind: Registry(kind) for kind in KINDS}
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
