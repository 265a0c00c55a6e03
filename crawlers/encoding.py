"""Decode page bytes to text correctly even when the declared charset is wrong.

Scrapy trusts the Content-Type charset first; a platform that says `charset=utf-8` but sends
GB18030 (or says latin-1 but sends UTF-8) then yields mojibake. We decide from the bytes first:

1. a UTF-8 BOM, or bytes that are valid UTF-8 (valid UTF-8 with non-ASCII bytes practically
   never happens by accident in GB18030 or Latin-1 text) -> UTF-8;
2. GB18030 (a superset of GB2312/GBK) when the header or a <meta> declares it and the bytes look
   like GB text, or when they look unmistakably like it whatever is declared: the non-ASCII bytes
   form GB2312 pairs or GB18030 four-byte sequences. Latin-1 text has isolated high bytes
   followed by ASCII, which GB18030 would otherwise happily decode as rare hanzi;
3. otherwise the charset declared by the HTTP header or a <meta>/XML declaration, if it decodes
   the bytes strictly and is not a GB declaration that step 2 already refuted;
4. cp1252 (the WHATWG reading of Latin-1) with replacement as the last resort.
"""

import codecs
import re

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_XML_DECL = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.IGNORECASE)

# Labels browsers treat as their superset (WHATWG encoding standard).
_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso-8859-1": "cp1252",
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
}


def _canonical(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().lower()
    label = _ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _HEADER_CHARSET.search(content_type)
    return _canonical(match.group(1)) if match else None


def body_charset(body: bytes) -> str | None:
    head = body[:4096]
    match = _META_CHARSET.search(head) or _XML_DECL.search(head)
    return _canonical(match.group(1).decode("ascii", "ignore")) if match else None


# High bytes GB text is made of: GB2312 two-byte pairs and GB18030 four-byte sequences (emoji etc.).
_GB_UNITS = re.compile(rb"[\xa1-\xf7][\xa1-\xfe]|[\x81-\xfe][\x30-\x39][\x81-\xfe][\x30-\x39]")
_HIGH = re.compile(rb"[\x80-\xff]")


def gb_score(body: bytes) -> float:
    """Share of the non-ASCII bytes that form GB2312 pairs or GB18030 four-byte sequences (0..1)."""
    high = len(_HIGH.findall(body))
    if not high:
        return 0.0
    explained = sum(len(m) - (2 if len(m) == 4 else 0) for m in _GB_UNITS.findall(body))
    return min(1.0, explained / high)


def decode_body(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """(text, encoding used). Never raises; the encoding says which rule decided."""
    if body.startswith(codecs.BOM_UTF8):
        return body[3:].decode("utf-8", "replace"), "utf-8"
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    declared = [c for c in (header_charset(content_type), body_charset(body)) if c]
    score = gb_score(body)
    # GB18030 when something declares it and the bytes agree, or when the bytes are unmistakable.
    if ("gb18030" in declared and score >= 0.5) or score >= 0.9:
        try:
            return body.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            if score >= 0.9:
                return body.decode("gb18030", "replace"), "gb18030"
    for name in declared:
        if name == "gb18030":
            continue
        try:
            return body.decode(name), name
        except (UnicodeDecodeError, LookupError):
            continue
    return body.decode("cp1252", "replace"), "cp1252"
