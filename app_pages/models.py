"""Models: the model card (ensemble members, scene networks, labeler, model file versions)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from gerec.bn import MODES, network_path
from gerec.classes import CLASSES
from gerec.errors import GerecError
from gerec_app import calibration_view, ensemble_tables, plots, settings, state

st.title("Models")
s = settings.current()

# ---------------------------------------------------------------- ensemble
st.header("Face ensemble (bottom-up)")
try:
    from gerec.emotion.registry import REGISTRY_FILE, read_registry
    from gerec.fileio import read_model_json

    spec = read_registry()
except GerecError as exc:
    st.error(state.error_text(exc))
    spec = None
if spec is not None:
    st.markdown(
        f"**Members in use** ({len(spec.members)}; the ensemble is the weighted mean of their probabilities, each "
        "member's first tempered by its temperature, fitted on the validation split so that its 3-class "
        "probabilities mean what they say)"
    )
    # a static table wraps long cells instead of cutting them
    st.table(ensemble_tables.members_frame(spec).set_index("member"))
    st.caption(
        "*Saliency sanity*: on seeded validation faces, how many of the member's saliency maps changed when its "
        "class head was replaced by random weights (a map that stays the same does not show what the member "
        "reads; docs/explanations.md)."
    )
    mappings = {m.name: ensemble_tables.mapping_text(m.mapping) for m in spec.members}
    if len(set(mappings.values())) == 1:
        st.caption(f"FER-2013 classes to group classes, every member: {next(iter(mappings.values()))}.")
    else:
        st.caption("FER-2013 classes to group classes: " + "; ".join(f"{k}: {v}" for k, v in mappings.items()) + ".")
    with st.expander("How each member was made"):
        st.markdown("\n".join(f"- **{m.name}**: {m.source}" for m in spec.members))
    st.markdown(
        "**Accuracy on FER-2013 faces** (3-class leaves surprise out). Members, test-time views "
        f"({ensemble_tables.tta_modes_text()}; the note under the table names those the fit offered) and weights "
        "are chosen on the validation split carved from "
        "`train.npz` (how, in the note under the table); `test.npz` is "
        'measured once, afterwards, report only ("not measured" until then). The ensemble\'s 7-class figure '
        "uses its 7-class members. A member trained on the validation faces (in-sample) is measured "
        "but never weighted there."
    )
    registry = read_model_json(spec.directory / REGISTRY_FILE, "ensemble registry")  # disabled members too
    table = ensemble_tables.ensemble_accuracy_table(registry["members"], registry.get("metrics", {}))
    used, unused = ensemble_tables.shown_in_use(*ensemble_tables.split_in_use(table))
    st.table(used.set_index("member"))
    if note := ensemble_tables.weighting_note(registry.get("metrics", {})):
        st.caption(note)
    with st.expander(f"{len(unused)} {'member' if len(unused) == 1 else 'members'} trained but not in use"):
        st.table(unused.set_index("member"))
    if spec.face_confusion is not None:
        info = spec.metadata.get("face_confusion", {})
        left, right = st.columns([2, 3])
        left.plotly_chart(
            plots.confusion_figure(spec.face_confusion.astype(int), "face confusion (ensemble)"), key="face_confusion"
        )
        right.markdown(
            "**Face-level confusion** (the CNN node's table in fused mode): "
            + ensemble_tables.face_confusion_text(info)
        )
        with right.expander("Raw JSON of the face confusion"):
            st.json({k: v for k, v in info.items() if k != "matrix"})

# ---------------------------------------------------------------- networks
st.header("Scene networks (top-down)")
for mode in sorted(MODES, key=lambda m: m != s.mode):  # the one in use first
    try:
        net = state.network(mode)
    except GerecError as exc:
        st.error(f"{mode}: {state.error_text(exc)}")
        continue
    st.subheader(f"{mode}{' (in use)' if mode == s.mode else ''}: {network_path(mode).name}")
    cols = st.columns(4)
    cols[0].metric("labels", len(net.labels))
    cols[1].metric("absent labels as evidence", int(net.absent_mask.sum()))
    cols[2].metric("label weight", f"{net.label_weight:g}")
    cols[3].metric("CNN weight" + (", soft" if net.soft_cnn else ""), f"{net.cnn_weight:g}")
    st.markdown("Prior: " + ", ".join(f"{c} {p:.3f}" for c, p in zip(CLASSES, net.prior)))
    table = "; ".join(f"{c}: " + " / ".join(f"{v:.2f}" for v in row) for c, row in zip(CLASSES, net.cnn_table))
    st.markdown(f"CNN table (rows actual, columns CNN class): {table}")
    bins = calibration_view.cv_bins(net)
    if bins:
        st.markdown("**Calibration on held-out folds** (nested cross-validation on the GAF dev labels)")
        left, right = st.columns([3, 2])
        left.plotly_chart(plots.reliability_figure(bins), key=f"cv_reliability_{mode}")
        temps = net.metadata["calibration"].get("temperatures", {})
        right.caption(
            f"Held-out tenths of confidence against how often the network was right (the tuned, "
            f"calibrated network; marker size: images). Temperatures fitted by log-loss: top-down "
            f"x {temps.get('topdown')}, CNN weight {temps.get('cnn_weight')}; folded into the "
            "network's CPDs. ECE is the average gap (15 bins), pooled over folds and per fold."
        )
        st.dataframe(calibration_view.cv_table(net), hide_index=True)
    with st.expander(f"How the {mode} network was fitted (raw JSON metadata)"):
        st.json(net.metadata, expanded=1)

# ---------------------------------------------------------------- labeler
st.header("Scene labeler")
try:
    chain = state.labeler(s.chain, s.labels_file)
    st.markdown(
        f"Chain in use: **{chain.name}** (setting `{s.chain}`: {settings.chains().get(s.chain, 'not offered')})"
    )
    for lab in chain.labelers:
        config = {
            k: (str(v) if not isinstance(v, int | float | bool | str) else v)
            for k, v in vars(lab).items()
            if not k.startswith("_") and k not in ("class_names",)
        }
        with st.expander(f"{lab.name} ({type(lab).__name__}): configuration as JSON"):
            st.json(config)
except (GerecError, ValueError) as exc:
    st.error(state.error_text(exc))

# ---------------------------------------------------------------- versions
st.header("Model files")
files = state.model_files()
if files:
    st.dataframe(pd.DataFrame(files), hide_index=True)
else:
    st.warning("No model files found (models/ is empty or missing).")
