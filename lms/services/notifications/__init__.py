"""Notifications: in the app (the header's bell and ``/notifications``) and by e-mail.

* :mod:`.kinds` — what each kind says and where it leads;
* :mod:`.preferences` — each user's choice per kind (in-app, e-mail, both, none);
* :mod:`.delivery` — idempotent delivery (one unique key per recipient, kind, object and
  occasion), run by the job queue after the triggering transaction commits;
* :mod:`.events` — the one-line calls services make where things happen, and their jobs;
* :mod:`.reminders` — scheduled tasks (``lms cron``): live-session reminders, assignments
  due soon and overdue;
* :mod:`.inbox` — listing and marking read.

See docs/notifications.md.
"""

from lms.services.notifications import reminders  # noqa: F401 - registers the cron tasks
from lms.services.notifications.events import (
    on_case_comment,
    on_certificate,
    on_promoted,
    on_session_cancelled,
    on_session_moved,
    on_topic_comment,
    on_video_processed,
)

__all__ = [
    "on_case_comment",
    "on_certificate",
    "on_promoted",
    "on_session_cancelled",
    "on_session_moved",
    "on_topic_comment",
    "on_video_processed",
]
