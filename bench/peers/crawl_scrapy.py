#!/usr/bin/python3
"""crawl_scrapy.py - Scrapy's peer row of the mirror crawl benchmark
(bench/run-crawl.sh): a CrawlSpider whose one Rule follows every link its
LinkExtractor finds on the host (Scrapy's defaults: <a>/<area> href, no
images, CSS or other listed binary extensions), 100 concurrent requests
(all allowed on the one host), no robots.txt, no delay, no cookies.

    crawl_scrapy.py SEEDS_FILE OUT_URLS MAX_PAGES

Writes every fetched URL (each response's request URL) to OUT_URLS and
prints {"pages": N, "errors": N} at the end. MAX_PAGES caps the crawl
(CLOSESPIDER_PAGECOUNT): Scrapy makes a few dozen pages/s, so the
benchmark measures its rate over the pages it fetched in its time.
"""
import json
import sys
from urllib.parse import urlsplit

from scrapy.crawler import CrawlerProcess
from scrapy.linkextractors import LinkExtractor
from scrapy.spiders import CrawlSpider, Rule

seeds = [l.strip() for l in open(sys.argv[1]) if l.strip()]
out = open(sys.argv[2], "w")
stats = {"pages": 0, "errors": 0}


class Mirror(CrawlSpider):
    name = "mirror"
    start_urls = seeds
    allowed_domains = [urlsplit(seeds[0]).hostname]
    # LinkExtractor compares the netloc (port included), the offsite
    # middleware the host name.
    rules = (Rule(LinkExtractor(allow_domains=[urlsplit(seeds[0]).netloc]), callback="page", follow=True),)

    def page(self, response):
        out.write(response.url + "\n")
        if response.status == 200:
            stats["pages"] += 1
        else:
            stats["errors"] += 1
        return []

    def parse_start_url(self, response):
        return self.page(response)


p = CrawlerProcess(settings={
    "CONCURRENT_REQUESTS": 100,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 100,
    "CONCURRENT_REQUESTS_PER_IP": 0,
    "ROBOTSTXT_OBEY": False,
    "COOKIES_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "TELNETCONSOLE_ENABLED": False,
    "LOG_LEVEL": "WARNING",
    "CLOSESPIDER_PAGECOUNT": int(sys.argv[3]),
    "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
})
p.crawl(Mirror)
p.start()
out.close()
print(json.dumps(stats))
