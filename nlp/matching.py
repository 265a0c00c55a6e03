"""Find lexicon substances in a text: names, synonyms, abbreviations, CAS RNs, misspellings.

Works on the views of `nlp.normalize` and reports character offsets into the original text.
Rules that keep precision:

- word boundaries are checked in the `norm` view for Latin terms (so "aniline" in
  "4-bromoaniline" is not aniline) and a locant-led term glued to a prefix ("methyl-4-piperidone")
  is not the bare substance; Chinese has no word boundaries, so a watched Chinese name right after
  a substituent character or before 基 is part of a longer name (苯胺 in N-甲基苯胺, 对甲苯胺,
  苯胺基...: methylaniline, toluidine, anilino), not the watched substance;
- a short term (< 6 letters) matched across whitespace must be spelled out letter by letter
  ("N P P") or split exactly like the lexicon form ("1 boc 4 AP"), so "an pp" is not ANPP;
- overlapping matches: the longest wins, so "1-benzyl-4-piperidone" (watched) beats
  "4-piperidone" (monitored) inside it, and ordinary look-alikes beat partial monitored matches;
- ambiguous abbreviations (NPP, 4-AP) need chemical context and lose to a false friend
  ("nuclear power plant", "4-aminopyridine") anywhere in the text;
- a complete CAS RN must pass its check digit; a first block alone ("CAS79099") is taken only
  when it is unique in the lexicon and either long (5+ digits) or right after "CAS".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from precursor_watch.nlp.lexicon import Lexicon, Term, cas_check_digit_ok
from precursor_watch.nlp.normalize import HOMOGLYPHS, SEPARATORS, ZERO_WIDTH, NormText, normalize

_FULLWIDTH = re.compile("[\uff01-\uff5e\u3000]")
_HOMO = re.compile("[" + "".join(k for k, v in HOMOGLYPHS.items() if v != "-") + "]")
_ZW = re.compile(f"[{ZERO_WIDTH}]")

_CAS_SEP = r"[ \t]*[-._/ ][ \t]*"
CAS_RE = re.compile(rf"(?<![\d])(\d{{2,7}})(?:{_CAS_SEP}|[ \t]*)(\d{{2}})(?:{_CAS_SEP}|[ \t]*)(\d)(?![\d])")
_PERCENT_AFTER = re.compile(r"[ \t]?%")
FIRST_BLOCK_RE = re.compile(r"(?<![\d])(\d{4,7})(?![\d])")
# Letters typed for digits inside numbers ("79O99", "1O9-66-1"): same length, offsets kept.
_DIGIT_FIX = re.compile(r"(?<=\d)[oil|sb](?=[\d-])|(?<=[\d-])[oil|sb](?=\d)")
_DIGIT_FIX_MAP = {"o": "0", "i": "1", "l": "1", "|": "1", "s": "5", "b": "8"}
# A number right after a currency, a phone or postal code, or an order/invoice/tracking number is
# not a product code; a bare "#" is ("#79099 ready" names the item in a seller message).
_NOT_CAS_BEFORE = re.compile(
    r"(?:\$|€|¥|usd|mxn|rmb|cp|c\.p\.|zip|tel|phone|\+|"
    r"(?:no\.|order|pedido|订单|invoice|factura|tracking|ticket)\s*#?)\s*$"
)
# Seller messages name a product by its first CAS block as a "code" or "item" number.
_CAS_BEFORE = re.compile(
    r"(?:cas(?:\s*(?:no|rn|number|号|登录号)?\.?)?|\b(?:item|code|product|ref|producto|c[oó]digo|art[ií]culo)"
    r"|编号|产品|货号|型号)"
    r"\s*[:：#]?\s*$"
)

CHEMICAL_CONTEXT = re.compile(
    r"\bcas\b|\d{2,7}-\d{2}-\d|\bpurity\b|\bpureza\b|纯度|含量|powder|polvo|粉|\bkg\b|公斤|千克|"
    r"chemical|químic|quimic|化工|化学品|precursor|前体|原料|piperid|fentan|芬太尼|哌啶|\b9\d(?:\.\d+)?\s?%|"
    r"hplc|\bgc\b|nmr|\bcoa\b|msds|\bwts\b|for sale|en venta|出售|现货|"
    r"\b\d?hcl\b|hydrochlorid|clorhidrato|盐酸"
)
_WORD = re.compile(r"[a-zà-öø-ÿ]{7,}")


@dataclass(frozen=True)
class SubstanceMatch:
    substance_id: str
    start: int  # offsets into the text given to `find`
    end: int
    matched: str  # == text[start:end]
    how: str  # name | synonym | abbreviation | cas | fuzzy
    detail: str = ""  # e.g. "salt: hydrochloride", "first CAS block only", "leetspeak", "spaced"
    tier: str = "monitored"


def trie_regex(words: list[str]) -> str:
    """One regex matching any of `words`, longest first at each position (a prefix trie)."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        alts = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 and len(alts[0]) == 1 else "(?:" + "|".join(alts) + ")"
        return body + "?" if "" in node else body

    return build(trie)


class SubstanceMatcher:
    def __init__(self, lexicon: Lexicon):
        self.lexicon = lexicon
        self._terms = lexicon.terms
        self._trie = re.compile(trie_regex(sorted(self._terms)))
        self._watched = {sid for sid, sub in lexicon.substances.items() if sub.tier == "watched"}
        # Fuzzy index (symmetric deletes, distance 1) over letter-only names of 7+ letters.
        # Fuzzy index (symmetric deletes, distance 1) over the words of names, 7+ letters.
        self._segments: set[str] = set()
        for terms in self._terms.values():
            if terms[0].how != "abbreviation":
                self._segments.update(_WORD.findall(" ".join(terms[0].segments)))
        self._deletes: dict[str, set[str]] = {}
        self._fuzzy_cache: dict[str, tuple[str, ...]] = {}
        for seg in self._segments:
            for d in _deletes(seg) | {seg}:
                self._deletes.setdefault(d, set()).add(seg)

    # ------------------------------------------------------------------ public

    def find(self, nt: NormText) -> list[SubstanceMatch]:
        candidates: list[tuple[int, int, Term, str]] = []  # orig start, end, term, detail
        self._names(nt, nt.compact, "", candidates)
        for view in nt.leet:
            self._names(nt, view, "leetspeak", candidates)
        cas_found = self._cas(nt)
        chosen = _resolve(candidates, cas_found)
        chosen = self._disambiguate(nt, chosen)
        fuzzy = self._fuzzy(nt, chosen)
        if fuzzy:  # a corrected longer name supersedes the shorter names found inside it
            chosen = [c for c in chosen if not any(f[0] <= c[0] and c[1] <= f[1] for f in fuzzy)] + fuzzy
        out = []
        for start, end, sid, how, detail in sorted(chosen, key=lambda c: c[0]):
            tier = self.lexicon.substances[sid].tier
            if tier == "ordinary":
                continue
            out.append(SubstanceMatch(sid, start, end, nt.original[start:end], how, detail, tier))
        return out

    # ------------------------------------------------------------------ names

    def _names(self, nt: NormText, view: str, view_detail: str, out: list) -> None:
        norm = nt.norm
        search = self._trie.search
        pos = 0
        while (m := search(view, pos)) is not None:
            # leftmost-longest; after a rejected match, search again from the next character
            compact = m.group()
            cstart, cend = m.start(), m.end()
            pos = cstart + 1
            nstart, nend = nt.compact_span_to_norm(cstart, cend)
            term = self._terms[compact][0]
            if not _boundaries_ok(norm, nstart, nend, compact):
                continue
            if term.substance_id in self._watched and _inside_cjk_name(norm, nstart, nend):
                continue
            span_norm = norm[nstart:nend]
            if not _spacing_ok(span_norm, term):
                continue
            pos = cend
            ostart, oend = nt.orig_span(nstart, nend)
            detail = view_detail or _form_detail(nt.original[ostart:oend], span_norm, term.segments)
            out.append((ostart, oend, term, detail))

    def _disambiguate(self, nt: NormText, chosen: list) -> list:
        """Keep an ambiguous abbreviation only with chemical context and no other meaning in sight.

        Dropped when a false friend occurs anywhere, when a bracketed gloss right after it spells
        out something else ("NPP (net profit)"), or when a CAS RN that is not its own stands next
        to it on its line ("4-AP | 504-24-5" is 4-aminopyridine; a CAS RN of another monitored or
        watched substance does not count); then every mention of it in the listing goes (one sense
        per listing). Kept when another monitored/watched substance is
        listed too, or chemical wording is near it on its line.
        """
        result = []
        rejected: set[str] = set()
        for start, end, sid, how, detail, term in sorted(chosen, key=lambda c: c[5] is None or not c[5].ambiguous):
            if term is not None and term.ambiguous:
                if any(f in nt.norm for f in term.false_friends):
                    continue
                # context must be on the abbreviation's own line (product lists: one per line)
                line_start = nt.original.rfind("\n", 0, start) + 1
                line_end = nt.original.find("\n", end)
                line_end = len(nt.original) if line_end < 0 else line_end
                window = nt.original[max(line_start, start - 40) : min(line_end, end + 60)].lower()
                gloss = _GLOSS.match(nt.original, end)
                if (
                    gloss
                    and not any(s == sid and gloss.start(1) <= a < gloss.end(1) for a, _, s, *_ in chosen)
                    and not any(ch.isdigit() for ch in gloss.group(1))
                    and not CHEMICAL_CONTEXT.search(gloss.group(1).lower())
                ):
                    rejected.add(term.compact)
                    continue  # "NPP (net profit)": the gloss in brackets gives another meaning
                own = {c for c, (s_id, _) in self.lexicon.cas.items() if s_id == sid}
                near_cas = {
                    f"{m.group(1)}-{m.group(2)}-{m.group(3)}"
                    for m in CAS_RE.finditer(window)
                    if not m.group().isdigit()
                }
                if any(c not in own and not self._precursor_cas(c) for c in near_cas):
                    rejected.add(term.compact)  # another product's CAS RN (valid or not) names this item
                    continue
                others = any(s != sid and self.lexicon.substances[s].tier != "ordinary" for _, _, s, *_ in chosen)
                if not (others or CHEMICAL_CONTEXT.search(window)):
                    continue
                detail = (detail + "; " if detail else "") + "ambiguous abbreviation, chemical context"
            result.append((start, end, sid, how, detail, term))
        # one sense per listing: once a mention is shown to mean something else, all mentions do
        return [r[:5] for r in result if r[5] is None or r[5].compact not in rejected]

    def _precursor_cas(self, cas: str) -> bool:
        """A CAS RN of a monitored or watched substance: "4-AP (CAS 23056-29-3) and 1-boc-4-AP
        (CAS 125541-22-2)" is a list of precursors, which supports the precursor reading."""
        hit = self.lexicon.cas.get(cas)
        return hit is not None and self.lexicon.substances[hit[0]].tier != "ordinary" and cas_check_digit_ok(cas)

    # ------------------------------------------------------------------ CAS

    def _cas(self, nt: NormText) -> list[tuple[int, int, str, str, str]]:
        view = _DIGIT_FIX.sub(lambda m: _DIGIT_FIX_MAP[m.group()], nt.norm) if _DIGIT_FIX.search(nt.norm) else nt.norm
        found = []
        taken: list[tuple[int, int]] = []
        for m in CAS_RE.finditer(view):
            if _PERCENT_AFTER.match(view, m.end()):
                continue  # "product 1609 99.9%": a code, then a purity, not one CAS RN
            cas = f"{m.group(1)}-{m.group(2)}-{m.group(3)}"
            hit = self.lexicon.cas.get(cas)
            if hit is not None or not m.group().isdigit():
                taken.append((m.start(), m.end()))  # a bare digit run may still be a first block
            if hit is None or not cas_check_digit_ok(cas):
                continue  # unknown, or a wrong check digit: not that substance
            sid, form = hit
            ostart, oend = nt.orig_span(m.start(), m.end())
            detail = "CAS RN" if form == "free base" else f"CAS RN of a salt: {form}"
            if view is not nt.norm and view[m.start() : m.end()] != nt.norm[m.start() : m.end()]:
                detail += "; letters read as digits"
            elif nt.original[ostart:oend] != f"{m.group(1)}-{m.group(2)}-{m.group(3)}":
                detail += "; " + _cas_form(nt.original[ostart:oend])
            found.append((ostart, oend, sid, "cas", detail))
        for m in FIRST_BLOCK_RE.finditer(view):
            if any(a <= m.start() < b for a, b in taken):
                continue
            ids = self.lexicon.first_blocks.get(m.group(1))
            if not ids or len(ids) != 1:
                continue
            before = view[max(0, m.start() - 12) : m.start()]
            after_cas = bool(_CAS_BEFORE.search(before))
            if not after_cas and (len(m.group(1)) < 5 or _NOT_CAS_BEFORE.search(before)):
                continue
            ostart, oend = nt.orig_span(m.start(), m.end())
            found.append((ostart, oend, next(iter(ids)), "cas", "first CAS block only"))
        return found

    # ------------------------------------------------------------------ fuzzy

    def _fuzzy(self, nt: NormText, chosen: list) -> list:
        """Words one edit away from a lexicon word: correct the word, re-match around it."""
        if not self._deletes:
            return []
        out: list = []
        norm = nt.norm
        for m in _WORD.finditer(norm):
            word = m.group()
            if word in self._segments:
                continue
            targets = self._fuzzy_cache.get(word)
            if targets is None:
                targets = self._fuzzy_lookup(word)
                if len(self._fuzzy_cache) < 500_000:  # listing vocabularies repeat; bound the memory
                    self._fuzzy_cache[word] = targets
            for target in targets:
                hit = self._rematch(nt, m.start(), m.end(), target, chosen + out)
                if hit:
                    out.append(hit)
                    break
        return out

    def _rematch(self, nt: NormText, ws: int, we: int, target: str, taken: list):
        """Match again around norm[ws:we] with the word replaced by `target`."""
        norm = nt.norm
        a, b = max(0, ws - 80), min(len(norm), we + 80)
        window = normalize(norm[a:ws] + target + norm[we:b])
        found: list = []
        self._names(window, window.compact, "", found)
        shift = len(target) - (we - ws)
        lo, hi = ws - a, ws - a + len(target)

        def back(p: int, is_end: bool) -> int:
            if p <= lo:
                return a + p
            if p >= hi:
                return a + p - shift
            return we if is_end else ws

        for s_, e_, term, _ in sorted(found, key=lambda f: f[0] - f[1]):
            if not (s_ < hi and lo < e_):
                continue  # did not need the corrected word
            ostart, oend = nt.orig_span(back(s_, False), back(e_, True))
            if any(x < oend and ostart < y and not (ostart <= x and y <= oend) for x, y, *_ in taken):
                continue  # clashes with a match it does not contain
            return (ostart, oend, term.substance_id, "fuzzy", f"misspelling of {term.text!r}")
        return None

    def _fuzzy_lookup(self, word: str) -> tuple[str, ...]:
        """Lexicon words this word may be a misspelling of, most likely first."""
        variants = [word.replace(x, y) for x, y in _SPELLING if x in word]
        exact = [v for v in variants if v in self._segments]
        hits: set[str] = set()
        for d in _deletes(word) | {word}:
            hits |= self._deletes.get(d, set())
        near = sorted((h for h in hits if _edit1(word, h)), key=lambda h: (abs(len(h) - len(word)), h))
        return tuple(dict.fromkeys(exact + near))[:4]


# Spelling swaps common in listings (ph/f, y/i), tried before edit distance.
_SPELLING = (("f", "ph"), ("ph", "f"), ("i", "y"), ("y", "i"))


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _edit1(a: str, b: str) -> bool:
    """Levenshtein distance 1, or one adjacent transposition."""
    if a == b:
        return False
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = 0
    while i < min(la, lb) and a[i] == b[i]:
        i += 1
    if la == lb:
        return a[i + 1 :] == b[i + 1 :] or (a[i + 2 :] == b[i + 2 :] and a[i : i + 2] == b[i : i + 2][::-1])
    if la > lb:
        return a[i + 1 :] == b[i:]
    return a[i:] == b[i + 1 :]


def _is_latin_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _boundaries_ok(norm: str, nstart: int, nend: int, compact: str) -> bool:
    if _is_latin_alnum(compact[0]) and nstart > 0:
        prev = norm[nstart - 1]
        if _is_latin_alnum(prev) or prev in "áéíóúñ":
            return False
        # "methyl-4-piperidone": a locant-led name glued to a prefix is a different compound
        if (
            compact[0].isdigit()
            and prev in "-,"
            and nstart > 1
            and (_is_latin_alnum(norm[nstart - 2]) or norm[nstart - 2] == ")")
        ):
            return False
    if _is_latin_alnum(compact[-1]) and nend < len(norm):
        nxt = norm[nend]
        if _is_latin_alnum(nxt) or nxt in "áéíóúñ":
            return False
        # "...piperidine-1-carboxylate": followed by a locant, the name is part of a longer one
        if _LOCANT_AFTER.match(norm, nend):
            return False
    return True


# Characters that end a Chinese substituent or multiplier (甲基, 氯, 二, 对, 乙酰 ...): a name right
# after one is the tail of a longer name.
_CJK_PREFIX_END = frozenset("基氯溴氟碘硝羟甲乙丙丁二三对邻间酰")


def _inside_cjk_name(norm: str, nstart: int, nend: int) -> bool:
    """A Chinese name glued to a substituent before it, or to 基 after it (a group of a longer name)."""
    if nstart > 0 and "\u4e00" <= norm[nstart] <= "\u9fff" and norm[nstart - 1] in _CJK_PREFIX_END:
        return True
    return nend < len(norm) and "\u4e00" <= norm[nend - 1] <= "\u9fff" and norm[nend] == "基"


_GLOSS = re.compile(r"\s*[(（]([^()（）\n]{3,60})[)）]")
_LOCANT_AFTER = re.compile(r"-\d+(?:,\d+)*-[a-z]")


def _spacing_ok(span_norm: str, term: Term) -> bool:
    if not any(c.isspace() for c in span_norm):
        return True
    if len(term.compact) >= 6:
        return True
    pieces = [p for p in SEPARATORS.split(span_norm) if p]
    return all(len(p) == 1 for p in pieces) or tuple(pieces) == term.segments


def _form_detail(original: str, span_norm: str, term_segments: tuple[str, ...]) -> str:
    notes = []
    if _FULLWIDTH.search(original):
        notes.append("full-width")
    if _HOMO.search(original):
        notes.append("homoglyph")
    if _ZW.search(original):
        notes.append("zero-width characters")
    if any(c.isspace() for c in span_norm) and tuple(p for p in SEPARATORS.split(span_norm) if p) != term_segments:
        notes.append("spaced")
    return ", ".join(notes)


def _cas_form(text: str) -> str:
    if "." in text:
        return "dotted"
    if " " in text or "\t" in text:
        return "spaced"
    if "-" not in text:
        return "undelimited"
    return "variant"


def _resolve(candidates: list[tuple[int, int, Term, str]], cas_found: list) -> list:
    """Non-overlapping matches, longest first; CAS numbers never overlap names."""
    items: list[tuple[int, int, str, str, str, Term | None]] = [
        (s, e, t.substance_id, t.how, d, t) for s, e, t, d in candidates
    ]
    items += [(s, e, sid, how, d, None) for s, e, sid, how, d in cas_found]
    items.sort(key=lambda x: (-(x[1] - x[0]), x[0], x[3] == "abbreviation"))
    chosen: list = []
    for it in items:
        if any(it[0] < c[1] and c[0] < it[1] for c in chosen):
            continue
        chosen.append(it)
    return chosen
