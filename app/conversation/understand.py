"""What a shopper's words say, by plain rules: price limits, catalog categories, exclusions, a change of topic,
and what is left over as the wish itself (encoded into the query vector).

The rules decide every filter; no language model does (a 135M model asked for JSON loops). Each rule is a
regular expression over the lower-cased text, applied in a fixed order, and each removes what it took, so a
phrase is read once: "no more than 50" is a price limit, never the exclusion "more".

    >>> read("running shoes under $100, no leather", {"shoes": 0})
    Said(wish='running shoes', category=['shoes'], min_price=None, max_price=100.0, exclude=['leather'], ...)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from app.recommender.words import singular

_NUMBER = r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_CURRENCY_BEFORE = r"(?:[$€£]\s*|usd\s*|eur\s*)?"
_CURRENCY_AFTER = r"(?:\s*(?:[$€£]|dollars?|bucks|usd|euros?|eur|pounds?|gbp)\b|\s*[$€£])?"
_AMOUNT = _CURRENCY_BEFORE + _NUMBER + _CURRENCY_AFTER
_UPPER = (r"(?:under|below|less\s+than|cheaper\s+than|at\s+most|up\s+to|no\s+more\s+than|not\s+more\s+than|"
          r"max(?:imum)?|within)")
_LOWER = r"(?:over|above|more\s+than|at\s+least|min(?:imum)?|upwards\s+of|starting\s+at|no\s+less\s+than)"

_MAX = re.compile(r"\b" + _UPPER + r"\s+" + _AMOUNT + r"(?=\W|$)")
_MIN = re.compile(r"\b" + _LOWER + r"\s+" + _AMOUNT + r"(?=\W|$)")
_MAX_AFTER = re.compile(_CURRENCY_BEFORE + r"\b" + _NUMBER + _CURRENCY_AFTER +
                        r"\s+(?:max(?:imum)?|or\s+less|tops|at\s+most)\b")  # "40 euros max"
_MIN_AFTER = re.compile(_CURRENCY_BEFORE + r"\b" + _NUMBER + _CURRENCY_AFTER +
                        r"\s+(?:min(?:imum)?|or\s+more|and\s+up|at\s+least)\b")  # "50 dollars and up"
_BARE_RANGE_WORD = re.compile(r"\bbetween\b")

# "actually", "instead", "something else": the earlier wishes and limits of the conversation drop.
_NEW_TOPIC = re.compile(r"\b(?:actually|instead|something\s+else|something\s+different|start\s+over|"
                        r"new\s+search|forget\s+(?:that|it|those))\b")
# An exclusion: "no books", "not leather", "without sugar", "except shoes", "no books or toys".
_SOFTENER = r"(?:(?:too|very|so|really|any|a|an|the|much|more)\s+)*"
_NEGATION = re.compile(r"\b(?:no|not|without|except|excluding|nothing|never|don'?t\s+want|do\s+not\s+want|"
                       r"don'?t\s+like|do\s+not\s+like|hate)\s+" + _SOFTENER +
                       r"([\w'-]+(?:\s*(?:,|\bor\b|\bnor\b)\s*(?:no\s+|not\s+)?[\w'-]+)*)")
_FILLER = frozenset("a an any the too very so really much more of with in for to is are be it that this these those"
                    " like want some i me my you we".split())
_SEPARATOR = re.compile(r"\s*(?:,|\bor\b|\bnor\b)\s*(?:no\s+|not\s+)?")
_WORD = re.compile(r"[\w'-]+")


@dataclass(frozen=True)
class Said:
    """What one message says. ``wish`` is the words left once the limits and exclusions are taken out."""

    wish: str
    category: list[str] = field(default_factory=list)  # catalog category names, as the catalog spells them
    min_price: float | None = None
    max_price: float | None = None
    exclude: list[str] = field(default_factory=list)  # lower-cased words
    new_topic: bool = False


def _amount(text: str) -> float:
    return float(text.replace(",", ""))


def word_forms(word: str) -> set[str]:
    """The word, its singular and a plural: what an exclusion or category matches."""
    base = singular(word.lower())
    plural = base[:-1] + "ies" if base.endswith("y") and base[-2:-1] not in "aeiou" else \
        base + "es" if base.endswith(("ch", "sh", "x", "s", "z")) else base + "s"
    return {word.lower(), base, plural}


def read(text: str, categories: Iterable[str] = ()) -> Said:
    """One message's wish, limits and exclusions. ``categories`` are the catalog's category names; one named in
    the words (singular or plural, any case) becomes a filter, several mean any of them."""
    t = " " + text.lower().replace("’", "'") + " "
    min_price = max_price = None

    def take(pattern: re.Pattern, t: str, on_match) -> str:
        while (m := pattern.search(t)) is not None:
            on_match(m)
            t = t[: m.start()] + " " + t[m.end():]
        return t

    def on_range(m):
        nonlocal min_price, max_price
        low, high = sorted(_amount(g) for g in m.groups() if g is not None)
        min_price, max_price = low, high

    def on_max(m):
        nonlocal max_price
        max_price = _amount(m.group(1))

    def on_min(m):
        nonlocal min_price
        min_price = _amount(m.group(1))

    t = take(_RANGE_PRICED, t, on_range)
    t = take(_MAX, t, on_max)
    t = take(_MIN, t, on_min)
    t = take(_MAX_AFTER, t, on_max)
    t = take(_MIN_AFTER, t, on_min)
    new_topic = bool(_NEW_TOPIC.search(t))
    t = _NEW_TOPIC.sub(" ", t)
    exclude: list[str] = []

    def on_negation(m):
        for part in _SEPARATOR.split(m.group(1)):
            words = [w for w in _WORD.findall(part) if w not in _FILLER]
            if words and words[0] not in exclude:
                exclude.append(words[0])

    t = take(_NEGATION, t, on_negation)
    named = _named_categories(t, categories)
    wish = " ".join(_WORD.findall(_BARE_RANGE_WORD.sub(" ", t))).strip(" -'")
    return Said(wish=_trim_glue(wish), category=named, min_price=min_price, max_price=max_price, exclude=exclude,
                new_topic=new_topic)


# A range needs a currency or a price word near it, or "between": "1990s to 2000s" and "2-3 players" are not
# prices. With "between", any two amounts are a price range ("between 20 and 50").
_RANGE_PRICED = re.compile(
    r"\bbetween\s+" + _AMOUNT + r"\s*(?:-|–|to|and)\s*" + _AMOUNT + r"(?=\W|$)"
    r"|(?:[$€£]\s*|usd\s*|eur\s*)" + _NUMBER + _CURRENCY_AFTER + r"\s*(?:-|–|to)\s*" + _AMOUNT + r"(?=\W|$)"
    r"|\b" + _NUMBER + r"\s*(?:-|–|to)\s*" + _NUMBER + r"\s*(?:[$€£]|dollars?|bucks|usd|euros?|eur)(?=\W|$)")


def _named_categories(text: str, categories: Iterable[str]) -> list[str]:
    """The catalog categories whose name appears in ``text`` as whole words (each word singular or plural)."""
    words = _WORD.findall(text)
    singulars = [singular(w) for w in words]
    found = []
    for name in categories:
        parts = [singular(w) for w in _WORD.findall(name.lower())]
        if not parts:
            continue
        n = len(parts)
        if any(singulars[i: i + n] == parts for i in range(len(singulars) - n + 1)):
            found.append(name)
    return found


_GLUE = frozenset("i i'd i'm id im want would like looking for need please show me some a an the and or but "
                  "something anything more other others ones next else".split())


def _trim_glue(wish: str) -> str:
    """Leading and trailing filler ("I'd like a", "please") off the wish; the middle stays as said."""
    words = wish.split()
    while words and words[0] in _GLUE:
        words.pop(0)
    while words and words[-1] in _GLUE:
        words.pop()
    return " ".join(words)
