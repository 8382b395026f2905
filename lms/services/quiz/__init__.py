"""Assessments: question banks, quizzes, attempts, grading, GIFT, item analysis, surveys.

* :mod:`~lms.services.quiz.grading` — pure functions: one question's answer to a fraction.
* :mod:`~lms.services.quiz.bank` — a course's question bank and its quizzes' settings.
* :mod:`~lms.services.quiz.attempts` — starting, saving, submitting and reviewing attempts.
* :mod:`~lms.services.quiz.gift` — Moodle's GIFT format, read and written.
* :mod:`~lms.services.quiz.item_analysis` — per-quiz reports and per-question statistics.
* :mod:`~lms.services.quiz.policy` — what camps decide (the pass mark).

See docs/assessments.md.
"""
