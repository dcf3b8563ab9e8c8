"""The web chat page in a real browser: headless Chromium (Debian's chromium + chromium-driver) via selenium,
against a live `askidcpc serve`. Two questions, the second a follow-up; the answers and citations shown must be the
pipeline's own. Before the first question the page lists the articles; an empty submit says so; a citation opens
its article with the cited sentence highlighted; the input bar spans the window on a laptop and on a phone; the
start screen offers example questions drawn from the corpus; everything works from the keyboard.

Skipped only where Chromium is not installed and CI is not set; in CI (CI=true) a missing browser is a failure.
With ASKIDCPC_SCREENSHOTS=1 the layout test also saves README's screenshots, docs/web-{desktop,phone}-{start,answer}.png
(off by default, so a test run never rewrites tracked files).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from askidcpc.edges.render import ABSTAIN_MESSAGE, confidence_text
from askidcpc.pipeline import Pipeline
from tests.edges.conftest import running_server

# Slow: a real browser against a live server.
pytestmark = pytest.mark.slow

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

DOCS = Path(__file__).resolve().parents[2] / "docs"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}

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
            assert turn.find_element(By.CSS_SELECTOR, ".confidence").text == confidence_text(answer.confidence)
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


# The layout checks shared by the start screen and an answered question: the bar pinned under the conversation,
# nothing wider than the window, and no visible text of the conversation under the bar.
LAYOUT = """
const bar = document.getElementById('ask-form').getBoundingClientRect();
const main = document.getElementById('scroller').getBoundingClientRect();
const hidden = [];
for (const node of document.querySelectorAll('#scroller p, #scroller li, #scroller h2, #scroller button')) {
  const box = node.getBoundingClientRect();
  if (!box.height || node.closest('[hidden]')) continue;
  const shownBottom = Math.min(box.bottom, main.bottom);  // what the scroller does not clip
  if (box.top < bar.top - 0.5 && shownBottom > bar.top + 0.5) hidden.push(node.textContent.slice(0, 40));
}
return {barTop: bar.top, barBottom: bar.bottom, barWidth: bar.width, mainBottom: main.bottom,
        width: window.innerWidth, height: window.innerHeight, scrollWidth: document.documentElement.scrollWidth,
        underBar: hidden};
"""


def _viewport(browser: Any, size: tuple[int, int], phone: bool) -> None:
    """Exactly ``size`` CSS pixels at device scale 1 (a phone: a touch viewport), whatever the window's frame."""
    width, height = size
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": phone},
    )


def _check_layout(browser: Any, size: tuple[int, int]) -> None:
    box = browser.execute_script(LAYOUT)
    assert (box["width"], box["height"]) == size
    assert box["barWidth"] == box["width"] and abs(box["barBottom"] - box["height"]) < 1  # pinned, full width
    assert box["mainBottom"] <= box["barTop"] + 0.5  # the conversation ends where the bar begins
    assert box["scrollWidth"] <= box["width"]  # nothing sticks out sideways
    assert box["underBar"] == [], "text shown under the input bar"


@pytest.mark.parametrize("name", list(SIZES))
def test_start_screen_and_an_answer_at_desktop_and_phone_size(
    browser: Any, live_url: str, pipeline: Pipeline, name: str
) -> None:
    """The start screen lists the articles and the corpus's example questions; choosing one asks it; the bar never
    covers text. With ASKIDCPC_SCREENSHOTS=1, docs/web-{name}-start.png and docs/web-{name}-answer.png are saved."""
    import httpx
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from askidcpc.edges.examples import example_questions

    size = SIZES[name]
    screenshots = os.environ.get("ASKIDCPC_SCREENSHOTS") == "1"
    served = httpx.get(live_url + "/examples", timeout=30).json()["examples"]
    assert served == list(example_questions(pipeline.documents, pipeline.ask)) and served
    _viewport(browser, size, phone=name == "phone")
    try:
        browser.get(live_url + "/")
        wait = WebDriverWait(browser, 20)
        wait.until(lambda driver: driver.find_element(By.ID, "articles").get_attribute("data-state") == "loaded")
        wait.until(lambda driver: driver.find_element(By.ID, "examples").get_attribute("data-state") != "loading")
        wait.until(lambda driver: "sentences" in driver.find_element(By.ID, "corpus-note").text)
        titles = [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#articles .article-title")]
        assert titles == [document.title for document in pipeline.documents]
        buttons = browser.find_elements(By.CSS_SELECTOR, "#examples button.example")
        assert [button.text for button in buttons] == served
        assert all(button.is_displayed() for button in buttons)
        _check_layout(browser, size)
        if screenshots:
            assert browser.save_screenshot(str(DOCS / f"web-{name}-start.png"))

        question = served[0]
        expected = pipeline.ask(question)
        buttons[0].click()
        wait.until(lambda driver: driver.find_elements(By.CSS_SELECTOR, ".turn:not([data-state=pending])"))
        wait.until(lambda driver: not driver.find_elements(By.CSS_SELECTOR, ".citation-context[data-context=loading]"))
        assert browser.find_element(By.CSS_SELECTOR, ".turn .question").text == question
        assert expected.answer is not None
        shown = browser.find_element(By.CSS_SELECTOR, ".turn .answer-text").text
        assert " ".join(shown.split()) == " ".join(expected.answer.split())
        assert browser.find_element(By.ID, "question").get_attribute("value") == ""
        _check_layout(browser, size)
        if screenshots:
            browser.execute_script("document.getElementById('scroller').scrollTop = 0")
            _check_layout(browser, size)
            assert browser.save_screenshot(str(DOCS / f"web-{name}-answer.png"))
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_no_examples_leave_a_tidy_start_screen(browser: Any, tmp_path: Path) -> None:
    """A two-sentence corpus with no name gives no example: the examples' heading is not shown, the article is."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    (tmp_path / "weather.md").write_text("---\ntitle: Weather\n---\n\nIt rained all day. Then it stopped.\n")
    with running_server("--corpus", str(tmp_path)) as (url, _):
        browser.get(url + "/")
        wait = WebDriverWait(browser, 20)
        wait.until(lambda driver: driver.find_element(By.ID, "examples").get_attribute("data-state") == "empty")
        wait.until(lambda driver: driver.find_element(By.ID, "articles").get_attribute("data-state") == "loaded")
        assert not browser.find_element(By.ID, "examples-box").is_displayed()
        assert [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#articles .article-title")] == ["Weather"]
        _check_layout(browser, tuple(browser.execute_script("return [innerWidth, innerHeight]")))


FOCUSED = """
const node = document.activeElement, style = getComputedStyle(node);
return {id: node.id, cls: node.className, text: node.textContent.trim().slice(0, 80),
        outline: style.outlineStyle, width: parseFloat(style.outlineWidth)};
"""


def test_keyboard_alone_reaches_and_uses_everything(browser: Any, live_url: str, pipeline: Pipeline) -> None:
    """Tab visits the header button, the examples, the articles, then the bar, each with a visible outline; Enter on
    an example asks it and Enter in the input sends; a citation opens with Enter, Escape closes it and gives the focus
    back to the citation."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(live_url + "/")
    wait = WebDriverWait(browser, 20)
    wait.until(lambda driver: driver.find_element(By.ID, "examples").get_attribute("data-state") == "loaded")
    wait.until(lambda driver: driver.find_element(By.ID, "articles").get_attribute("data-state") == "loaded")
    examples = [button.text for button in browser.find_elements(By.CSS_SELECTOR, "button.example")]
    titles = [document.title for document in pipeline.documents]
    browser.find_element(By.TAG_NAME, "h1").click()  # the keyboard's starting point: the top of the page

    def tab(shift: bool = False) -> dict[str, Any]:
        keys = ActionChains(browser)
        (keys.key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT) if shift else keys.send_keys(Keys.TAB))
        keys.perform()
        focused: dict[str, Any] = browser.execute_script(FOCUSED)
        assert focused["outline"] != "none" and focused["width"] >= 2, f"no visible focus on {focused}"
        return focused

    visited = [tab() for _ in range(1 + len(examples) + len(titles) + 3)]
    assert [f["id"] or f["text"] for f in visited] == [
        "new-conversation",
        *examples,
        *titles,
        "question",
        "top-k",
        "ask",
    ]

    browser.find_element(By.TAG_NAME, "h1").click()
    tab()
    focused = tab()  # the first example
    assert focused["text"] == examples[0]
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    wait.until(lambda driver: driver.find_elements(By.CSS_SELECTOR, ".turn:not([data-state=pending])"))
    assert browser.find_element(By.CSS_SELECTOR, ".turn .question").text == examples[0]
    assert browser.execute_script("return document.activeElement.id") == "question"

    ActionChains(browser).send_keys(FIRST, Keys.ENTER).perform()
    wait.until(lambda driver: len(driver.find_elements(By.CSS_SELECTOR, ".turn:not([data-state=pending])")) == 2)
    assert browser.find_elements(By.CSS_SELECTOR, ".turn .question")[-1].text == FIRST

    link = browser.find_elements(By.CSS_SELECTOR, ".turn")[-1].find_element(By.CSS_SELECTOR, ".citation a.doc-link")
    browser.execute_script("arguments[0].focus()", link)
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    wait.until(lambda driver: driver.find_element(By.ID, "doc-text").get_attribute("data-state") == "marked")
    closer: dict[str, Any] = browser.execute_script(FOCUSED)
    assert closer["id"] == "doc-close"
    assert tab()["id"] == "doc-text"  # the article's text takes the focus, so arrow keys scroll it
    ActionChains(browser).send_keys(Keys.ESCAPE).perform()
    wait.until(lambda driver: not driver.find_element(By.ID, "doc-view").is_displayed())
    assert browser.execute_script("return document.activeElement") == link


def test_page_says_how_a_mistyped_question_was_read(browser: Any, live_url: str, pipeline: Pipeline) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    typed = "Was Song Tao a deputy foriegn minister?"
    read_as = pipeline.ask(typed).read_as
    assert read_as == "Was Song Tao a deputy foreign minister?"
    browser.get(live_url + "/")
    wait = WebDriverWait(browser, 20)
    wait.until(lambda driver: "sentences" in driver.find_element(By.ID, "corpus-note").text)
    for question in [typed, FIRST]:
        browser.find_element(By.ID, "question").send_keys(question)
        browser.find_element(By.ID, "ask").click()
    wait.until(lambda driver: len(driver.find_elements(By.CSS_SELECTOR, ".turn:not([data-state=pending])")) == 2)
    mistyped, right = browser.find_elements(By.CSS_SELECTOR, ".turn")
    assert mistyped.find_element(By.CSS_SELECTOR, ".question").text == typed
    assert mistyped.find_element(By.CSS_SELECTOR, ".read-as").text == f"read as: {read_as}"
    assert not right.find_elements(By.CSS_SELECTOR, ".read-as")
