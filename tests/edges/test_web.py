"""The web chat page in a real browser: headless Chromium (Debian's chromium + chromium-driver) via selenium,
against a live `askidcpc serve`. Two questions, the second a follow-up; the answers and citations shown must be the
pipeline's own. Before the first question the page lists the articles; an empty submit says so; a citation opens
its article with the cited sentence highlighted; the input bar spans the window on a laptop and on a phone.

Skipped only where Chromium is not installed and CI is not set; in CI (CI=true) a missing browser is a failure.
Set ASKIDCPC_SCREENSHOT=path/to.png to save a screenshot of the page (README's docs/web-chat.png).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from askidcpc.edges.render import ABSTAIN_MESSAGE
from askidcpc.pipeline import Pipeline
from tests.edges.conftest import running_server

# Slow: a real browser against a live server.
pytestmark = pytest.mark.slow

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

FIRST = "Who is Song Tao?"
FOLLOW_UP = "What did he tell the visitors?"
WINDOW = (1100, 1500)


def _browser_or_skip() -> Any:
    in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    if not in_ci:
        if CHROMIUM is None or not Path(CHROMEDRIVER).exists():
            pytest.skip("chromium or chromedriver not installed (apt-get install chromium chromium-driver)")
        pytest.importorskip("selenium", reason="selenium not installed (pip install -e '.[dev]')")
    from selenium import webdriver

    return webdriver


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    webdriver = _browser_or_skip()
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    if CHROMIUM:
        options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def live_url(browser: Any) -> Iterator[str]:
    with running_server() as (url, _):
        yield url


def test_page_asks_a_question_and_a_follow_up(browser: Any, live_url: str, pipeline: Pipeline) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    expected = [pipeline.ask(FIRST), pipeline.ask(FOLLOW_UP, history=[FIRST])]
    browser.get(live_url + "/")
    wait = WebDriverWait(browser, 20)
    wait.until(lambda driver: "sentences" in driver.find_element(By.ID, "corpus-note").text)
    for number, question in enumerate([FIRST, FOLLOW_UP], start=1):
        box = browser.find_element(By.ID, "question")
        box.send_keys(question)
        browser.find_element(By.ID, "ask").click()
        wait.until(
            lambda driver, n=number: len(driver.find_elements(By.CSS_SELECTOR, ".turn:not([data-state=pending])")) == n
        )
    wait.until(lambda driver: not driver.find_elements(By.CSS_SELECTOR, ".citation-context[data-context=loading]"))

    turns = browser.find_elements(By.CSS_SELECTOR, ".turn")
    assert len(turns) == 2
    for turn, question, answer in zip(turns, [FIRST, FOLLOW_UP], expected, strict=True):
        assert turn.find_element(By.CSS_SELECTOR, ".question").text == question
        shown = turn.find_element(By.CSS_SELECTOR, ".answer-text").text
        if answer.answer is None:
            assert turn.get_attribute("data-state") == "abstained"
            assert shown == ABSTAIN_MESSAGE
        else:
            assert turn.get_attribute("data-state") == "answered"
            assert " ".join(shown.split()) == " ".join(answer.answer.split())
            # The short answer is highlighted inside the answer text, and only it.
            highlighted = [node.text for node in turn.find_elements(By.CSS_SELECTOR, ".answer-text .short-answer")]
            assert highlighted == ([] if answer.short_answer is None else [answer.short_answer.text])
        citations = turn.find_elements(By.CSS_SELECTOR, ".citation")
        assert len(citations) == len(answer.citations)
        for shown_citation, citation in zip(citations, answer.citations, strict=True):
            assert shown_citation.find_element(By.CSS_SELECTOR, ".citation-title").text == citation.title
            if citation.date:
                assert shown_citation.find_element(By.CSS_SELECTOR, ".citation-date").text == f"({citation.date})"
            mark = shown_citation.find_element(By.CSS_SELECTOR, "mark.sentence").text
            assert " ".join(mark.split()) == " ".join(citation.sentence.split())
            context = shown_citation.find_element(By.CSS_SELECTOR, ".citation-context")
            assert context.get_attribute("data-context") == "loaded"
            assert len(context.text) > len(mark)  # the neighbouring sentences are shown around it

    screenshot = os.environ.get("ASKIDCPC_SCREENSHOT")
    if screenshot:
        browser.set_window_size(1280, 800)
        browser.execute_script("document.getElementById('scroller').scrollTop = 0")
        assert browser.save_screenshot(screenshot)
        browser.set_window_size(*WINDOW)
    logs = [entry for entry in browser.get_log("browser") if entry.get("level") == "SEVERE"]
    assert logs == [], logs


def test_new_conversation_forgets_the_history(browser: Any, live_url: str, pipeline: Pipeline) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    expected = pipeline.ask(FOLLOW_UP)  # asked with no history after "New conversation"
    assert expected != pipeline.ask(FOLLOW_UP, history=[FIRST]), "pick a follow-up whose answer depends on history"
    browser.get(live_url + "/")
    wait = WebDriverWait(browser, 20)
    for question in (FIRST, None, FOLLOW_UP):
        if question is None:
            browser.find_element(By.ID, "new-conversation").click()
            assert browser.find_elements(By.CSS_SELECTOR, ".turn") == []
            continue
        browser.find_element(By.ID, "question").send_keys(question)
        browser.find_element(By.ID, "ask").click()
        wait.until(lambda driver: driver.find_elements(By.CSS_SELECTOR, ".turn:not([data-state=pending])"))
    shown = browser.find_element(By.CSS_SELECTOR, ".answer-text").text
    assert " ".join(shown.split()) == (
        ABSTAIN_MESSAGE if expected.answer is None else " ".join(expected.answer.split())
    )


def test_abstention_is_shown_as_such(browser: Any, live_url: str, pipeline: Pipeline) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    question = "How do I bake sourdough bread?"  # no word of it is in the corpus
    expected = pipeline.ask(question)
    assert expected.answer is None, f"{question!r} is answered now; pick a question the corpus cannot answer"
    browser.get(live_url + "/")
    browser.find_element(By.ID, "question").send_keys(question)
    browser.find_element(By.ID, "ask").click()
    turn = WebDriverWait(browser, 20).until(
        lambda driver: driver.find_element(By.CSS_SELECTOR, ".turn:not([data-state=pending])")
    )
    assert turn.get_attribute("data-state") == "abstained"
    assert turn.find_element(By.CSS_SELECTOR, ".answer-text").text == ABSTAIN_MESSAGE
    note = "Nearest sentences:" if expected.citations else "No sentence in the articles is close to it."
    assert turn.find_element(By.CSS_SELECTOR, ".reply .meta").text == note
    assert len(turn.find_elements(By.CSS_SELECTOR, ".citation")) == len(expected.citations)


def test_api_page_renders_from_local_assets(browser: Any, live_url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(live_url + "/docs")
    wait = WebDriverWait(browser, 20)
    wait.until(lambda driver: driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"))
    paths = {
        element.text.replace("\u200b", "")
        for element in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    }
    assert {"/ask", "/health", "/documents", "/documents/{doc_id}"} <= paths
    assert "askidcpc" in browser.find_element(By.CSS_SELECTOR, ".info .title").text


def test_articles_are_listed_before_the_first_question(browser: Any, live_url: str, pipeline: Pipeline) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(live_url + "/")
    wait = WebDriverWait(browser, 20)
    wait.until(lambda driver: driver.find_element(By.ID, "articles").get_attribute("data-state") == "loaded")
    items = browser.find_elements(By.CSS_SELECTOR, "#articles .article")
    assert len(items) == len(pipeline.documents)
    for item, document in zip(items, pipeline.documents, strict=True):
        meta = document.metadata()
        assert item.find_element(By.CSS_SELECTOR, ".article-title").text == meta["title"]
        shown = item.find_element(By.CSS_SELECTOR, ".article-meta").text
        for field in ("date", "source"):
            if meta[field]:
                assert meta[field] in shown
    hint = browser.find_element(By.ID, "intro-hint").text
    assert "who, what, when" in hint
    placeholder = browser.find_element(By.ID, "question").get_attribute("placeholder")
    assert placeholder == "Ask about the articles"
    for document in pipeline.documents:  # nothing on the page but the list names the served corpus's articles
        assert document.metadata()["title"] not in hint + placeholder
    browser.find_element(By.ID, "question").send_keys(FIRST)
    browser.find_element(By.ID, "ask").click()
    wait.until(lambda driver: not driver.find_element(By.ID, "intro").is_displayed())
    browser.find_element(By.ID, "new-conversation").click()
    assert browser.find_element(By.ID, "intro").is_displayed()


def test_empty_submit_says_to_type_a_question(browser: Any, live_url: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(live_url + "/")
    box = browser.find_element(By.ID, "question")
    message = browser.find_element(By.ID, "form-message")
    assert not message.is_displayed()
    for typed in ("", "   "):
        box.clear()
        box.send_keys(typed)
        browser.find_element(By.ID, "ask").click()
        assert message.is_displayed() and message.text == "Type a question first."
        assert browser.switch_to.active_element == box
        assert browser.find_elements(By.CSS_SELECTOR, ".turn") == []
    box.send_keys("W")
    assert not message.is_displayed()


def test_citation_opens_its_article_with_the_sentence_highlighted(
    browser: Any, live_url: str, pipeline: Pipeline
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    expected = pipeline.ask(FIRST)
    assert expected.citations
    browser.get(live_url + "/")
    wait = WebDriverWait(browser, 20)
    browser.find_element(By.ID, "question").send_keys(FIRST)
    browser.find_element(By.ID, "ask").click()
    wait.until(lambda driver: driver.find_elements(By.CSS_SELECTOR, ".turn:not([data-state=pending])"))
    links = browser.find_elements(By.CSS_SELECTOR, ".citation a.doc-link")
    assert len(links) == len(expected.citations)
    view = browser.find_element(By.ID, "doc-view")
    for link, citation in list(zip(links, expected.citations, strict=True))[:2]:
        assert link.text == citation.title
        link.click()
        wait.until(lambda driver: driver.find_element(By.ID, "doc-text").get_attribute("data-state") == "marked")
        assert view.is_displayed()
        assert browser.find_element(By.ID, "doc-title").text == citation.title
        document = pipeline.documents_by_id[citation.doc_id]
        text = browser.execute_script("return document.getElementById('doc-text').textContent")
        assert text == document.text  # the whole article
        mark = browser.find_element(By.CSS_SELECTOR, "#doc-text mark.cited")
        assert mark.text.split() == citation.sentence.split()
        assert browser.execute_script(
            "const m = arguments[0].getBoundingClientRect(), p = arguments[1].getBoundingClientRect();"
            "return m.top >= p.top && m.bottom <= p.bottom;",
            mark,
            browser.find_element(By.ID, "doc-text"),
        ), "the cited sentence is scrolled into view"
        browser.find_element(By.ID, "doc-close").click()
        assert not view.is_displayed()
    links[0].click()
    wait.until(lambda driver: driver.find_element(By.ID, "doc-view").is_displayed())
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    wait.until(lambda driver: not driver.find_element(By.ID, "doc-view").is_displayed())


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["laptop", "phone"])
def test_input_bar_spans_the_window_below_the_conversation(browser: Any, live_url: str, size: tuple[int, int]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.set_window_size(*size)
    try:
        browser.get(live_url + "/")
        wait = WebDriverWait(browser, 20)
        for number in (1, 2, 3):  # enough turns that the conversation scrolls
            browser.find_element(By.ID, "question").send_keys(FIRST)
            browser.find_element(By.ID, "ask").click()
            wait.until(
                lambda driver, n=number: (
                    len(driver.find_elements(By.CSS_SELECTOR, ".turn:not([data-state=pending])")) == n
                )
            )
        box = browser.execute_script(
            "const f = document.getElementById('ask-form').getBoundingClientRect();"
            "const m = document.getElementById('scroller').getBoundingClientRect();"
            "const s = document.getElementById('scroller');"
            "return {left: f.left, width: f.width, top: f.top, bottom: f.bottom, mainBottom: m.bottom,"
            " viewport: document.documentElement.clientWidth, innerWidth: window.innerWidth,"
            " height: window.innerHeight, pageScrolls: document.documentElement.scrollHeight > window.innerHeight,"
            " mainScrolls: s.scrollHeight > s.clientHeight, wide: document.documentElement.scrollWidth};"
        )
        assert box["viewport"] == box["innerWidth"]  # no page scrollbar: only the conversation scrolls
        assert box["left"] == 0 and box["width"] == box["viewport"]
        assert abs(box["bottom"] - box["height"]) < 1  # pinned to the bottom
        assert box["mainBottom"] <= box["top"] + 0.5  # the conversation ends where the bar begins
        assert not box["pageScrolls"] and box["mainScrolls"]
        assert box["wide"] <= box["viewport"]  # nothing sticks out sideways
        wait.until(lambda driver: not driver.find_elements(By.CSS_SELECTOR, ".citation-context[data-context=loading]"))
        answer = browser.find_elements(By.CSS_SELECTOR, ".turn .answer-text")[-1]
        assert browser.execute_script(
            "const a = arguments[0].getBoundingClientRect();"
            "const m = document.getElementById('scroller').getBoundingClientRect();"
            "return a.top >= m.top - 0.5 && a.bottom <= arguments[1] + 0.5;",
            answer,
            box["top"],
        ), "the newest answer is shown above the bar, not under it"
        last = browser.find_elements(By.CSS_SELECTOR, ".turn")[-1]
        browser.execute_script("const s = document.getElementById('scroller'); s.scrollTop = s.scrollHeight;")
        assert browser.execute_script(
            "return arguments[0].getBoundingClientRect().bottom <= arguments[1] + 0.5", last, box["top"]
        ), "scrolled to the end, the last turn ends above the bar"
    finally:
        browser.set_window_size(*WINDOW)
