"""Settling what grading flagged: the review web page and the offline review workbook.

The page (``papergen review``) is a local web application (``app``, on
Flask) over a ``desk`` that hands out the open items of
``grade.settle.review_queue`` and records each decision as an override
(``grade.settle.decide``); ``serve`` starts it on a free port with a per-run
token. The page itself (``templates/review.html``, ``static/``) is
keyboard-first: A–H, 0, Enter, ← →, L, Z, Q. ``offline`` writes and reads
the review workbook (``--export`` / ``--apply``).
"""
