"""Search-driven discovery: what a daily crawl fetches instead of a platform's whole catalogue.

- `plan`: the query plan a crawl runs (built from the lexicon by `nlp.search_terms`, handed to
  the spider as a file) and its split over shards;
- `search`: the site search a platform file declares (`SiteSearch`, one reader per result
  format): the URL of a result page, and the listing links, next page and cap a result page
  shows; the seller and store pages of flagged accounts;
- `conditional`: `If-None-Match` + `If-Modified-Since` revisits and their `304 Not Modified` answers;
- `report`: what each query returned, for the crawl's health (`discovery` in health.json).

The spider (`crawlers.spiders.base`) only calls these; nothing here knows Scrapy's engine.
"""
