// The askidcpc chat page: POST /ask with the conversation's earlier questions as `history`, show each answer with
// its citations, and each cited sentence highlighted among its neighbours (GET /documents/{id}/context).
// No framework and no network beyond this server; all text is inserted with textContent, never as HTML.
"use strict";

const MAX_HISTORY = 20;
const ABSTAIN_MESSAGE = "The articles do not answer this question.";

const state = { history: [] };
const contexts = new Map();

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

async function fetchContext(citation) {
  const key = `${citation.doc_id}:${citation.start}:${citation.end}`;
  if (!contexts.has(key)) {
    const url = `/documents/${encodeURIComponent(citation.doc_id)}/context?start=${citation.start}&end=${citation.end}`;
    contexts.set(key, fetch(url).then((response) => (response.ok ? response.json() : null)).catch(() => null));
  }
  return contexts.get(key);
}

function renderCitation(citation) {
  const item = el("li", "citation");
  const head = el("div", "citation-head");
  head.append(el("span", "citation-title", citation.title));
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
  });
  return item;
}

function renderAnswer(turn, reply, answer) {
  reply.replaceChildren();
  const abstained = answer.answer === null;
  turn.dataset.state = abstained ? "abstained" : "answered";
  reply.append(el("p", "answer-text", abstained ? ABSTAIN_MESSAGE : answer.answer));
  if (abstained) {
    const note = answer.citations.length ? "Nearest sentences:" : "No sentence in the articles is close to it.";
    reply.append(el("p", "meta", note));
  } else {
    reply.append(el("p", "meta confidence", `confidence ${answer.confidence.toFixed(2)}`));
  }
  if (answer.citations.length) {
    const list = el("ol", "citations");
    for (const citation of answer.citations) list.append(renderCitation(citation));
    reply.append(list);
  }
}

function renderError(turn, reply, message) {
  reply.replaceChildren(el("p", "answer-text", message));
  turn.dataset.state = "error";
}

async function ask(question, topK) {
  const conversation = document.getElementById("conversation");
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
  turn.scrollIntoView({ block: "end" });
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

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const question = input.value.trim();
    if (!question) return;
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
    input.focus();
  });

  showCorpus();
  input.focus();
});
