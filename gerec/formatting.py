"""How a figure reads wherever gerec shows it: the CLI, the Markdown tables of the docs, the dashboard.

One rule for a fraction shown as a percentage (:func:`percent`, :func:`percent_spread`: two decimals
and a spaced ``%``), so the CLI, the docs and every page print the same figure the same way.

A missing value has two spellings, one per medium, and each writer uses the one of its medium:

- :data:`NO_VALUE_TEXT` (``-``) in plain text: the CLI's output and the files the library writes
  (Markdown tables for the docs). ASCII, so output piped to a tool that reads ASCII (``cut``,
  ``awk``, a CI log) reads it as one ordinary character.
- :data:`NO_VALUE_SCREEN` (``–``, an en dash) on the dashboard and in its HTML report. Not the
  hyphen: ``st.table`` renders each cell as Markdown, where a lone ``-`` is an empty list item,
  drawn as a bullet in a taller row (seen in headless chromium, Streamlit 1.67).
"""

from __future__ import annotations

import numbers

NO_VALUE_TEXT = "-"
"""A missing value in plain text: the CLI's output, Markdown tables written for the docs."""
NO_VALUE_SCREEN = "–"
"""A missing value on the dashboard and in its HTML report (a lone ``-`` would read as a list bullet there)."""

PERCENT_DECIMALS = 2
PERCENT_FORMAT = f"%.{PERCENT_DECIMALS}f %%"
"""A fraction's percentage as a printf format (``69.37 %``): :func:`percent`'s text, and the format
of a dashboard column that keeps percentages as numbers (``st.column_config.NumberColumn``)."""


def _fraction(value: object) -> float | None:
    """``value`` as a float, or None when it is not a number (None, text, a bool) or is NaN."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return None
    number = float(value)
    return None if number != number else number


def percent(value: object, missing: str = NO_VALUE_TEXT) -> str:
    """A fraction (an accuracy, a recall, an agreement rate) as a percentage with two decimals;
    ``missing`` when there is none (None, NaN, not a number). Pad the text to line up a column.

    Examples
    --------
    >>> percent(0.69374), percent(1), percent(None), percent(float("nan"))
    ('69.37 %', '100.00 %', '-', '-')
    >>> percent(None, NO_VALUE_SCREEN)
    '–'
    >>> f"[{percent(0.05):>8}] [{percent(None):>8}]"
    '[  5.00 %] [       -]'
    """
    number = _fraction(value)
    return missing if number is None else PERCENT_FORMAT % (100 * number)


def percent_spread(mean: object, spread: object, missing: str = NO_VALUE_TEXT) -> str:
    """A mean fraction and its spread (a standard deviation over folds) as percentages, the mean
    as :func:`percent` writes it; the mean alone when there is no spread, ``missing`` when there is
    no mean.

    Examples
    --------
    >>> percent_spread(0.69374, 0.0125), percent_spread(0.69374, None), percent_spread(None, 0.01)
    ('69.37 ± 1.25 %', '69.37 %', '-')
    """
    centre, sd = _fraction(mean), _fraction(spread)
    if centre is None:
        return missing
    if sd is None:
        return percent(centre)
    return f"{100 * centre:.{PERCENT_DECIMALS}f} ± {PERCENT_FORMAT % (100 * sd)}"


def sentence(clause: str) -> str:
    """A lower-case clause (as the CLI prints a warning after ``warning:``) as a sentence on its own.

    >>> sentence("in-sample: the tuned network was tuned on val.json")
    'In-sample: the tuned network was tuned on val.json.'
    """
    return clause[:1].upper() + clause[1:].rstrip(".") + "."


def counted(n: int, noun: str) -> str:
    """A count and its noun, the noun plural unless the count is one.

    >>> counted(1, "image"), counted(0, "image"), counted(3, "face")
    ('1 image', '0 images', '3 faces')
    """
    return f"{n} {noun}{'' if n == 1 else 's'}"
