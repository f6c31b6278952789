"""Dashboard path fields: allowed roots only, regular files only, size caps; uploads checked by content."""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from gerec.errors import PathNotAllowed
from gerec_app import paths

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture()
def root(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "allowed"
    folder.mkdir()
    monkeypatch.setenv(paths.ROOTS_ENV, str(folder))
    return folder.resolve()


def test_files_inside_a_root_are_accepted(root):
    (root / "labels.json").write_text("{}")
    assert paths.confined_file(str(root / "labels.json"), "labels") == root / "labels.json"
    assert root in paths.allowed_roots()


@pytest.mark.parametrize("outside", ["/etc/hostname", "/dev/zero", "/proc/self/environ"])
def test_paths_outside_the_roots_are_refused(root, outside):
    with pytest.raises(PathNotAllowed, match="outside the folders|no such file"):
        paths.confined_file(outside, "table")


def refusal(call, *args) -> str:
    """The one plain line the page shows for a refused path."""
    from gerec_app.render import plain_error

    with pytest.raises(PathNotAllowed) as info:
        call(*args)
    return plain_error(info.value)


def test_each_refusal_gives_the_one_advice_that_fits(root, monkeypatch):
    """An outside path named allowed_roots twice (the message's advice, then the class's hint), and a
    missing file was told to move into an allowed folder: each refusal now says what fits it, once."""
    missing = refusal(paths.confined_file, str(root / "gone.csv"), "table")
    assert missing == f"{root / 'gone.csv'}: no such file. Check the path."
    assert refusal(paths.confined_dir, str(root / "gone")) == f"{root / 'gone'}: no such folder. Check the path."
    outside = refusal(paths.confined_file, "/etc/hostname", "table")
    assert outside.startswith("/etc/hostname: outside the folders the dashboard may read (") and str(root) in outside
    assert outside.endswith(f"). {paths.ADD_A_ROOT}.") and outside.count("allowed_roots") == 1
    assert "$GEREC_DASHBOARD_ROOTS" in outside and outside.count(paths.ROOTS_ENV) == 1
    os.mkfifo(root / "pipe.csv")
    assert refusal(paths.confined_file, str(root / "pipe.csv"), "table").endswith(
        ": not a regular file (folders, devices, pipes and sockets are not read). Give the path of a file."
    )
    (root / "labels.json").write_text("{}")
    assert refusal(paths.confined_dir, str(root / "labels.json")).endswith(": not a folder. Give the path of a folder.")
    monkeypatch.setitem(paths.LIMITS, "table", 10)
    (root / "big.csv").write_text("x" * 11)
    assert refusal(paths.confined_file, str(root / "big.csv"), "table").endswith(
        ": 0 MB, over the 0 MB limit for a table file. Give a smaller file."
    )


def test_fifo_and_folders_are_not_read(root):
    os.mkfifo(root / "pipe.csv")
    with pytest.raises(PathNotAllowed, match="not a regular file"):
        paths.confined_file(str(root / "pipe.csv"), "table")
    with pytest.raises(PathNotAllowed, match="not a regular file"):
        paths.confined_file(str(root), "table")


def test_links_out_of_a_root_are_refused(root, tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text("{}")
    (root / "link.json").symlink_to(secret)
    with pytest.raises(PathNotAllowed, match="outside"):
        paths.confined_file(str(root / "link.json"), "labels")
    with pytest.raises(PathNotAllowed, match="outside"):
        paths.confined_file(str(root / ".." / "secret.json"), "labels")


def test_size_caps(root, monkeypatch):
    monkeypatch.setitem(paths.LIMITS, "table", 10)
    (root / "big.csv").write_text("x" * 11)
    with pytest.raises(PathNotAllowed, match="over the 0 MB limit for a table file"):
        paths.confined_file(str(root / "big.csv"), "table")


def test_names_from_a_results_table_stay_in_their_folder(root, tmp_path):
    (root / "Positive").mkdir()
    (root / "Positive" / "a.jpg").write_bytes(b"x")
    (tmp_path / "outside.jpg").write_bytes(b"x")
    assert paths.child_file(root, "Positive/a.jpg") == root / "Positive" / "a.jpg"
    assert not paths.is_child_file(root / "Positive", "../../outside.jpg")
    assert not paths.is_child_file(root, "/etc/hostname")


def encode(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, fmt)
    return buf.getvalue()


def test_uploads_are_checked_by_content_within_a_budget():
    from gerec_app import state

    png = encode("PNG")
    items = [("a.jpg", b"<html>not a photo</html>"), ("b.txt", png), ("c.png", png), ("d.png", png), ("e.jpg", b"")]
    accepted, refused = paths.accept_uploads(items, budget=2 * len(png) + 1)
    assert [n for n, _ in accepted] == ["b.txt", "c.png", "e.jpg"]
    assert [(n, type(e).__name__) for n, e in refused] == [("a.jpg", "InvalidImage"), ("d.png", "ImageTooLarge")]
    assert "not a photo" in str(refused[0][1]) and "uploaded together exceed" in str(refused[1][1])
    # what can be uploaded, named once; it listed the library's formats too (gif, bmp, tiff), which the
    # uploader refuses
    assert state.error_text(refused[0][1], "a.jpg") == (
        "a.jpg: not a photo, whatever its name says. Check that it is a JPEG, PNG or WebP photo and upload it again."
    )
    assert ("e.jpg", b"") in accepted  # empty: the loader says so in its own words
    accepted, refused = paths.accept_uploads([("x.jpg", encode("PPM"))])
    assert not accepted and "not a photo" in str(refused[0][1])


def test_server_binds_to_this_machine_only():
    import tomllib

    config = tomllib.loads((Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"


def test_error_page_refuses_a_fifo_and_a_foreign_store_without_touching_them(root):
    from streamlit.testing.v1 import AppTest

    from gerec_app import PAGES

    os.mkfifo(root / "results.csv")
    other = root / "other_app.sqlite"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE users (name TEXT)")
    con.close()
    before = hashlib.sha256(other.read_bytes()).hexdigest()
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(PAGES["errors"]).run()
    at.radio(key="eval_source").set_value("csv").run()
    at.text_input(key="eval_path").set_value(str(root / "results.csv")).run()
    at.button(key="eval_open").click().run()
    assert [e.value for e in at.error] == [
        f"{root / 'results.csv'}: not a regular file (folders, devices, pipes and sockets are not read). "
        "Give the path of a file."
    ]  # it is inside the allowed folders: no advice on them
    at.text_input(key="eval_path").set_value(str(root / "gone.csv")).run()
    at.button(key="eval_open").click().run()
    assert [e.value for e in at.error] == [f"{root / 'gone.csv'}: no such file. Check the path."]
    at.text_input(key="eval_path").set_value("/etc/hostname").run()
    at.button(key="eval_open").click().run()
    [outside] = [e.value for e in at.error]
    assert outside.endswith(f"{paths.ADD_A_ROOT}.") and outside.count("allowed_roots") == 1
    at.radio(key="eval_source").set_value("store").run()
    at.text_input(key="store_path").set_value(str(other)).run()
    assert any("not a gerec run store" in e.value for e in at.error)
    assert hashlib.sha256(other.read_bytes()).hexdigest() == before
    assert not at.exception


def test_sidebar_labels_file_is_confined(root):
    from gerec_app import settings, state

    with pytest.raises(PathNotAllowed, match="outside"):
        state.labeler("cached", "/etc/hostname")
    (root / "labels.json").write_text('{"a.jpg": ["smile"]}')
    assert state.labeler("cached", str(root / "labels.json")).name == "cached"
    used, note = settings.usable_labels_file("/etc/hostname")  # the sidebar's path: never read, a visible note
    assert note is not None
    assert used is None and "not used" in note and "outside the folders" in note
    assert paths.ADD_A_ROOT in note and note.count("allowed_roots") == 1
    assert note.endswith("Photos are labelled by the next labelers in the chain.")
    used, note = settings.usable_labels_file(str(root / "gone.json"))  # missing: its own note, no folder advice
    assert note is not None
    assert used is None and note.startswith(f"Cached labels file not found: {root / 'gone.json'}.")
    assert "allowed_roots" not in note and paths.ROOTS_ENV not in note
    assert settings.usable_labels_file(str(root / "labels.json")) == (str(root / "labels.json"), None)


def test_photo_suffixes_are_those_of_the_decoded_formats(tmp_path, monkeypatch):
    from gerec.cli.common import find_images
    from gerec.config import SAMPLES_ENV
    from gerec.imaging import FORMATS, IMAGE_SUFFIXES
    from gerec_app import analyze_inputs, state

    by_suffix = Image.registered_extensions()
    assert {by_suffix[s] for s in IMAGE_SUFFIXES} == set(FORMATS)
    assert set(state.PHOTO_SUFFIXES) <= IMAGE_SUFFIXES
    offered = analyze_inputs.UPLOAD_TYPES
    assert offered == ["jpg", "jpeg", "png", "webp"]  # what the uploader offers, as before
    for name in ("a.gif", "b.TIF", "c.jpeg", "d.webp", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in find_images([tmp_path])] == ["a.gif", "b.TIF", "c.jpeg", "d.webp"]
    monkeypatch.setenv(SAMPLES_ENV, str(tmp_path))
    assert [p.name for p in state.sample_photos()] == ["c.jpeg", "d.webp"]


def test_the_upload_cap_is_the_librarys_photo_limit():
    """Streamlit's per-file upload cap (MB, in .streamlit/config.toml) and the library's photo limit are one fact."""
    import tomllib

    from gerec.imaging import MAX_FILE_BYTES

    config = Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml"
    cap_mb = tomllib.loads(config.read_text(encoding="utf-8"))["server"]["maxUploadSize"]
    assert cap_mb * paths.MB == MAX_FILE_BYTES == paths.LIMITS["photo"]
