"""Pure similarity functions for probabilistic matching.

Jaro-Winkler on names (the measure record-linkage work uses for short strings; Jaro
itself from rapidfuzz), a small nickname table, token overlap for company names, and
partial matches of phones and e-mail addresses. Every function returns a number in [0, 1].
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from rapidfuzz.distance import Jaro

#: Common English nicknames → the formal name (both directions are tried).
NICKNAMES: dict[str, str] = {
    "bob": "robert",
    "rob": "robert",
    "bobby": "robert",
    "robbie": "robert",
    "bill": "william",
    "will": "william",
    "billy": "william",
    "liam": "william",
    "jim": "james",
    "jimmy": "james",
    "jamie": "james",
    "mike": "michael",
    "mick": "michael",
    "mikey": "michael",
    "liz": "elizabeth",
    "beth": "elizabeth",
    "betty": "elizabeth",
    "lizzie": "elizabeth",
    "kate": "katherine",
    "katie": "katherine",
    "kathy": "katherine",
    "cathy": "catherine",
    "tom": "thomas",
    "tommy": "thomas",
    "dick": "richard",
    "rick": "richard",
    "rich": "richard",
    "dave": "david",
    "dan": "daniel",
    "danny": "daniel",
    "joe": "joseph",
    "joey": "joseph",
    "jon": "jonathan",
    "johnny": "john",
    "jack": "john",
    "chris": "christopher",
    "matt": "matthew",
    "nick": "nicholas",
    "tony": "anthony",
    "steve": "steven",
    "sam": "samuel",
    "alex": "alexander",
    "andy": "andrew",
    "drew": "andrew",
    "ben": "benjamin",
    "ed": "edward",
    "ted": "edward",
    "eddie": "edward",
    "greg": "gregory",
    "jen": "jennifer",
    "jenny": "jennifer",
    "sue": "susan",
    "suzy": "susan",
    "peggy": "margaret",
    "maggie": "margaret",
    "meg": "margaret",
    "pat": "patricia",
    "patty": "patricia",
    "becky": "rebecca",
    "vicky": "victoria",
    "ally": "alison",
    "abby": "abigail",
    "pepe": "jose",
    "paco": "francisco",
    "lupe": "guadalupe",
    "chico": "francisco",
    "ana": "anna",
    "ada": "adelaide",
}
_SPACE = re.compile(r"[^a-z0-9]+")
_COMPANY_NOISE = frozenset(
    {
        "inc",
        "llc",
        "ltd",
        "limited",
        "corp",
        "corporation",
        "co",
        "company",
        "gmbh",
        "sa",
        "ltda",
        "plc",
        "the",
        "group",
        "srl",
        "ag",
    }
)


@lru_cache(maxsize=65536)
def fold(text: str | None) -> str:
    """Lower-case ASCII with single spaces (accents and punctuation dropped)."""
    if not text:
        return ""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _SPACE.sub(" ", ascii_text.lower()).strip()


def formal(first: str) -> str:
    """The formal first name behind a nickname (``bob`` → ``robert``)."""
    return NICKNAMES.get(first, first)


@lru_cache(maxsize=65536)
def nickname_variants(first: str) -> frozenset[str]:
    """Every spelling that may stand for ``first`` (for blocking queries)."""
    name = formal(fold(first))
    return frozenset({name} | {nick for nick, full in NICKNAMES.items() if full == name})


@lru_cache(maxsize=262144)
def jaro_winkler(a: str, b: str) -> float:
    """Jaro-Winkler similarity (prefix scale 0.1, up to four characters, applied
    whatever the Jaro score). Jaro itself comes from rapidfuzz (C, bit-parallel)."""
    if a == b:
        return 1.0 if a else 0.0
    if not a or not b:
        return 0.0
    jaro = Jaro.similarity(a, b)
    if not jaro:
        return 0.0
    prefix = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        prefix += 1
    return jaro + prefix * 0.1 * (1 - jaro)


def name_similarity(first_a: str, last_a: str, first_b: str, last_b: str) -> float:
    """Similarity of two people's names: last name weighs most, nicknames count as
    the formal name, a bare initial matches its name at a discount."""
    fa, la, fb, lb = fold(first_a), fold(last_a), fold(first_b), fold(last_b)
    if not (la and lb):
        return 0.0
    last = jaro_winkler(la, lb)
    if not (fa and fb):
        return 0.6 * last
    if formal(fa) == formal(fb):
        first = 1.0
    elif len(fa) == 1 or len(fb) == 1:
        first = 0.8 if fa[0] == fb[0] else 0.0
    else:
        first = jaro_winkler(formal(fa), formal(fb))
    return 0.55 * last + 0.45 * first


def company_similarity(a: str | None, b: str | None) -> float | None:
    """Token overlap of company names without legal suffixes; None if one is missing."""
    ta = {t for t in fold(a).split() if t not in _COMPANY_NOISE}
    tb = {t for t in fold(b).split() if t not in _COMPANY_NOISE}
    if not ta or not tb:
        return None
    return len(ta & tb) / len(ta | tb)


def phone_similarity(a: Iterable[str], b: Iterable[str]) -> float:
    """1 for a shared number, 0.6 for the same last eight digits (a missing or wrong
    country or area code), else 0."""
    sa, sb = set(a), set(b)
    if sa & sb:
        return 1.0
    tails_a = {p[-8:] for p in sa if len(p) >= 9}
    return 0.6 if tails_a & {p[-8:] for p in sb if len(p) >= 9} else 0.0


def email_similarity(a: Iterable[str], b: Iterable[str]) -> float:
    """1 for a shared address, 0.7 for the same local part at another domain (a
    personal and a work address), 0.5 for a near-identical one at the same domain."""
    sa, sb = set(a), set(b)
    if sa & sb:
        return 1.0
    best = 0.0
    for x in sa:
        lx, _, dx = x.partition("@")
        for y in sb:
            ly, _, dy = y.partition("@")
            if lx == ly and len(lx) >= 5:
                best = max(best, 0.7)
            elif dx == dy and jaro_winkler(lx, ly) >= 0.93:
                best = max(best, 0.5)
    return best
