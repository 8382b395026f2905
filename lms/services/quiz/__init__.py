"""Assessments: question banks, quizzes, attempts, grading, GIFT and item analysis.

* :mod:`~lms.services.quiz.grading` — pure functions: one question's answer to a fraction.
* :mod:`~lms.services.quiz.bank` — a course's question bank and its quizzes' settings.
* :mod:`~lms.services.quiz.attempts` — starting, saving, submitting and reviewing attempts.
* :mod:`~lms.services.quiz.gift` — Moodle's GIFT format, read and written.
* :mod:`~lms.services.quiz.item_analysis` — per-quiz reports and per-question statistics.
* :mod:`~lms.services.quiz.policy` — what camps decide (the pass mark).
* :mod:`~lms.services.quiz.editor` — the question editor's plain-text fields.
* :mod:`~lms.services.quiz.curriculum` — quizzes shipped in a camp's ``curriculum.yaml``.
* :mod:`~lms.services.quiz.records` — quiz results in the learner's training archive.

See docs/assessments.md.
"""
