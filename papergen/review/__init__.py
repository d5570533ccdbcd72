"""Settling what grading flagged: the review web page and the offline review workbook."""
