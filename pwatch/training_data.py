"""Training and held-out evaluation data for the detector, and `ensure_model`.

The `nlp` package imports nothing of ours, so the fixture texts are turned into plain dicts here:
`text`, `title`, `lang`, `label`, `kind`, `substances`, `family`.

Held out from training (never trained on):
- whole template families: a stable ~25% of the families of every (kind, language), chosen by a
  hash of the family id, so the evaluation measures generalisation to unseen templates;
- `nlp/data/eval_handwritten.jsonl`, written independently of the templates;
- every other `nlp/data/eval_*.jsonl` and the development sets `nlp/data/dev_*.jsonl` (error
  analysis reads the development sets; nothing is trained on either).
The hand-written `nlp/data/seed_train.jsonl` is trained on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from pathlib import Path

from precursor_watch.errors import InputError

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
SEED_TRAIN = ROOT / "nlp" / "data" / "seed_train.jsonl"
EVAL_HANDWRITTEN = ROOT / "nlp" / "data" / "eval_handwritten.jsonl"
DATA_DIR = ROOT / "nlp" / "data"


def eval_files() -> list[Path]:
    """The held-out files under nlp/data, sorted: the development sets (`dev_*.jsonl`, read for
    error analysis) and the evaluation sets (`eval_*.jsonl`). Never trained on."""
    return sorted(DATA_DIR.glob("dev_*.jsonl")) + sorted(DATA_DIR.glob("eval_*.jsonl"))


LANGS = ("en", "zh", "es")
HOLDOUT_SHARE = 0.25
TRAIN_SIZE = 3000
CURRENCIES = {"en": ("USD", "EUR"), "zh": ("CNY", "USD"), "es": ("MXN", "USD")}


def is_held_out(family: str) -> bool:
    """Stable choice of held-out template families (same answer on every machine and run)."""
    digest = hashlib.sha256(f"holdout:{family}".encode()).digest()
    return digest[0] / 256 < HOLDOUT_SHARE


def _fake_contacts(rng: random.Random) -> list[str]:
    n = rng.randrange(1000)
    return [f"@fake_seller_{n}", f"+1-555-01{n % 100:02d}", f"nobody{n}@example.invalid"]


def fixture_examples(
    n: int, *, seed: int, held_out: bool, langs: tuple[str, ...] = LANGS, hostile_share: float = 0.1
) -> list[dict]:
    """`n` fixture listings from the training families (held_out=False) or the held-out ones."""
    from precursor_watch.fixtures.texts import compose, kind_weights

    rng = random.Random(f"pwatch-training:{seed}:{held_out}")
    out: list[dict] = []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > n * 50:
            raise RuntimeError(f"could not draw {n} {'held-out' if held_out else 'training'} fixture listings")
        lang = langs[len(out) % len(langs)]
        weights = kind_weights(lang)
        kind = rng.choices(list(weights), weights=list(weights.values()))[0]
        price = f"{rng.choice([9, 12, 25, 48, 85, 120, 260, 480, 950])}"
        lt = compose(
            rng,
            kind=kind,
            lang=lang,
            contacts=_fake_contacts(rng),
            price=price,
            currency=rng.choice(CURRENCIES[lang]),
            hostile=rng.random() < hostile_share,
        )
        if is_held_out(lt.family) != held_out:
            continue
        out.append(
            {
                "id": f"fx-{seed}-{'h' if held_out else 't'}-{len(out)}",
                "title": lt.title,
                "text": lt.text,
                "lang": lt.lang,
                "label": lt.label,
                "kind": lt.kind,
                "substances": list(lt.substances),
                "family": lt.family,
            }
        )
    return out


def read_labelled(path: Path) -> list[dict]:
    """A labelled JSONL file (`text`, `lang`, `label`, optional `title`, `kind`, `substances`)."""
    path = Path(path)
    from precursor_watch.jsonl import parse_line

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    out = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        rec = parse_line(line, f"{path}:{lineno}")
        if not isinstance(rec, dict):
            raise InputError(f"{path}:{lineno}: expected a JSON object")
        for key, typ in (("text", str), ("lang", str), ("label", int)):
            if not isinstance(rec.get(key), typ):
                raise InputError(f"{path}:{lineno}: field `{key}` missing or not a {typ.__name__}")
        if rec["label"] not in (0, 1):
            raise InputError(f"{path}:{lineno}: field `label` must be 0 or 1")
        if rec["lang"] not in LANGS:
            raise InputError(f"{path}:{lineno}: field `lang` must be one of {', '.join(LANGS)}")
        rec.setdefault("kind", "unknown")
        rec.setdefault("substances", [])
        out.append(rec)
    return out


REVIEW_WEIGHT = 5  # copies of each analyst decision: a few dozen decisions next to thousands of fixture texts
REVIEW_DECISIONS = {"confirmed": 1, "dismissed": 0}


def read_reviews(path: Path) -> list[dict]:
    """The decisions of `pwatch review export` as training examples (label 1 confirmed, 0
    dismissed; kind `reviewed`, so the label says offer or not). `lang` may be any tag or
    missing: normalised or guessed from the text. A bad line names the file, line and field."""
    from precursor_watch.jsonl import parse_line
    from precursor_watch.nlp.detector import resolve_lang

    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    out = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        rec = parse_line(line, where)
        if not isinstance(rec, dict):
            raise InputError(f"{where}: expected a JSON object")
        if not isinstance(rec.get("id"), str) or not rec["id"]:
            raise InputError(f"{where}: field `id` missing or not a string")
        if not isinstance(rec.get("text"), str):
            raise InputError(f"{where}: field `text` missing or not a string")
        if rec.get("title") is not None and not isinstance(rec["title"], str):
            raise InputError(f"{where}: field `title` must be a string or null")
        if rec.get("decision") not in REVIEW_DECISIONS:
            raise InputError(f"{where}: field `decision` must be confirmed or dismissed, got {rec.get('decision')!r}")
        if rec.get("label") != REVIEW_DECISIONS[rec["decision"]]:
            raise InputError(
                f"{where}: field `label` must be {REVIEW_DECISIONS[rec['decision']]} for a {rec['decision']} decision"
            )
        if rec.get("lang") is not None and not isinstance(rec["lang"], str):
            raise InputError(f"{where}: field `lang` must be a string or null")
        lang, _how = resolve_lang(rec.get("lang"), ((rec.get("title") or "") + " " + rec["text"])[:2000])
        out.append(
            {
                "id": rec["id"],
                "title": rec.get("title"),
                "text": rec["text"],
                "lang": lang,
                "label": rec["label"],
                "kind": "reviewed",
                "substances": list(rec.get("substances") or []),
                "decision": rec["decision"],
                "reviewer": rec.get("reviewer"),
                "decided_at": rec.get("decided_at"),
            }
        )
    return out


def review_manifest(path: Path, reviews: list[dict]) -> dict:
    """What a model trained with reviews records about them: the file, its hash and each decision."""
    path = Path(path)
    return {
        "file": str(path),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "count": len(reviews),
        "weight": REVIEW_WEIGHT,
        "decisions": [{k: r.get(k) for k in ("id", "decision", "reviewer", "decided_at")} for r in reviews],
    }


def training_examples(seed: int = 0, size: int = TRAIN_SIZE) -> list[dict]:
    """Fixture listings of the training families plus the hand-written seed set."""
    examples = fixture_examples(size, seed=seed, held_out=False)
    if SEED_TRAIN.is_file():
        examples += read_labelled(SEED_TRAIN)
    return examples


def heldout_examples(seed: int = 0, size: int = 1500) -> list[dict]:
    """Fixture listings of the held-out template families (a different random stream)."""
    return fixture_examples(size, seed=seed + 1000, held_out=True)


HELDOUT_PLATFORMS = ("boardlist", "mercado")


def world_examples(
    *,
    seed: int = 7,
    scale: int = 1000,
    days: int = 30,
    platforms: tuple[str, ...] = HELDOUT_PLATFORMS,
    held_out_families_only: bool = True,
) -> list[dict]:
    """Listings of the fixture world (its ground truth on the last day) from held-out platforms.

    The detector never trains on world listings; with `held_out_families_only` the templates are
    unseen too, so this measures platform and template generalisation at once.
    """
    import datetime as dt
    import tempfile

    from precursor_watch.fixtures.world import World, WorldConfig

    with tempfile.TemporaryDirectory(prefix="pwatch-eval-world-") as state:
        world = World(WorldConfig(seed=seed, start=dt.date(2026, 11, 1), days=days, scale=scale, state_dir=Path(state)))
        rows = list(world.truth(world.config.end))
    out = []
    for r in rows:
        if r["platform"] not in platforms or (held_out_families_only and not is_held_out(r["family"])):
            continue
        out.append(
            {
                "id": f"{r['platform']}:{r['listing_key']}",
                "title": r["title"],
                "text": r["text"],
                "lang": r["lang"],
                "label": r["label"],
                "kind": r["kind"],
                "substances": list(r["substances"]),
                "family": r["family"],
                "platform": r["platform"],
            }
        )
    return out


def ensure_model(settings, seed: int = 0) -> Path:
    """Train into `settings.model_path` unless a model built from the current config, lexicon and
    signal files is already there (a reviewed lexicon change retrains); returns the path."""
    from precursor_watch.nlp.detector import MANIFEST
    from precursor_watch.nlp.train import data_fingerprint, train

    path = settings.model_path
    manifest = path / MANIFEST
    if manifest.is_file():
        try:
            built_from = json.loads(manifest.read_text(encoding="utf-8")).get("data_sha256")
        except (OSError, ValueError):
            built_from = None
        if built_from == data_fingerprint():
            return path
        log.info("lexicon, signals or config changed since %s was trained: retraining", path)
    log.info("training the detector into %s", path)
    return train(training_examples(seed), path, seed=seed)
