// The askidcpc chat page: POST /ask with the conversation's earlier questions as `history`, show each answer with
// its citations, and each cited sentence highlighted among its neighbours (GET /documents/{id}/context).
// Before the first question it lists the corpus's articles (GET /documents); a citation's title opens the article
// (GET /documents/{id}) in a side panel with the cited sentence highlighted, and example questions drawn from the
// corpus (GET /examples; none for a corpus too small to give any): choosing one asks it.
// No framework and no network beyond this server; all text is inserted with textContent, never as HTML.
"use strict";

const MAX_HISTORY = 20;
const ABSTAIN_MESSAGE = "The articles do not answer this question.";
// A confidence is the probability that the answer is right: under one half, the answer is shown with a note
// (the terminal's askidcpc.edges.render.confidence_text).
const UNSURE_BELOW = 0.5;
const UNSURE_NOTE = "more likely wrong than right";

const state = { history: [], opener: null };
const contexts = new Map();
const documents = new Map();
const EMPTY_MESSAGE = "Type a question first.";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function errorMessage(status, body) {
  if (body && typeof body.detail === "string") return body.detail;
  return `The server answered ${status}.`;
}

function fetchDocument(docId) {
  if (!documents.has(docId)) {
    const url = `/documents/${encodeURIComponent(docId)}`;
    const found = fetch(url).then((response) => (response.ok ? response.json() : null)).catch(() => null);
    documents.set(docId, found);
    found.then((body) => { if (body === null) documents.delete(docId); });
  }
  return documents.get(docId);
}

function docMeta(meta) {
  return [meta.date, meta.source, meta.author].filter(Boolean).join(" · ");
}

// The article in the side panel; with a span [start, end) that is `sentence`, that span is marked and scrolled to.
async function openDocument(docId, span, opener) {
  const view = document.getElementById("doc-view");
  const title = document.getElementById("doc-title");
  const meta = document.getElementById("doc-meta");
  const text = document.getElementById("doc-text");
  view.dataset.docId = docId;
  title.textContent = "Loading the article…";
  meta.textContent = "";
  text.replaceChildren();
  text.dataset.state = "loading";
  view.hidden = false;
  state.opener = opener || null;
  document.getElementById("doc-close").focus();
  const found = await fetchDocument(docId);
  if (view.dataset.docId !== docId) return; // another article was opened meanwhile
  if (found === null) {
    title.textContent = "The article could not be loaded.";
    text.dataset.state = "missing";
    return;
  }
  title.textContent = found.title;
  meta.textContent = docMeta(found);
  let start = -1;
  let end = -1;
  if (span) {
    if (found.text.slice(span.start, span.end) === span.sentence) {
      ({ start, end } = span);
    } else {
      start = found.text.indexOf(span.sentence);
      end = start < 0 ? -1 : start + span.sentence.length;
    }
  }
  if (start < 0) {
    text.textContent = found.text;
    text.dataset.state = span ? "unmarked" : "loaded";
    text.scrollTop = 0;
    return;
  }
  const mark = el("mark", "cited", found.text.slice(start, end));
  text.replaceChildren(document.createTextNode(found.text.slice(0, start)), mark,
    document.createTextNode(found.text.slice(end)));
  text.dataset.state = "marked";
  mark.scrollIntoView({ block: "center" });
}

function closeDocument() {
  const view = document.getElementById("doc-view");
  if (view.hidden) return;
  view.hidden = true;
  delete view.dataset.docId;
  if (state.opener && document.contains(state.opener)) state.opener.focus();
  else document.getElementById("question").focus();
  state.opener = null;
}

function docLink(docId, text, span) {
  const link = el("a", "doc-link", text);
  link.href = `#document-${encodeURIComponent(docId)}`;
  link.dataset.docId = docId;
  link.title = span ? "Read the article, the cited sentence highlighted" : "Read the article";
  link.addEventListener("click", (event) => {
    event.preventDefault();
    openDocument(docId, span, link);
  });
  return link;
}

async function fetchContext(citation) {
  const key = `${citation.doc_id}:${citation.start}:${citation.end}`;
  if (!contexts.has(key)) {
    const url = `/documents/${encodeURIComponent(citation.doc_id)}/context?start=${citation.start}&end=${citation.end}`;
    contexts.set(key, fetch(url).then((response) => (response.ok ? response.json() : null)).catch(() => null));
  }
  return contexts.get(key);
}

// The newest turn in view: the whole of it if it fits above the input bar, else from its question down.
function showTurn(turn) {
  const conversation = document.getElementById("conversation");
  if (conversation.lastElementChild !== turn) return;
  const scroller = document.getElementById("scroller");
  const room = scroller.clientHeight;
  const box = turn.getBoundingClientRect();
  turn.scrollIntoView({ block: box.height + 16 > room ? "start" : "end" });
}

function renderCitation(citation, turn) {
  const item = el("li", "citation");
  const head = el("div", "citation-head");
  const span = { start: citation.start, end: citation.end, sentence: citation.sentence };
  const title = el("span", "citation-title");
  title.append(docLink(citation.doc_id, citation.title, span));
  head.append(title);
  if (citation.date) head.append(el("span", "citation-date", ` (${citation.date})`));
  const where = [citation.source, citation.doc_id].filter(Boolean).join(", ");
  head.append(el("span", "citation-where", ` — ${where}`));
  item.append(head);

  const context = el("p", "citation-context");
  const before = el("span", "before");
  const sentence = el("mark", "sentence", citation.sentence);
  const after = el("span", "after");
  context.append(before, sentence, after);
  context.dataset.context = "loading";
  item.append(context);
  fetchContext(citation).then((found) => {
    if (found && found.sentence === citation.sentence) {
      before.textContent = found.before;
      after.textContent = found.after;
      context.dataset.context = "loaded";
    } else {
      context.dataset.context = "missing";
    }
    if (turn) showTurn(turn);
  });
  return item;
}

// The answer's text with its short answer (a phrase of the first cited sentence) highlighted where the answer quotes
// that sentence. The offsets are Python's (code points), so they are counted over the sentence's code points.
function answerText(answer) {
  const paragraph = el("p", "answer-text");
  const short = answer.short_answer;
  const cited = answer.citations[0];
  const at = short && cited ? answer.answer.indexOf(cited.sentence) : -1;
  const before = at < 0 ? "" : Array.from(cited.sentence).slice(0, short.start - cited.start).join("");
  if (at < 0 || !cited.sentence.startsWith(before + short.text, 0) || short.start < cited.start) {
    paragraph.textContent = answer.answer;
    return paragraph;
  }
  const start = at + before.length;
  const end = start + short.text.length;
  paragraph.append(document.createTextNode(answer.answer.slice(0, start)), el("strong", "short-answer", short.text),
    document.createTextNode(answer.answer.slice(end)));
  return paragraph;
}

function confidenceText(confidence) {
  const shown = `confidence ${confidence.toFixed(2)}`;
  return confidence < UNSURE_BELOW ? `${shown}; ${UNSURE_NOTE}` : shown;
}

function renderAnswer(turn, reply, answer) {
  reply.replaceChildren();
  const abstained = answer.answer === null;
  turn.dataset.state = abstained ? "abstained" : "answered";
  if (answer.read_as) reply.append(el("p", "meta read-as", `read as: ${answer.read_as}`));
  reply.append(abstained ? el("p", "answer-text", ABSTAIN_MESSAGE) : answerText(answer));
  if (abstained) {
    const note = answer.citations.length ? "Nearest sentences:" : "No sentence in the articles is close to it.";
    reply.append(el("p", "meta", note));
  } else {
    reply.append(el("p", "meta confidence", confidenceText(answer.confidence)));
  }
  if (answer.citations.length) {
    const list = el("ol", "citations");
    for (const citation of answer.citations) list.append(renderCitation(citation, turn));
    reply.append(list);
  }
}

function renderError(turn, reply, message) {
  reply.replaceChildren(el("p", "answer-text", message));
  turn.dataset.state = "error";
}

async function ask(question, topK) {
  const conversation = document.getElementById("conversation");
  document.getElementById("intro").hidden = true;
  const turn = el("li", "turn");
  turn.dataset.state = "pending";
  const reply = el("div", "reply");
  reply.append(el("p", "answer-text", "Looking in the articles…"));
  turn.append(el("p", "question", question), reply);
  conversation.append(turn);
  turn.scrollIntoView({ block: "end" });

  const request = { question, top_k: topK, history: state.history.slice(-MAX_HISTORY) };
  try {
    const response = await fetch("/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(request),
    });
    const body = await response.json().catch(() => null);
    if (!response.ok || body === null) {
      renderError(turn, reply, errorMessage(response.status, body));
      return;
    }
    state.history.push(body.question);
    renderAnswer(turn, reply, body);
  } catch (error) {
    renderError(turn, reply, `Could not reach the server (${error.message}).`);
  }
  showTurn(turn);
}

async function showArticles() {
  const list = document.getElementById("articles");
  try {
    const response = await fetch("/documents");
    if (!response.ok) throw new Error(`status ${response.status}`);
    const found = await response.json();
    list.replaceChildren();
    for (const meta of found) {
      const item = el("li", "article");
      item.dataset.docId = meta.doc_id;
      const title = el("span", "article-title");
      title.append(docLink(meta.doc_id, meta.title, null));
      item.append(title, el("span", "article-meta", docMeta(meta)));
      list.append(item);
    }
    list.dataset.state = "loaded";
  } catch (error) {
    list.replaceChildren(el("li", "meta", "The list of articles could not be loaded."));
    list.dataset.state = "error";
  }
}

// The example questions, as buttons that put the question in the input and ask it; hidden when there are none.
async function showExamples(askExample) {
  const box = document.getElementById("examples-box");
  const list = document.getElementById("examples");
  let found = [];
  try {
    const response = await fetch("/examples");
    if (response.ok) found = (await response.json()).examples || [];
  } catch (error) {
    // No examples: the start screen still lists the articles.
  }
  list.replaceChildren();
  for (const question of found) {
    const item = el("li");
    const button = el("button", "example", question);
    button.type = "button";
    button.addEventListener("click", () => askExample(question));
    item.append(button);
    list.append(item);
  }
  list.dataset.state = found.length ? "loaded" : "empty";
  box.hidden = !found.length;
}

async function showCorpus() {
  try {
    const response = await fetch("/health");
    if (!response.ok) return;
    const health = await response.json();
    document.getElementById("corpus-note").textContent =
      `${health.documents} articles, ${health.passages} sentences. ` +
      "Answers are sentences quoted from the articles, each with its source.";
  } catch (error) {
    // The note keeps its default text.
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("ask-form");
  const input = document.getElementById("question");
  const button = document.getElementById("ask");
  const topK = document.getElementById("top-k");
  const message = document.getElementById("form-message");

  function showMessage(text) {
    message.textContent = text || "";
    message.hidden = !text;
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  input.addEventListener("input", () => { if (!message.hidden && input.value.trim()) showMessage(null); });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const question = input.value.trim();
    if (!question) {
      showMessage(EMPTY_MESSAGE);
      input.focus();
      return;
    }
    showMessage(null);
    input.value = "";
    button.disabled = true;
    try {
      await ask(question, Number(topK.value));
    } finally {
      button.disabled = false;
      input.focus();
    }
  });

  document.getElementById("new-conversation").addEventListener("click", () => {
    state.history = [];
    document.getElementById("conversation").replaceChildren();
    document.getElementById("intro").hidden = false;
    showMessage(null);
    closeDocument();
    input.focus();
  });

  document.getElementById("doc-close").addEventListener("click", closeDocument);
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") closeDocument(); });

  showExamples((question) => {
    input.value = question;
    form.requestSubmit();
  });
  showArticles();
  showCorpus();
  input.focus();
});
