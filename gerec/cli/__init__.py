"""The command line: ``python -m gerec <command> ...``. Each command lives in its own module."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence

from gerec.errors import GerecError
from gerec.stopping import exit_code, stop_name

# Each module defines ``register(subparsers)`` that adds its parser with ``func=run``.
COMMAND_MODULES = [
    "fit_bn",
    "classify",
    "evaluate",
    "evaluate_faces",
    "explain_faces",
    "tune",
    "runs",
    "train_faces",
    "cut_faces",
    "fit_ensemble",
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command registered."""
    parser = argparse.ArgumentParser(prog="python -m gerec", description="Group emotion recognition.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"gerec.cli.{name}").register(sub)
    return parser


def command_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The innermost parser of the command (and verb) ``args`` chose."""
    current = parser
    for dest in ("command", "verb"):
        subs = [a for a in current._actions if isinstance(a, argparse._SubParsersAction) and a.dest == dest]
        name = getattr(args, dest, None)
        if not subs or name not in subs[0].choices:
            break
        current = subs[0].choices[name]
    return current


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; a gerec error prints one line (no traceback) and exits with 2, a stop signal
    with 128 + the signal (130 Ctrl-C, 143 SIGTERM: ``gerec.stopping.exit_code``); output piped to a
    reader that stops early (``| head``) ends quietly with 141, as a Unix tool killed by SIGPIPE.

    ``python -m gerec classify`` on a sample photo (``$GEREC_SAMPLES``; its labels from the folder's
    ``labels.json``), then a photo that does not exist (a usage error, before any photo is analysed):

    >>> from gerec.config import samples_dir
    >>> main(["classify", str(samples_dir() / "image_happy_1.jpg")])  # doctest: +ELLIPSIS
    image_happy_1.jpg  faces=3  bottom_up=Positive (...)  top_down=Positive (...)  fused=Positive (...)  labels=...
    0
    >>> main(["classify", "no-such-photo.jpg"])
    2
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # a wrong flag shows the usage of the command it was given to, not the top-level one
        command_parser(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # inside the try: a reader gone shows here, not at the interpreter's exit
        return code
    except BrokenPipeError:
        return reader_gone()
    except GerecError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or a signal a command handles (Interrupted)
        print(f"interrupted by {stop_name(exc)}", file=sys.stderr)
        return exit_code(exc)
    except Exception as exc:  # last resort: one line, the traceback only on request
        if os.environ.get("GEREC_DEBUG"):
            raise
        print(f"error: unexpected {type(exc).__name__}: {exc} (set GEREC_DEBUG=1 for details)", file=sys.stderr)
        return 3


def reader_gone() -> int:
    """The reader of standard output closed it (``gerec runs list | head -1``): nothing more can be
    written, and nothing is wrong. Standard output points at /dev/null from here, so the flush at
    exit cannot fail again (the recipe of Python's ``signal`` docs), and the code is 128 + SIGPIPE."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + signal.SIGPIPE
