"""One loader interface over the evaluation data in ``../shared/data``: each data set becomes a ``Dataset``
of events (user, item, rating, time) with item texts and, where the data has them, user profile texts."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.encoder.texts import item_text

ML100K_GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
                 "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
                 "War", "Western"]


@dataclass
class Dataset:
    name: str
    users: np.ndarray  # str ids, one per event
    items: np.ndarray
    ratings: np.ndarray  # float32
    timestamps: np.ndarray  # int64 unix seconds
    item_text: dict[str, str]
    user_text: dict[str, str] = field(default_factory=dict)
    # Predefined rating folds as (train mask, test mask) over the events, where the data set ships them.
    rating_folds: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    reviews: np.ndarray | None = None  # each event's review text ("" when none), where the data has them
    item_records: dict[str, dict] = field(default_factory=dict)  # the catalog as the API takes it
    contexts: np.ndarray | None = None  # each event's context ({device?, location?}), where the data has one

    def __len__(self) -> int:
        return len(self.users)

    def subset(self, mask: np.ndarray) -> Dataset:
        return Dataset(self.name, self.users[mask], self.items[mask], self.ratings[mask], self.timestamps[mask],
                       self.item_text, self.user_text,
                       reviews=None if self.reviews is None else self.reviews[mask], item_records=self.item_records,
                       contexts=None if self.contexts is None else self.contexts[mask])


def load_ml100k(folder: Path) -> Dataset:
    """MovieLens 100K. Items: the title, and the genres and release year as the description (a "Category" and
    a "year" attribute cost P3 a fifth of its NDCG@10 with MiniLM). User text: age, gender, occupation."""
    records = {}
    for line in (folder / "u.item").read_text(encoding="latin-1").splitlines():
        parts = line.split("|")
        genres = [g for g, flag in zip(ML100K_GENRES, parts[5:24], strict=True) if flag == "1" and g != "unknown"]
        year = parts[2][-4:] if parts[2] else ""
        records[parts[0]] = {"item_id": parts[0], "title": parts[1] or parts[0],
                             "description": f"Genres: {', '.join(genres) or 'unknown'}."
                                            + (f" Released {year}." if year else "")}
    gender = {"M": "man", "F": "woman"}
    users = {}
    for line in (folder / "u.user").read_text(encoding="latin-1").splitlines():
        uid, age, sex, occupation, _zip = line.split("|")
        users[uid] = f"{age} year old {gender.get(sex, 'person')}, occupation {occupation}"

    def read(name: str) -> np.ndarray:
        return np.loadtxt(folder / name, dtype=np.int64, delimiter="\t").reshape(-1, 4)

    data = read("u.data")
    key = {tuple(row[:2]): n for n, row in enumerate(data)}
    folds = []
    for k in range(1, 6):
        if (folder / f"u{k}.base").exists():
            train, test = np.zeros(len(data), bool), np.zeros(len(data), bool)
            train[[key[tuple(r[:2])] for r in read(f"u{k}.base")]] = True
            test[[key[tuple(r[:2])] for r in read(f"u{k}.test")]] = True
            folds.append((train, test))
    return Dataset("ml-100k", data[:, 0].astype(str), data[:, 1].astype(str), data[:, 2].astype(np.float32),
                   data[:, 3], _texts(records), users, folds, item_records=records)


def load_amazon(folder: Path, category: str) -> Dataset:
    """One Amazon 2018 category: ``<category>_5.json.gz`` (the 5-core reviews) with ``meta_<category>.json.gz``.
    Items: title, category path (without the category itself), brand, description, price, as the API takes
    them. Each event keeps its review text; which reviews a model may read is the protocol's business
    (``Indexed.texts``: training events only)."""
    own = category.replace("_", " ")
    records = {}
    with gzip.open(folder / f"meta_{category}.json.gz", "rt") as f:
        for line in f:
            m = json.loads(line)
            record = {"item_id": m["asin"], "title": (m.get("title") or "").strip() or m["asin"],
                      "category": ", ".join(c for c in m.get("category", []) if c != own)[:256] or None,
                      "description": " ".join(m.get("description", []))[:1000] or None,
                      "attributes": {"brand": m["brand"][:200]} if m.get("brand") else {}}
            try:
                record["price"] = float((m.get("price") or "").replace("$", "").replace(",", "").strip())
            except ValueError:
                pass
            records[m["asin"]] = record
    rows = {}
    with gzip.open(folder / f"{category}_5.json.gz", "rt") as f:
        for line in f:
            r = json.loads(line)
            rows[(r["reviewerID"], r["asin"])] = (float(r["overall"]), int(r["unixReviewTime"]),
                                                  (r.get("reviewText") or "").strip())  # last repeat wins
    keys = sorted(rows)
    items = {k[1] for k in keys}
    catalog = {i: records.get(i, {"item_id": i, "title": i}) for i in sorted(items)}
    return Dataset(f"amazon-{category.lower().replace('_', '-')}", np.array([k[0] for k in keys]),
                   np.array([k[1] for k in keys]), np.array([rows[k][0] for k in keys], np.float32),
                   np.array([rows[k][1] for k in keys], np.int64), _texts(catalog),
                   reviews=np.array([rows[k][2] for k in keys], dtype=object), item_records=catalog)


def amazon_categories(folder: Path) -> list[str]:
    """Every ``<Category>_5.json.gz`` in the folder that has its ``meta_<Category>.json.gz``."""
    return sorted(p.name[: -len("_5.json.gz")] for p in folder.glob("*_5.json.gz")
                  if (folder / f"meta_{p.name[: -len('_5.json.gz')]}.json.gz").exists())


def _texts(records: dict[str, dict]) -> dict[str, str]:
    """What the service's encoder reads of each posted item (``app.encoder.texts.item_text``), word for word."""
    return {i: item_text(r.get("title"), r.get("category"), r.get("description"), r.get("attributes"))
            for i, r in records.items()}


def item_categories(ds: Dataset) -> dict[str, set[str]]:
    """Each item's categories for describing groups of users: ML-100K's genres (kept in the description, as
    the catalog has no category), the catalog category elsewhere."""
    out = {}
    for item_id, record in ds.item_records.items():
        if record.get("category"):
            out[item_id] = {record["category"]}
        elif (text := record.get("description") or "").startswith("Genres: "):
            out[item_id] = {g.strip() for g in text[len("Genres: "):].split(".")[0].split(",")} - {"unknown"}
    return out


def discover(data_root: Path) -> dict[str, Callable[[], Dataset]]:
    """Every data set under ``data_root`` by name: ``ml-100k``, and each Amazon category found by its file
    pattern in any folder (named after the folder, or ``<folder>/<Category>`` where a folder holds several)."""
    found: dict[str, Callable[[], Dataset]] = {}
    if (data_root / "ml-100k" / "u.data").exists():
        found["ml-100k"] = lambda: load_ml100k(data_root / "ml-100k")
    for folder in sorted(p for p in data_root.iterdir() if p.is_dir()) if data_root.is_dir() else []:
        categories = amazon_categories(folder)
        for category in categories:
            name = folder.name if len(categories) == 1 else f"{folder.name}/{category}"
            found[name] = lambda folder=folder, category=category: load_amazon(folder, category)
    return found


def load(name: str, data_root: Path) -> Dataset:
    return discover(data_root)[name]()


def available(data_root: Path) -> list[str]:
    return list(discover(data_root))
