"""AppTest interactions with real models on real photos (skip without the shared data)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gerec_app import PAGES
from gerec_app.handoff import ANALYZE_PATH, PHOTO_EVIDENCE

APP = str(Path(__file__).resolve().parent.parent / "app.py")
pytestmark = pytest.mark.slow


def new_app(**state):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=600)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def metrics(at) -> dict[str, str]:
    """Each metric's value and the smaller line under it: ``Negative · probability 0.54``."""
    return {m.label: answer(m) for m in at.metric}


def answer(metric) -> str:
    """A metric's value, with its detail line when it has one (a module's probability: the value is
    the class alone, so it is read whole in a narrow column)."""
    return f"{metric.value} · {metric.delta}" if metric.delta else metric.value


def test_sample_pick_faces_predictions_saliency_and_label_edit(photos_dir):
    at = new_app()
    at.selectbox(key="sample").set_value("image_happy_1.jpg").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    frame = next(d for d in at.dataframe if "class" in d.value.columns and "face" in d.value.columns)
    faces = frame.value
    assert len(faces) >= 2
    shown = json.loads(frame.proto.columns)  # the column config the browser gets: 2 decimals, not 0.623 by 0.57
    assert all(shown[c]["type_config"] == {"type": "number", "format": "%.2f"} for c in ("Pos", "Neu", "Neg"))
    assert faces[["Pos", "Neu", "Neg"]].sum(axis=1).round(6).eq(1).all()
    found = metrics(at)
    assert found["Bottom-up (faces)"].startswith(("Positive", "Neutral", "Negative"))
    assert {"Top-down (scene)", "Fused"} <= set(found)
    # the photo, the aligned crop and the ensemble's map of the verdict; members' maps on demand
    from gerec.emotion.registry import read_registry

    assert len(at.get("image")) == 3
    inspected = next(w for w in at.selectbox if w.key.startswith("face_")).value
    verdict = faces["class"].iloc[inspected]
    assert any(c.value.startswith(f"Red pushes towards {verdict}, blue away") for c in at.caption)
    how = next(e for e in at.expander if e.label == "How the map is made")  # under the maps, folded
    assert any("two of each member's test-time views" in c.value and "Method: " in c.value for c in how.caption)
    at.toggle(key="members_on").set_value(True).run()
    assert len(at.get("image")) == 3 + len(read_registry().members)
    # the plain-words why opens the verdict, naming the fused class
    why = next(m.value for m in at.markdown if m.value.startswith("**Why:**"))
    assert f"fused {found['Fused'].split(' · ')[0]}" in why or "agree" in why
    assert any("softmax of all rows added up is the fused posterior" in c.value for c in at.caption)
    # the cached Cloud Vision labels of this sample were used
    assert any("cached" in m.value for m in at.markdown)
    before = found["Top-down (scene)"]
    # the labels and their editor sit under the photo, beside the (taller) face inspector
    labels_col = next(c for c in at.columns if any(w.key.startswith("edit_labels_") for w in c.multiselect))
    assert len(labels_col.get("image")) == 1 and not any(w.key.startswith("face_") for w in labels_col.selectbox)
    edit = next(w for w in at.multiselect if w.key.startswith("edit_labels_"))
    edit.set_value(["police", "police officer", "rebellion", "news"]).run()
    assert not at.exception
    after = metrics(at)
    changed = next(k for k in after if k.startswith("Top-down"))
    assert "edited" in changed and after[changed] != before and after[changed].startswith("Negative")
    assert at.session_state[PHOTO_EVIDENCE].labels == ("police", "police officer", "rebellion", "news")
    # the scene page picks the edited photo up
    at.switch_page(PAGES["scene"]).run()
    assert not at.exception and at.metric[0].value.startswith("Negative")


def test_the_scene_network_page_starts_from_the_photos_fused_answer(photos_dir):
    """'Open in the scene network' shows the photo's fused answer, not the one a hard CNN class gives:
    image_negative_2.jpg's flat faces fuse to Neutral 0.36 on Analyze, and its bottom-up class
    (Positive) as hard evidence gave Positive 0.67 there. A class can still be picked as a what-if."""
    at = new_app(shap_on=False)
    at.selectbox(key="sample").set_value("image_negative_2.jpg").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    fused = metrics(at)["Fused"]
    at.switch_page(PAGES["scene"]).run()
    assert not at.exception
    assert at.metric[1].label == "Fused (as on Analyze)"
    assert answer(at.metric[1]) == fused and "probability" in fused
    assert "the faces" in at.metric[2].label
    picker = at.selectbox(key="what_if_cnn_photo_image_negative_2.jpg")
    picker.set_value("Positive").run()
    assert not at.exception
    assert at.metric[1].label == "With CNN evidence" and "CNN Positive" in at.metric[2].label
    assert answer(at.metric[1]) != fused


def test_uploads_corrupt_one_errors_others_compare(photos_dir):
    at = new_app(shap_on=False)
    good = [(name, (photos_dir / name).read_bytes(), "image/jpeg") for name in ("pos_1000.jpg", "image_sad_1.jpg")]
    at.file_uploader(key="uploads").set_value([("broken.jpg", b"\xff\xd8 not really a jpeg", "image/jpeg"), *good])
    at.run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("broken.jpg: ")
    # plain words, one line, the name once, what to do; no class names or library wording
    assert "InvalidImage" not in errors[0] and errors[0].count("broken.jpg") == 1 and "\n" not in errors[0]
    assert "upload it again" in errors[0] and "not processed" not in errors[0]
    table = next(d.value for d in at.dataframe if "photo" in d.value.columns)
    # it names what can be uploaded here, not every format the library decodes (it listed gif, bmp, tiff)
    assert "JPEG, PNG or WebP" in errors[0] and not any(f in errors[0].lower() for f in ("gif", "bmp", "tiff"))
    assert list(table["photo"]) == ["pos_1000.jpg", "image_sad_1.jpg"]
    assert {"Bottom-up", "Top-down", "Fused", "Fused P(Positive)"} <= set(table.columns)
    assert not any(c.startswith("p_") for c in table.columns)
    assert at.get("download_button")
    assert {"Top-down (scene)", "Fused"} <= set(metrics(at))


def test_photo_without_faces(photos_dir):
    arr = np.zeros((300, 400, 3), dtype=np.uint8)
    arr[:150] = (120, 170, 230)
    arr[150:] = (60, 140, 50)
    files = []
    for name, pixels in (("landscape.png", arr), ("flipped.png", arr[::-1])):
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format="PNG")
        files.append((name, buf.getvalue(), "image/png"))
    at = new_app()
    at.file_uploader(key="uploads").set_value(files).run()
    assert not at.exception and not at.error
    assert any("No face found" in w.value for w in at.warning)
    found = metrics(at)
    assert found["Bottom-up (faces)"] == "absent · no face"  # NO_FACE on two lines, "absent (no face)"
    assert found["Top-down (scene)"].split(" · ")[0] == found["Fused"].split(" · ")[0]
    # the comparison says so too (it showed an empty cell), the verdict table likewise
    table = next(d.value for d in at.dataframe if "photo" in d.value.columns)
    assert list(table["Bottom-up"]) == ["absent (no face)"] * 2
    verdicts = next(t.value for t in at.table if "class" in t.value.columns)  # static: the cell is not cut
    assert list(verdicts.iloc[0]) == ["absent (no face)", "–", "–", "–"]  # was None, None, None
    # no face inspector beside the photo: the labels' editor takes the page's width, in no column
    assert not any(any(w.key.startswith("edit_labels_") for w in c.multiselect) for c in at.columns)
    assert any(w.key.startswith("edit_labels_") for w in at.multiselect)


def test_one_face_is_said_in_the_singular(photos_dir):
    """A one-face photo (image_happy_1.jpg cut round its third face) said '1 faces' twice."""
    buf = io.BytesIO()
    Image.open(photos_dir / "image_happy_1.jpg").crop((560, 150, 860, 500)).save(buf, format="JPEG", quality=92)
    at = new_app(shap_on=False)
    at.file_uploader(key="uploads").set_value(("one_face.jpg", buf.getvalue(), "image/jpeg")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    photo = at.get("image")[0].proto.imgs[0].caption
    assert photo.startswith("one_face.jpg: 300×350 px, 1 face. Box colours: green Positive"), photo
    assert any(m.value == "**1 face** (ensemble and each member)" for m in at.markdown)
    assert not any("1 faces" in m.value for m in at.markdown)


def test_the_reasons_expander_names_only_the_terms_it_shows(photos_dir):
    """It read '(prior, labels, faces)' though the shipped networks' prior is uniform and has no row."""
    at = new_app(shap_on=False)
    at.selectbox(key="sample").set_value("image_happy_1.jpg").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [e.label for e in at.expander if e.label.startswith("How each term")] == [
        "How each term moves the verdict (labels, faces)"
    ]


def test_largest_face_first_typed_variants_and_missing_labels_file(photos_dir, tmp_path):
    from gerec_app.settings import default_labels_file

    at = new_app(shap_on=False, labels_file=str(tmp_path / "labelz.json"))
    at.selectbox(key="sample").set_value("test_1953.jpg").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    # a typo'd cached-labels path falls back to the other labelers, visibly
    assert any("Cached labels file not found" in w.value for w in at.warning)
    assert next(m.value for m in at.markdown if m.value.startswith("Labeler:")).startswith("Labeler: **offline**")
    # the face shown first is the largest, not face 1
    faces_element = next(d for d in at.dataframe if "box" in d.value.columns)
    faces = faces_element.value
    assert "detector" in faces.columns and "confidence" not in faces.columns  # MTCNN's, not the class's
    config = json.loads(faces_element.proto.columns)
    pinned = sorted(name for name, spec in config.items() if spec.get("pinned"))
    assert pinned == ["class", "face"], config  # which face stays in view when a narrow window scrolls
    assert "pixels" in config["box"]["help"]
    areas = [int(b.split(", ")[2]) * int(b.split(", ")[3]) for b in faces["box"]]
    picker = next(w for w in at.selectbox if w.key.startswith("face_"))
    assert picker.value == areas.index(max(areas)) != 0
    # typed labels: plural variants mapped, unknown words get the nearest known labels
    free = next(w for w in at.text_input if w.key.startswith("free_labels_"))
    free.set_value("weddings, weddding").run()
    captions = [c.value for c in at.caption]
    assert any("weddings → wedding" in c for c in captions)
    assert any("“weddding” is not a label the network knows; nearest known: wedding" in c for c in captions)
    assert "wedding" in at.session_state[PHOTO_EVIDENCE].labels
    # raw ImageNet guesses only inside the expander named for them
    assert not any("guillotine" in c for c in captions if not c.startswith("imagenet"))
    assert any("Raw ImageNet guesses" in e.label for e in at.expander)
    assert default_labels_file() is not None  # with the right path, the sample labels come first again


def test_the_report_is_built_with_its_progress_face_by_face(photos_dir, monkeypatch):
    """A report of 15 faces took ~18 s under the download button's spinner alone (Streamlit ignores
    calls made inside a download's deferred data): it is now built in the page run, its progress
    bar told of each face's saliency, then offered for download until the labels change."""
    import doctest

    from gerec_app import report, report_view

    made, real = [], report.photo_report

    def recorded(res, shown, s, progress=None):
        calls = []

        def tell(done, total):
            calls.append((done, total))
            progress(done, total)  # the page's bar

        html = real(res, shown, s, progress=tell)
        made.append((calls, html))
        return html

    monkeypatch.setattr(report, "photo_report", recorded)
    at = new_app(shap_on=False)
    at.selectbox(key="sample").set_value("image_happy_1.jpg").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert not made and not at.get("download_button")  # nothing is built before it is asked for
    build = next(b for b in at.button if b.label == "Build report (HTML)")
    build.click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    [(calls, html)] = made
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]  # before each face's saliency, then done
    assert html.count('class="face"') == 3 and "saliency" in html
    assert [b.proto.label for b in at.get("download_button")] == ["Download report (HTML)"]
    assert not any(b.label == "Build report (HTML)" for b in at.button)
    at.run()  # kept: not built again
    assert len(made) == 1 and [b.proto.label for b in at.get("download_button")] == ["Download report (HTML)"]
    edit = next(w for w in at.multiselect if w.key.startswith("edit_labels_"))
    edit.set_value(["police"]).run()  # other labels: the report must be built again
    assert not at.get("download_button") and any(b.label == "Build report (HTML)" for b in at.button)
    assert report_view.report_progress_text(2, 15) == "Report: saliency of face 3 of 15…"
    from gerec.errors import InvalidModelFile

    def broken(res, shown, s, progress=None):
        raise InvalidModelFile("ensemble.json: member 'x' has no weights")

    monkeypatch.setattr(report, "photo_report", broken)
    next(b for b in at.button if b.label == "Build report (HTML)").click().run()
    assert not at.exception and [e.value for e in at.error] == [
        "image_happy_1.jpg: ensemble.json: member 'x' has no weights. Rebuild the file with the command "
        "docs/models.md gives for it and restart."
    ]
    assert doctest.testmod(report_view).failed == 0


def test_uploads_and_picks_are_still_there_after_the_scene_network_page(photos_dir):
    """'Open in the scene network', then back to Analyze: Streamlit forgets the uploader's files and the
    pickers' values when another page runs, so the page came back empty (the photos to upload again).
    The photos come back, the photo inspected too, with a note and a button to forget them."""
    at = new_app(shap_on=False)
    names = ("pos_1000.jpg", "image_sad_1.jpg")
    at.file_uploader(key="uploads").set_value([(n, (photos_dir / n).read_bytes(), "image/jpeg") for n in names]).run()
    at.selectbox(key="inspect").set_value(1).run()
    fused = metrics(at)["Fused"]
    at.switch_page(PAGES["scene"]).run()
    assert answer(at.metric[1]) == fused
    at.switch_page(PAGES["analyze"]).run()
    assert not at.exception and not at.error
    table = next(d.value for d in at.dataframe if "photo" in d.value.columns)
    assert list(table["photo"]) == list(names)
    assert at.selectbox(key="inspect").value == 1 and metrics(at)["Fused"] == fused
    assert any(c.value.startswith("Still showing the 2 photos uploaded before") for c in at.caption)
    at.button(key="forget_uploads").click().run()
    assert not metrics(at) and not any("photo" in d.value.columns for d in at.dataframe)
    assert not any("Still showing" in c.value for c in at.caption)


def test_a_sample_picked_is_still_picked_after_another_page(photos_dir):
    at = new_app(shap_on=False)
    at.selectbox(key="sample").set_value("image_sad_1.jpg").run()
    fused = metrics(at)["Fused"]
    at.switch_page(PAGES["models"]).run()
    at.switch_page(PAGES["analyze"]).run()
    assert at.selectbox(key="sample").value == "image_sad_1.jpg" and metrics(at)["Fused"] == fused
    at.selectbox(key="sample").set_value("(none)").run()
    at.switch_page(PAGES["models"]).run()
    at.switch_page(PAGES["analyze"]).run()
    assert at.selectbox(key="sample").value == "(none)" and not metrics(at)


def test_a_sample_that_is_not_a_photo_names_the_dashboards_formats(photos_dir, tmp_path, monkeypatch):
    """A file in the sample folder that is not a photo got the library's line, naming the six formats
    it decodes (gif, bmp, tiff too), then 'Check that it is a JPEG, PNG or WebP photo and upload it
    again'. The folder lists only the dashboard's formats (a .gif there is not offered) and a sample is
    not uploaded: the line says so, as an upload's does, and names the folder."""
    (tmp_path / "notes.jpg").write_text("shopping list, not a photo")
    (tmp_path / "image_sad_1.jpg").write_bytes((photos_dir / "image_sad_1.jpg").read_bytes())
    monkeypatch.setenv("GEREC_SAMPLES", str(tmp_path))
    at = new_app(shap_on=False)
    at.selectbox(key="sample").set_value("notes.jpg").run()
    assert not at.exception and not metrics(at)
    assert [e.value for e in at.error] == [
        f"notes.jpg: not a photo, whatever its name says. Put a JPEG, PNG or WebP photo in its place in the "
        f"sample folder ({tmp_path})."
    ]
    at.selectbox(key="sample").set_value("image_sad_1.jpg").run()
    assert not at.exception and not at.error and "Fused" in metrics(at)


def test_a_damaged_sample_is_not_asked_to_be_uploaded_again(photos_dir, tmp_path, monkeypatch):
    """A sample that starts as a JPEG but is cut short passes the content check and fails when decoded:
    its line said 'Check that it is a JPEG, PNG or WebP photo and upload it again', but nobody
    uploaded it. It names the sample folder, as a sample that is not a photo does."""
    whole = (photos_dir / "image_sad_1.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(whole[: len(whole) // 3])
    monkeypatch.setenv("GEREC_SAMPLES", str(tmp_path))
    at = new_app(shap_on=False)
    at.selectbox(key="sample").set_value("cut.jpg").run()
    assert not at.exception and not metrics(at)
    (line,) = [e.value for e in at.error]
    assert line.startswith("cut.jpg: ") and "upload" not in line
    assert line.endswith(f"Put a JPEG, PNG or WebP photo in its place in the sample folder ({tmp_path}).")


def test_a_damaged_photo_opened_from_error_analysis_points_back_to_its_folder(photos_dir, tmp_path, monkeypatch):
    """A photo Error analysis asks Analyze to open, cut short: its line named an upload; it was not
    uploaded, so it points to the image folder given on Error analysis."""
    whole = (photos_dir / "image_sad_1.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(whole[: len(whole) // 3])
    monkeypatch.setenv("GEREC_DASHBOARD_ROOTS", str(tmp_path))
    at = new_app(shap_on=False, **{ANALYZE_PATH: str(tmp_path / "cut.jpg")})
    assert not at.exception and not metrics(at)
    (line,) = [e.value for e in at.error]
    assert line.startswith("cut.jpg: ") and "upload" not in line
    assert line.endswith("Check the image folder on Error analysis.")
