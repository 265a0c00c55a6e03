"""Page objects, one module per platform: URL scheme, listing, index and account pages."""

from precursor_watch.crawlers.pages import boardlist, chemdir, huaxue, mercado, tradehub

BY_PLATFORM = {m.NAME: m for m in (chemdir, tradehub, boardlist, huaxue, mercado)}
