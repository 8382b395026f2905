"""The plugin manager: discovery, validation, failure isolation and safe hook calls.

Plugins are found through the ``lms.plugins`` entry-point group, the bundled camps
included. Each load is isolated: a plugin that fails to import, registers a hook
with a wrong signature, implements an unknown ``lms_`` hook or ships an invalid
curriculum is recorded as failed with its traceback, and the app goes on without
it. ``PLUGINS_STRICT`` re-raises instead (used by tests).
"""

from __future__ import annotations

import logging
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Set
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from lms import hookspecs
from lms.camp import Camp

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "lms.plugins"


@dataclass
class PluginInfo:
    """What we know about one plugin, for ``lms camps list`` and the admin pages."""

    name: str
    module: str = ""
    distribution: str | None = None
    version: str | None = None
    status: str = "loaded"
    error: str | None = None
    traceback: str | None = None
    hooks: list[str] = field(default_factory=list)
    camps: list[str] = field(default_factory=list)
    # The folder of the plugin's package (its templates/, static/, translations/).
    package_dir: Path | None = None
    # The latest errors raised inside its hooks (a bounded log, oldest dropped).
    runtime_errors: deque[str] = field(default_factory=lambda: deque(maxlen=20))

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "hooks": self.hooks,
            "camps": self.camps,
            "runtime_errors": list(self.runtime_errors)[-5:],
        }


class PluginLoadError(Exception):
    """A plugin could not be loaded; the message says why."""


class PluginRegistry:
    """One per app: wraps a :class:`pluggy.PluginManager` and what each plugin brought."""

    def __init__(self, *, strict: bool = False, only: list[str] | None = None) -> None:
        self.strict = strict
        self.only = only
        self.pm = pluggy.PluginManager("lms")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.camps: dict[str, Camp] = {}
        self.camp_plugin: dict[str, str] = {}
        self.curricula: dict[str, Any] = {}
        self.blueprint_plugin: dict[str, str] = {}
        self._settings_forms: dict[str, type] | None = None
        # Set by the app: the camp slugs and the other plugins disabled right now (database
        # flags), and where to report an error a plugin raised at run time.
        self.disabled_camps: Callable[[], Set[str]] = frozenset
        self.disabled_plugins: Callable[[], Set[str]] = frozenset
        self.on_failure: Callable[[str, str], None] = lambda _name, _message: None

    # -- loading ---------------------------------------------------------------------

    def load_entry_points(self) -> None:
        """Load every plugin of the ``lms.plugins`` group (or those named in ``only``)."""
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if self.only is not None and ep.name not in self.only:
                continue
            info = PluginInfo(name=ep.name, module=ep.value)
            if ep.dist is not None:
                info.distribution = ep.dist.metadata["Name"]
                info.version = ep.dist.version
            self._load(info, ep.load)

    def register(self, name: str, module: ModuleType | object) -> PluginInfo:
        """Register an already imported plugin object (tests, embedding)."""
        info = PluginInfo(name=name, module=getattr(module, "__name__", repr(module)))
        self._load(info, lambda: module)
        return info

    def _load(self, info: PluginInfo, load: Callable[[], object]) -> None:
        if info.name in self.plugins:
            info.status, info.error = "failed", f"duplicate plugin name {info.name!r}"
            self.plugins[f"{info.name}#{id(info)}"] = info
            return
        self.plugins[info.name] = info
        try:
            plugin = load()
            self._register(info, plugin)
        except Exception as exc:
            info.status = "failed"
            info.error = f"{type(exc).__name__}: {exc}"
            info.traceback = traceback.format_exc()
            log.error("plugin %s failed to load: %s", info.name, info.error)
            if self.pm.has_plugin(info.name):
                self.pm.unregister(name=info.name)
            for slug in info.camps:
                self.camps.pop(slug, None)
                self.camp_plugin.pop(slug, None)
                self.curricula.pop(slug, None)
            info.camps = []
            if self.strict:
                raise

    def _register(self, info: PluginInfo, plugin: object) -> None:
        module_file = getattr(plugin, "__file__", None)
        if module_file:
            info.package_dir = Path(module_file).parent
        self.pm.register(plugin, name=info.name)
        callers = self.pm.get_hookcallers(plugin) or []
        unknown = [c.name for c in callers if not c.has_spec()]
        if unknown:
            raise PluginLoadError(f"unknown hook(s): {', '.join(sorted(unknown))}")
        info.hooks = sorted(c.name for c in callers)
        for impl in self.pm.hook.lms_register_camps.get_hookimpls():
            if impl.plugin_name == info.name:
                for camp in impl.function() or []:
                    self._add_camp(info, camp)
        if not info.camps and info.package_dir is not None:
            check_template_namespace(info.package_dir, info.name, namespace="plugins")

    def _add_camp(self, info: PluginInfo, camp: object) -> None:
        from lms.services.curriculum import load_curriculum

        if not isinstance(camp, Camp):
            raise PluginLoadError(f"lms_register_camps returned {camp!r}, not a Camp")
        if camp.slug in self.camps:
            owner = self.camp_plugin[camp.slug]
            raise PluginLoadError(f"camp {camp.slug!r} is already provided by {owner!r}")
        if camp.package_dir is not None:
            check_template_namespace(camp.package_dir, camp.slug)
        curriculum = load_curriculum(camp.curriculum, camp.slug) if camp.curriculum else None
        self.camps[camp.slug] = camp
        self.camp_plugin[camp.slug] = info.name
        self.curricula[camp.slug] = curriculum
        info.camps.append(camp.slug)

    # -- calling ---------------------------------------------------------------------

    def is_active(self, plugin_name: str) -> bool:
        """A loaded plugin is active unless an organizer disabled it, or all of its camps."""
        info = self.plugins.get(plugin_name)
        if info is None or info.status != "loaded":
            return False
        if not info.camps:
            return plugin_name not in self.disabled_plugins()
        disabled = self.disabled_camps()
        return any(slug not in disabled for slug in info.camps)

    def _impls(self, hook_name: str) -> Iterable[pluggy.HookImpl]:
        hook = getattr(self.pm.hook, hook_name)
        # pluggy calls the last registered first, honouring tryfirst/trylast.
        for impl in reversed(hook.get_hookimpls()):
            if self.is_active(impl.plugin_name):
                yield impl

    def record_failure(self, plugin_name: str, message: str) -> None:
        """Log and note a plugin's error at run time (shown by ``lms camps list``)."""
        log.error("plugin %s: %s", plugin_name, message)
        self._note(plugin_name, message)
        self.on_failure(plugin_name, message)
        if self.strict:
            raise PluginLoadError(f"{plugin_name}: {message}")

    def _note(self, plugin_name: str, message: str) -> None:
        info = self.plugins.get(plugin_name)
        if info is not None:
            info.runtime_errors.append(message)

    def _call(self, impl: pluggy.HookImpl, kwargs: dict[str, Any]) -> tuple[bool, Any]:
        try:
            return True, impl.function(*(kwargs[name] for name in impl.argnames))
        except Exception as exc:
            if self.strict:
                raise
            log.exception("plugin %s failed in %s", impl.plugin_name, impl.function.__name__)
            message = f"{impl.function.__name__}: {type(exc).__name__}: {exc}"
            self._note(impl.plugin_name, message)
            self.on_failure(impl.plugin_name, message)
            return False, None

    def call_first(self, hook_name: str, **kwargs: Any) -> Any:
        """Call a first-result hook; the first non-``None`` answer of an active plugin wins."""
        for impl in self._impls(hook_name):
            ok, result = self._call(impl, kwargs)
            if ok and result is not None:
                return result
        return None

    def call_all(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call every active plugin's implementation; failures are logged and skipped."""
        results = []
        for impl in self._impls(hook_name):
            ok, result = self._call(impl, kwargs)
            if ok and result is not None:
                results.append(result)
        return results

    def call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Like :meth:`call_all`, with the name of the plugin that gave each result."""
        results = []
        for impl in self._impls(hook_name):
            ok, result = self._call(impl, kwargs)
            if ok and result is not None:
                results.append((impl.plugin_name, result))
        return results

    def collect(self, hook_name: str) -> list[tuple[str, Any]]:
        """At start-up: every loaded plugin's list result, flattened, with the plugin's name."""
        found = []
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            ok, result = self._call(impl, {})
            for item in (result or []) if ok else []:
                found.append((impl.plugin_name, item))
        return found

    # -- what plugins ship -----------------------------------------------------------

    def settings_forms(self) -> dict[str, type]:
        """Each loaded plugin's settings form class (``lms_plugin_settings``), by plugin."""
        if self._settings_forms is None:
            import wtforms

            forms = {}
            for impl in self.pm.hook.lms_plugin_settings.get_hookimpls():
                ok, result = self._call(impl, {})
                if not ok or result is None:
                    continue
                if isinstance(result, type) and issubclass(result, wtforms.Form):
                    forms[impl.plugin_name] = result
                else:
                    self.record_failure(
                        impl.plugin_name, f"lms_plugin_settings returned {result!r}, not a Form"
                    )
            self._settings_forms = forms
        return self._settings_forms

    def migration_folders(self) -> list[Path]:
        """Alembic versions folders of the loaded plugins' own tables."""
        return [Path(folder) for _name, folder in self.collect("lms_migrations")]

    def template_folders(self) -> list[Path]:
        """Camps' template folders, then those of loaded plugins that are not camps."""
        folders = [camp.package_dir for camp in self.camps.values()]
        folders += [info.package_dir for info in self._plugins_without_camps()]
        return [
            folder / "templates"
            for folder in folders
            if folder is not None and (folder / "templates").is_dir()
        ]

    def _plugins_without_camps(self) -> list[PluginInfo]:
        return [
            info
            for info in self.plugins.values()
            if info.status == "loaded" and not info.camps and info.package_dir is not None
        ]

    def plugin_static_folder(self, name: str) -> Path | None:
        """The ``static/`` folder of a loaded plugin that is not a camp (camps have theirs)."""
        info = self.plugins.get(name)
        if info is None or info not in self._plugins_without_camps():
            return None
        folder = info.package_dir / "static"
        return folder if folder.is_dir() else None

    def translation_folders(self) -> list[Path]:
        """The translations of every loaded plugin: camps' and other plugins' packages."""
        folders = {camp.package_dir for camp in self.camps.values()} | {
            info.package_dir for info in self.plugins.values() if info.status == "loaded"
        }
        return sorted(
            folder / "translations"
            for folder in folders
            if folder is not None and (folder / "translations").is_dir()
        )

    def static_folder(self, slug: str) -> Path | None:
        camp = self.camps.get(slug)
        if camp is None or camp.package_dir is None:
            return None
        folder = camp.package_dir / "static"
        return folder if folder.is_dir() else None


def check_template_namespace(package_dir: Path, name: str, namespace: str = "camps") -> None:
    """A plugin's templates live under ``templates/<namespace>/<name>/`` so plugins never
    collide: ``camps/<slug>`` for a camp, ``plugins/<plugin name>`` for other plugins."""
    root = package_dir / "templates"
    if not root.is_dir():
        return
    allowed = root / namespace / name
    for path in root.rglob("*"):
        if path.is_file() and allowed not in path.parents:
            relative = path.relative_to(root)
            raise PluginLoadError(f"template {relative} is outside templates/{namespace}/{name}/")
