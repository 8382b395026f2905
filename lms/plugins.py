"""The plugin manager: discovery, validation, failure isolation and safe hook calls.

Plugins are found through the ``lms.plugins`` entry-point group, the bundled camps
included. Each load is isolated: a plugin that fails to import, registers a hook
with a wrong signature, implements an unknown ``lms_`` hook or ships an invalid
curriculum is recorded as failed with its traceback, and the app goes on without
it. ``PLUGINS_STRICT`` re-raises instead (used by tests).

pluggy does the calling. Each implementation is registered inside a guard that records its
exception against its plugin and answers what the hook's spec says a failure answers (a camp
rule's strictest answer, else nothing); the registry only picks which plugins pluggy calls:
the active ones, and for a camp rule the one owning the camp.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
import site
import time
import traceback
from collections import deque
from collections.abc import Callable, Set
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

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
    # When it was loaded (time.time()): files changed later mean a reload is needed.
    loaded_at: float = field(default_factory=time.time)
    # The imported plugin (a module, usually); pluggy holds guarded copies of its hooks.
    plugin: object | None = None
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


@dataclass(frozen=True)
class Pending:
    """Installed code the running process has not loaded: a new entry point (``new``), a
    plugin installed in another version (``upgraded``) or whose files changed (``changed``)."""

    name: str
    reason: str
    distribution: str | None = None
    version: str | None = None


class UnknownPlugin(LookupError):
    """No plugin has this name. Plugins are named by their entry point, not a camp's slug."""

    def __init__(self, name: str, owner: str | None, known: list[str]) -> None:
        if owner is not None:
            message = f"{name!r} is a camp; its plugin is {owner!r}: name plugins by entry point"
        else:
            message = f"no plugin {name!r} (plugins, by entry-point name: {', '.join(known)})"
        super().__init__(message)
        self.name = name


class GuardedHooks:
    """The guarded hook implementations of one plugin, as registered with pluggy."""


class Answer(NamedTuple):
    """One plugin's answer to a hook that collects every result."""

    plugin: str
    value: Any


def is_camp_rule(hook_name: str) -> bool:
    """Is the hook a camp rule (:func:`lms.hookspecs.camp_rule`)?"""
    return hasattr(getattr(hookspecs, hook_name, None), hookspecs.CLOSED)


def camp_of(arguments: dict[str, Any]) -> str | None:
    """The slug of the camp a camp rule's ``course``, ``lesson`` or ``enrollment`` is in."""
    course = arguments.get("course")
    if course is None and arguments.get("enrollment") is not None:
        course = arguments["enrollment"].course
    if course is None and arguments.get("lesson") is not None:
        course = arguments["lesson"].module.course
    if course is None:
        raise TypeError("a camp rule is called with a course, a lesson or an enrollment")
    return course.camp.slug


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
        # Set by the app: loads, on the ORM objects a hook is handed, what hooks may read
        # (lms.services.loading.for_hook_arguments; docs/plugins.md); the objects it answers
        # are held while the hook runs, so a hook that commits reads them again from the
        # session's identity map.
        self.prepare_arguments: Callable[[dict[str, Any]], object] = lambda _arguments: None

    # -- loading ---------------------------------------------------------------------

    def load_entry_points(self) -> None:
        """Load every plugin of the ``lms.plugins`` group (or those named in ``only``)."""
        points = [
            ep
            for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
            if self.only is None or ep.name in self.only
        ]
        if not all(_importable(ep.module) for ep in points):
            _read_path_files()
        for ep in points:
            info = PluginInfo(name=ep.name, module=ep.value)
            if ep.dist is not None:
                info.distribution = ep.dist.metadata["Name"]
                info.version = ep.dist.version
            self._load(info, ep.load)

    def pending(self) -> list[Pending]:
        """What a reload would bring: the ``lms.plugins`` entry points as installed now (read
        again), compared with what this process loaded."""
        importlib.invalidate_caches()
        found = []
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if self.only is not None and ep.name not in self.only:
                continue
            distribution = ep.dist.metadata["Name"] if ep.dist is not None else None
            version = ep.dist.version if ep.dist is not None else None
            info = self.plugins.get(ep.name)
            if info is None:
                reason = "new"
            elif version != info.version:
                reason = "upgraded"
            elif _changed_since(ep.module, info.loaded_at):
                reason = "changed"
            else:
                continue
            found.append(Pending(ep.name, reason, distribution, version))
        return found

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
        info.plugin = plugin
        self.pm.register(self._guarded(info.name, plugin), name=info.name)
        callers = self.pm.get_hookcallers(self.pm.get_plugin(info.name)) or []
        unknown = [c.name for c in callers if not c.has_spec()]
        if unknown:
            raise PluginLoadError(f"unknown hook(s): {', '.join(sorted(unknown))}")
        info.hooks = sorted(c.name for c in callers)
        register_camps = getattr(plugin, "lms_register_camps", None)
        if "lms_register_camps" in info.hooks and register_camps is not None:
            for camp in register_camps() or []:
                self._add_camp(info, camp)
        rules = [name for name in info.hooks if is_camp_rule(name)]
        if rules and not info.camps:
            raise PluginLoadError(
                f"{', '.join(rules)}: camp rules are asked only of the plugin owning the camp, "
                "and this plugin provides no camp"
            )
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

    def _guarded(self, plugin_name: str, plugin: object) -> object:
        """What pluggy registers: the plugin's hook implementations, each wrapped in a guard
        that records an exception against the plugin (see :meth:`_guard`)."""
        guarded = GuardedHooks()
        for attribute in dir(plugin):
            options = self.pm.parse_hookimpl_opts(plugin, attribute)
            if options is None:
                continue
            if options.get("wrapper") or options.get("hookwrapper"):
                raise PluginLoadError(f"{attribute}: hook wrappers are not supported")
            hook_name = options.get("specname") or attribute
            setattr(
                guarded, attribute, self._guard(plugin_name, hook_name, getattr(plugin, attribute))
            )
        return guarded

    def _guard(self, plugin_name: str, hook_name: str, function: Callable[..., Any]) -> Callable:
        """``function`` as pluggy calls it: an exception is logged and recorded against the
        plugin and replaced by the hook's answer on failure (a camp rule's closed answer, else
        nothing); in strict mode it is raised. A result of a hook collecting every result comes
        back with the plugin's name (:class:`Answer`), so the core knows whose it is."""
        spec = getattr(hookspecs, hook_name, None)
        closed = getattr(spec, hookspecs.CLOSED, None)
        first_result = getattr(spec, "lms_spec", {}).get("firstresult", False)

        @functools.wraps(function)
        def guard(*args: Any, **kwargs: Any) -> Any:
            try:
                result = function(*args, **kwargs)
            except Exception as exc:
                if self.strict:
                    raise
                log.exception("plugin %s failed in %s", plugin_name, hook_name)
                self._failed(plugin_name, f"{hook_name}: {type(exc).__name__}: {exc}")
                return closed() if closed is not None else None
            if first_result or result is None:
                return result
            return Answer(plugin_name, result)

        return guard

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

    def _caller(self, hook_name: str, keep: Callable[[str], bool]) -> pluggy.HookCaller:
        """pluggy's caller of ``hook_name`` for the registered plugins ``keep`` accepts."""
        remove = [plugin for name, plugin in self.pm.list_name_plugin() if not keep(name)]
        return self.pm.subset_hook_caller(hook_name, remove)

    def record_failure(self, plugin_name: str, message: str) -> None:
        """Log and note a plugin's error at run time (shown by ``lms camps list``)."""
        log.error("plugin %s: %s", plugin_name, message)
        self._failed(plugin_name, message)
        if self.strict:
            raise PluginLoadError(f"{plugin_name}: {message}")

    def _failed(self, plugin_name: str, message: str) -> None:
        self.info(plugin_name).runtime_errors.append(message)
        self.on_failure(plugin_name, message)

    def info(self, name: str) -> PluginInfo:
        """The plugin named ``name`` (its entry-point name); :class:`UnknownPlugin` if none."""
        info = self.plugins.get(name)
        if info is None:
            raise UnknownPlugin(name, self.camp_plugin.get(name), sorted(self.plugins))
        return info

    def call_first(self, hook_name: str, **kwargs: Any) -> Any:
        """Call a first-result hook. A camp rule is asked only of the plugin owning the camp
        of the course, lesson or enrollment in ``kwargs`` (``None`` while that camp is
        disabled or its plugin is not loaded); other hooks of every active plugin."""
        _held = self.prepare_arguments(kwargs)
        if not is_camp_rule(hook_name):
            return self._caller(hook_name, self.is_active)(**kwargs)
        slug = camp_of(kwargs)
        owner = self.camp_plugin.get(slug) if slug is not None else None
        if owner is None or self.plugins[owner].status != "loaded":
            return None
        if slug in self.disabled_camps():
            return None
        return self._caller(hook_name, lambda name: name == owner)(**kwargs)

    def call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call every active plugin's implementation (pluggy's order); each non-``None``
        answer with the name of the plugin that gave it. Failures are recorded and left out."""
        _held = self.prepare_arguments(kwargs)
        answers = self._caller(hook_name, self.is_active)(**kwargs)
        return [(answer.plugin, answer.value) for answer in answers]

    def call_all(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Like :meth:`call_each`, the answers alone."""
        return [value for _plugin, value in self.call_each(hook_name, **kwargs)]

    def collect(self, hook_name: str) -> list[tuple[str, Any]]:
        """At start-up: every loaded plugin's list result, flattened, with the plugin's name."""
        answers = self._caller(hook_name, lambda _name: True)()
        return [(answer.plugin, item) for answer in answers for item in answer.value or []]

    # -- what plugins ship -----------------------------------------------------------

    def settings_forms(self) -> dict[str, type]:
        """Each loaded plugin's settings form class (``lms_plugin_settings``), by plugin."""
        if self._settings_forms is None:
            import wtforms

            forms = {}
            for answer in self._caller("lms_plugin_settings", lambda _name: True)():
                if isinstance(answer.value, type) and issubclass(answer.value, wtforms.Form):
                    forms[answer.plugin] = answer.value
                else:
                    self.record_failure(
                        answer.plugin, f"lms_plugin_settings returned {answer.value!r}, not a Form"
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
        if info is None or info.package_dir is None or info not in self._plugins_without_camps():
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


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module.split(".")[0]) is not None
    except (ImportError, ValueError):
        return False


def _read_path_files() -> None:
    """Read the ``.pth`` files of site-packages again: a package installed with
    ``pip install -e`` after this interpreter started (a gunicorn worker forked from an older
    master) is found through one."""
    for folder in site.getsitepackages():
        site.addsitedir(folder)
    importlib.invalidate_caches()


def _changed_since(module: str, moment: float) -> bool:
    """Has a Python file or template of the package holding ``module`` changed since then?"""
    try:
        spec = importlib.util.find_spec(module.split(".")[0])
    except (ImportError, ValueError):
        return False
    if spec is None or spec.origin is None:
        return False
    folder = Path(spec.origin).parent
    if spec.submodule_search_locations is None:  # a single-file module
        return Path(spec.origin).stat().st_mtime > moment
    folder = folder.joinpath(*module.split(".")[1:])  # plugins.startup_growth: its own folder
    files = [*folder.rglob("*.py"), *folder.rglob("*.html")]
    return any(path.stat().st_mtime > moment for path in files if path.is_file())


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
