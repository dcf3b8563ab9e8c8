"""Helpers shared by the text tests: a news page in HTML, a good JSON Lines record, writing a file."""

from __future__ import annotations

from pathlib import Path

ARTICLE = (
    "The council approved a budget of 4 million dollars on Tuesday, the largest increase in a decade.",
    "Residents welcomed the decision, said the mayor, who had campaigned for it since 2019.",
    "Work on the new river bridge is due to start in the spring and to take two years.",
)


PAGE = """<!DOCTYPE html>
<html><head><meta charset="{charset}"><title>Town Herald | Council backs bigger budget</title>
<meta property="og:title" content="Council backs bigger budget">
<meta property="og:site_name" content="Town Herald">
<meta name="author" content="Jane Doe">
<meta property="article:published_time" content="2021-03-04T10:00:00Z">
<link rel="canonical" href="https://herald.example/2021/03/budget">
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/world">World news menu</a></li></ul></nav>
<article><h1>Council backs bigger budget</h1>
<p>{first}</p><p>{second}</p><p>{third}</p></article>
<aside class="share">Share this story on Facebook</aside>
<footer><p>Copyright 2021 Town Herald. All rights reserved. Subscribe to our newsletter.</p></footer>
</body></html>"""


def page(charset: str = "utf-8", first: str = ARTICLE[0]) -> str:
    return PAGE.format(charset=charset, first=first, second=ARTICLE[1], third=ARTICLE[2])


GOOD = {"id": "a1", "text": "The harbour reopened on Friday.", "title": "Harbour", "date": "2024-05-01"}


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path
