"""Explicit loading of relationships, for the objects a service already holds.

The relationships of the core models raise instead of loading silently
(``lazy="raise_on_sql"``, docs/architecture.md#loading): a query loads what its page reads
with ``selectinload``/``joinedload``/``contains_eager``. When the object is already at hand
(a lesson a hook is about to receive, a user the login built from a Core row), these helpers
load what the caller names: from the session's identity map when the row is there, else one
statement per relationship — never one per object of a list.

Hooks receive their objects with the paths of :data:`HOOK_PATHS` loaded
(:func:`for_hook`; docs/plugins.md lists them).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, inspect, select
from sqlalchemy.orm import Mapper, RelationshipDirection, RelationshipProperty, with_parent
from sqlalchemy.orm.attributes import set_committed_value

from lms.extensions import db
from lms.models import (
    Attendance,
    Course,
    Enrollment,
    Lesson,
    LessonProgress,
    QuizAttempt,
)

T = TypeVar("T")


def is_loaded(obj: object, name: str) -> bool:
    """Whether ``obj.<name>`` needs no loading here: loaded, never persisted, or detached (a
    kept object has what its readers follow, and nothing can be loaded on it)."""
    state = inspect(_unproxied(obj))
    return state.key is None or state.detached or name not in state.unloaded


def load(obj: T, name: str) -> Any:
    """``obj.<name>``, loaded if it was not: a many-to-one from the identity map or by its
    primary key, a collection by one SELECT in the relationship's order."""
    obj = _unproxied(obj)
    if is_loaded(obj, name):
        return getattr(obj, name)
    state = inspect(obj)
    prop: RelationshipProperty[Any] = state.mapper.relationships[name]
    target = prop.entity.class_
    value: Any
    if prop.direction is RelationshipDirection.MANYTOONE:
        ids = [getattr(obj, _attribute(state.mapper, column)) for column in prop.local_columns]
        value = None if None in ids else db.session.get(target, ids[0] if len(ids) == 1 else ids)
    else:
        query = select(target).where(with_parent(obj, getattr(type(obj), name)))
        if prop.order_by:
            query = query.order_by(*prop.order_by)
        value = list(db.session.scalars(query))
    set_committed_value(obj, name, value)
    return value


def set_loaded(obj: object, name: str, value: Any) -> None:
    """Set ``obj.<name>`` to what the caller loaded itself, as if the ORM had loaded it."""
    set_committed_value(obj, name, value)


def load_path(objects: object, *names: str) -> list[object]:
    """Load a chain of many-to-one relationships on one object or a list of them:
    ``load_path(lesson, "module", "course", "camp")`` makes ``lesson.module.course.camp``
    readable. Rows not in the identity map are read by one statement per step, whatever the
    number of objects. Returns the objects reached."""
    level = list(objects) if isinstance(objects, list | tuple) else [objects]
    reached: list[object] = []
    for name in names:
        level = [obj for obj in level if obj is not None]
        missing = [obj for obj in level if not is_loaded(obj, name)]
        if missing:
            _load_many_to_one(missing, name)
        level = list({id(value): value for obj in level if (value := getattr(obj, name))}.values())
        reached += level
    return reached


def _unproxied(obj: Any) -> Any:
    """The object behind Flask-Login's ``current_user`` (a proxy the ORM cannot inspect)."""
    unwrap = getattr(obj, "_get_current_object", None)
    return obj if unwrap is None else unwrap()


def _attribute(mapper: Mapper[Any], column: ColumnElement[Any]) -> str:
    """The attribute that maps ``column`` (a foreign key of the relationship)."""
    return mapper.get_property_by_column(column).key


def _load_many_to_one(objects: list[Any], name: str) -> None:
    prop: RelationshipProperty[Any] = inspect(objects[0]).mapper.relationships[name]
    if prop.direction is not RelationshipDirection.MANYTOONE or len(prop.local_columns) != 1:
        for obj in objects:
            load(obj, name)
        return
    (column,) = prop.local_columns
    local = _attribute(inspect(objects[0]).mapper, column)
    mapper = prop.mapper
    found: dict[Any, Any] = {}
    wanted = {getattr(obj, local) for obj in objects} - {None}
    for key in wanted:
        known = db.session.identity_map.get(mapper.identity_key_from_primary_key((key,)))
        if known is not None:
            found[key] = known
    if wanted - found.keys():
        (primary_key,) = mapper.primary_key
        query = select(mapper).where(primary_key.in_(wanted - found.keys()))
        found.update(
            {mapper.primary_key_from_instance(row)[0]: row for row in db.session.scalars(query)}
        )
    for obj in objects:
        set_committed_value(obj, name, found.get(getattr(obj, local)))


# What a hook's objects have loaded, by argument name: the paths the documented hook examples
# and the bundled plugins read (docs/plugins.md, "What hook arguments have loaded").
HOOK_PATHS: dict[type, tuple[tuple[str, ...], ...]] = {
    Course: (("camp",),),
    Lesson: (("module", "course", "camp"), ("media",)),
    Enrollment: (("course", "camp"), ("user",)),
    LessonProgress: (("lesson", "module", "course", "camp"),),
    QuizAttempt: (("quiz", "lesson", "module", "course", "camp"), ("user",)),
    Attendance: (("session", "course", "camp"), ("session", "camp"), ("user",)),
}


def for_hook(*objects: object) -> list[object]:
    """Load, on the objects about to be handed to a hook (of one class), the paths of
    :data:`HOOK_PATHS`; the objects along them. A caller that commits and reads the paths
    again holds that list: a commit expires the paths, and they then come back from the
    identity map (which keeps only the objects something holds) without a lazy load."""
    reached: list[object] = []
    # A kept object (detached: the process keeps it, with everything its readers follow) has
    # its paths already, and no commit expires them: nothing to load or hold.
    attached = [obj for obj in objects if not inspect(_unproxied(obj)).detached]
    if attached:
        for path in _paths_of(attached[0]):
            reached += load_path(attached, *path)
    return reached


def for_hook_arguments(arguments: dict[str, Any]) -> list[object]:
    """Prepare a hook call's arguments (the registry calls it before every hook): each ORM
    object gets the paths of :data:`HOOK_PATHS` loaded. Returns the objects along them, which
    the registry holds while the hook runs: a hook that commits (the xAPI outbox does) expires
    them, and reads them again from the identity map rather than by a lazy load."""
    held: list[object] = []
    for value in arguments.values():
        if _paths_of(value):
            held += [value, *for_hook(value)]
    return held


def _paths_of(obj: object) -> Iterable[tuple[str, ...]]:
    for cls in type(obj).__mro__:
        if cls in HOOK_PATHS:
            return HOOK_PATHS[cls]
    return ()
