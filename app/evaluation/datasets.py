"""One loader interface over the evaluation data in ``../shared/data``: each data set becomes a ``Dataset``
of events (user, item, rating, time) with item texts and, where the data has them, user profile texts."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

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

    def __len__(self) -> int:
        return len(self.users)

    def subset(self, mask: np.ndarray) -> Dataset:
        return Dataset(self.name, self.users[mask], self.items[mask], self.ratings[mask], self.timestamps[mask],
                       self.item_text, self.user_text)


def load_ml100k(folder: Path) -> Dataset:
    """MovieLens 100K. Item text: title, genres, release year. User text: age, gender, occupation."""
    genres_of, text = {}, {}
    for line in (folder / "u.item").read_text(encoding="latin-1").splitlines():
        parts = line.split("|")
        genres = [g for g, flag in zip(ML100K_GENRES, parts[5:24], strict=True) if flag == "1" and g != "unknown"]
        year = parts[2][-4:] if parts[2] else ""
        title = parts[1]
        genres_of[parts[0]] = genres
        text[parts[0]] = f"{title}. Genres: {', '.join(genres) or 'unknown'}." + (f" Released {year}." if year else "")
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
                   data[:, 3], text, users, folds)


def load_amazon_giftcards(folder: Path) -> Dataset:
    """Amazon 2018 Gift Cards 5-core. Item text: title, category, brand, description. The review texts are
    events' text, not item text: which reviews a model may read is the protocol's business."""
    meta = {}
    with gzip.open(folder / "meta_Gift_Cards.json.gz", "rt") as f:
        for line in f:
            m = json.loads(line)
            parts = [m.get("title", ""), ", ".join(c for c in m.get("category", []) if c != "Gift Cards"),
                     f"Brand: {m['brand']}" if m.get("brand") else "", " ".join(m.get("description", []))[:1000]]
            meta[m["asin"]] = ". ".join(p.strip() for p in parts if p and p.strip())
    rows = {}
    with gzip.open(folder / "Gift_Cards_5.json.gz", "rt") as f:
        for line in f:
            r = json.loads(line)
            rows[(r["reviewerID"], r["asin"])] = (float(r["overall"]), int(r["unixReviewTime"]))  # last repeat wins
    keys = sorted(rows)
    return Dataset("amazon-giftcards", np.array([k[0] for k in keys]), np.array([k[1] for k in keys]),
                   np.array([rows[k][0] for k in keys], np.float32), np.array([rows[k][1] for k in keys], np.int64),
                   {k[1]: meta.get(k[1], k[1]) for k in keys})


LOADERS: dict[str, Callable[[Path], Dataset]] = {"ml-100k": load_ml100k, "amazon2018-giftcards": load_amazon_giftcards}


def load(name: str, data_root: Path) -> Dataset:
    return LOADERS[name](data_root / name)


def available(data_root: Path) -> list[str]:
    return [name for name in LOADERS if (data_root / name).is_dir()]
