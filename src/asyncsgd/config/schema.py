"""Every setting of a run: one flat, typed, validated record, generated from the declarations.

The run's own settings are declared in :mod:`asyncsgd.config.settings`, the engines' in
:mod:`asyncsgd.config.engines`, and every codec's, remedy's, rule's, algorithm's and delay model's
beside its class; :class:`RunConfig` knows every part registered at the moment it is built or
validated. :meth:`RunConfig.from_dict` maps deprecated spellings to their keys, then rejects
unknown keys, wrong types and impossible values with a :class:`~asyncsgd.errors.ConfigError`
naming the key. ``asyncsgd list settings``, ``asyncsgd run --help-settings`` and the README table
are generated from the same declarations.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from asyncsgd.config.aliases import unknown_setting
from asyncsgd.config.engines import RAY_CUSTOM, RAY_RESOURCES, RAY_UNIT, custom_resources
from asyncsgd.config.legacy import canonical_form, upgrade
from asyncsgd.config.settings import AUTO_LR, DEVICE, declared
from asyncsgd.config.trackers import check_trackers
from asyncsgd.errors import ConfigError
from asyncsgd.vocabulary.settings import Bounds, brief, coerce

__all__ = ["AUTO_LR", "Bounds", "RunConfig", "coerce"]


class RunConfig:
    """The settings of one run, read as attributes (``cfg.ratio``). Immutable; built unchecked
    from keywords (defaults for the rest), checked by :meth:`from_dict` and :meth:`validate`."""

    __slots__ = ("_values",)

    def __init__(self, **values: Any) -> None:
        known = declared()
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise TypeError(f"RunConfig got an unknown setting {unknown[0]!r}")
        full = {k: values[k] if k in values else copy.copy(s.default) for k, s in known.items()}
        object.__setattr__(self, "_values", full)

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self._values[key]
        except KeyError:
            setting = declared().get(key)  # a part registered after this config was built
            if setting is None:
                raise AttributeError(f"RunConfig has no setting {key!r}") from None
            return copy.copy(setting.default)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"RunConfig is immutable: use replace({key}=...)")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunConfig) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.canonical())

    def __repr__(self) -> str:
        return "RunConfig(" + ", ".join(f"{k}={v!r}" for k, v in self._values.items()) + ")"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.to_dict(),))

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def keys(cls) -> list[str]:
        return list(declared())

    @classmethod
    def help(cls) -> dict[str, str]:
        """Each setting's help text, with the range a number must lie in."""
        return {k: s.describe() for k, s in declared().items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        """Typed, validated config from plain values; the first problem raises ConfigError."""
        values = upgrade(values)
        known = declared()
        kwargs = {}
        for key, value in values.items():
            if key not in known:
                raise unknown_setting(key, known)
            kwargs[key] = coerce(key, value, known[key].type)
        cfg = cls(**kwargs)
        cfg.validate()
        return cfg

    def to_dict(self) -> dict[str, Any]:
        values = {**{k: s.default for k, s in declared().items()}, **self._values}
        return {k: (list(v) if isinstance(v, list) else v) for k, v in values.items()}

    def canonical(self) -> str:
        """These settings as canonical JSON: sorted keys, no spaces, shortest round-trip floats
        (``Infinity`` for an infinite value); a run's id hashes it (``asyncsgd.sweep.spec.run_id``).
        A setting added since run ids began is left out at its default, and a renamed one is
        written under its first name, so a run keeps its id (:mod:`asyncsgd.config.legacy`)."""
        return json.dumps(canonical_form(self.to_dict()), sort_keys=True, separators=(",", ":"))

    def replace(self, **changes: Any) -> RunConfig:
        return RunConfig.from_dict({**self.to_dict(), **changes})

    # -- validation --------------------------------------------------------------------------
    def validate(self) -> None:
        """Every value in its declared range or choices, then what ranges cannot say; the first
        problem raises a ConfigError naming its setting (before anything is built or allocated)."""
        for key, setting in declared().items():
            wrong = setting.problem(getattr(self, key))
            if wrong is not None:
                raise ConfigError(key, wrong)

        def need(ok: bool, key: str, message: str) -> None:
            if not ok:
                raise ConfigError(key, f"{message}, got {brief(getattr(self, key))}")

        need(self.lr == AUTO_LR or isinstance(self.lr, float), "lr", f'must be a number or "{AUTO_LR}"')
        for key in RAY_RESOURCES:
            units = getattr(self, key) / RAY_UNIT
            need(abs(units - round(units)) < 1e-6, key, f"must be a multiple of {RAY_UNIT:g} (Ray's unit)")
        for key in RAY_CUSTOM:
            custom_resources(key, getattr(self, key))
        need(DEVICE.fullmatch(self.device) is not None, "device", "must be cpu, cuda, cuda:N, mps or xpu[:N]")
        need(self.slow_learners <= self.learners, "slow_learners", "must be in [0, learners]")
        check_trackers(self.loggers)
        if self.epochs > 0 and self.updates > 0:
            raise ConfigError(
                "epochs", f"set exactly one budget: epochs={self.epochs}, updates={self.updates}"
            )
        if self.epochs == 0 and self.updates == 0:
            raise ConfigError("updates", "no budget: set updates (server updates) or epochs (passes) > 0")


def _rebuild(values: dict[str, Any]) -> RunConfig:
    """A config from its :meth:`RunConfig.to_dict` (pickling; already validated where it was made)."""
    config = RunConfig.__new__(RunConfig)
    object.__setattr__(config, "_values", dict(values))
    return config
