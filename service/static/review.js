// The review page: show queued comments most uncertain first, post the moderator's decision, move on.
"use strict";

const PAGE = 200;
const MAX_PAGE = 500;  // the most /v1/queue gives at once
// skipped: the ids of the comments skipped, which stay queued and are not shown again until a reload
const state = { items: [], index: 0, stance: null, total: 0, skipped: new Set(), more: false, saving: false };
const $ = (id) => document.getElementById(id);
const moderatorInput = $("moderator");
moderatorInput.value = localStorage.getItem("moderator") || "";
moderatorInput.addEventListener("change", () => localStorage.setItem("moderator", moderatorInput.value.trim()));

async function load() {
  // From the top of the queue, leaving out the comments skipped: an offset would pass over a comment
  // when another moderator decides one of them, or when new ones arrive ahead.
  const items = [];
  let offset = 0, full = true, page = null;
  while (full && items.length === 0) {
    const limit = Math.min(MAX_PAGE, PAGE + state.skipped.size);
    let response;
    try {
      response = await fetch(`/v1/queue?limit=${limit}&offset=${offset}`, { credentials: "same-origin" });
    } catch (error) {
      return unloaded(`the server did not answer (${error.message})`);
    }
    if (!response.ok) return unloaded(await problem(response));
    page = await response.json();
    items.push(...page.items.filter((item) => !state.skipped.has(item.comment_id)));
    full = page.items.length === limit;
    offset += limit;
  }
  state.items = items;
  state.more = full;
  state.total = page.total;
  state.index = 0;
  show();
}

// The queue could not be read: say why, and show no comment as if it were the next one.
function unloaded(reason) {
  $("item").hidden = true;
  $("empty").hidden = true;
  $("status").textContent = `Could not load the queue: ${reason}. Reload the page to try again.`;
}

function show() {
  const item = state.items[state.index];
  if (!item && state.more) { load(); return; }  // more wait beyond this page
  const skipped = state.skipped.size;
  $("remaining").textContent = `${state.total} in queue` + (skipped ? `, ${skipped} skipped` : "");
  $("empty").hidden = Boolean(item);
  $("empty").textContent = skipped ? `No more comments to show: the ${skipped} you skipped still wait `
    + "in the queue (reload the page to see them again)." : "The review queue is empty.";
  $("item").hidden = !item;
  $("status").textContent = "";
  if (!item) return;
  $("article-title").textContent = item.article_title || item.article_id || "(no article)";
  highlight($("text"), item.text, item.explanation.map((e) => e.feature).filter((f) => !f.startsWith("[")));
  const scores = $("scores");
  scores.replaceChildren(...Object.entries(item.scores).map(([label, p]) => bar(label, p)));
  $("model-category").textContent = item.category;
  $("model-stance").textContent = item.stance || "unknown";
  $("reasons").textContent = item.reasons.join(", ");
  $("cues").replaceChildren(...item.explanation.filter((e) => e.feature.startsWith("[")).map((e) => {
    const li = document.createElement("li");
    li.textContent = `${e.feature} (+${e.weight.toFixed(2)})`;
    return li;
  }));
  setStance(item.stance);
}

function bar(label, probability) {
  const row = document.createElement("div");
  row.className = "bar";
  row.dataset.label = label;
  const name = document.createElement("span");
  name.textContent = label;
  const track = document.createElement("span");
  const fill = document.createElement("span");
  fill.className = "fill";
  fill.style.display = "block";
  fill.style.width = `${Math.round(probability * 100)}%`;
  track.append(fill);
  const value = document.createElement("span");
  value.textContent = probability.toFixed(2);
  row.append(name, track, value);
  return row;
}

// A letter or digit of a word in any script (JavaScript's \b and \w know only ASCII), but not a
// Chinese or Japanese character: the model reads each of those as a word of its own.
const IN_WORD = "(?:(?![\\p{sc=Han}\\p{sc=Hiragana}\\p{sc=Katakana}])[\\p{L}\\p{M}\\p{N}_])";

// Wrap the explanation's words in <mark>, building text nodes (never HTML) from the comment.
function highlight(element, text, phrases) {
  const words = phrases.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/ /g, "[^\\p{L}\\p{M}\\p{N}]*"));
  element.replaceChildren();
  if (!words.length) { element.textContent = text; return; }
  const pattern = new RegExp(`(?<!${IN_WORD})(${words.join("|")})(?!${IN_WORD})`, "giu");
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    element.append(document.createTextNode(text.slice(last, match.index)));
    const mark = document.createElement("mark");
    mark.textContent = match[0];
    element.append(mark);
    last = match.index + match[0].length;
  }
  element.append(document.createTextNode(text.slice(last)));
}

function setStance(stance) {
  state.stance = stance;
  for (const button of document.querySelectorAll(".stance")) {
    button.setAttribute("aria-pressed", String(button.dataset.stance === stance));
  }
}

async function decide(category) {
  const item = state.items[state.index];
  const moderator = moderatorInput.value.trim();
  if (!item || state.saving) return;  // a second press before the answer would move past a comment unseen
  if (!moderator) { $("status").textContent = "Enter your name as moderator first."; moderatorInput.focus(); return; }
  state.saving = true;
  let response;
  try {
    response = await fetch("/v1/feedback", {
      method: "POST", credentials: "same-origin", headers: { "content-type": "application/json" },
      // expected_revision 0: decided on the queue's undecided comment, so another moderator's decision
      // made meanwhile is not replaced (409) but shown
      body: JSON.stringify({ comment_id: item.comment_id, text: item.text, article_id: item.article_id,
                             category, stance: state.stance, moderator, expected_revision: 0 }),
    });
  } catch (error) {
    $("status").textContent = `Not saved: the server did not answer (${error.message}); try again.`;
    return;
  } finally {
    state.saving = false;
  }
  // 409: decided by another moderator meanwhile; theirs stands and the comment has left the queue too
  const conflict = response.status === 409 ? await problem(response) : null;
  if (!response.ok && conflict === null) { $("status").textContent = `Not saved: ${await problem(response)}`; return; }
  state.total -= 1;
  next();
  if (conflict !== null) $("status").textContent = `Not saved, already decided: ${conflict}`;
}

// What an error answer says is wrong: its JSON "error", else its status.
async function problem(response) {
  const body = await response.json().catch(() => ({}));
  return body.error || `HTTP ${response.status}`;
}

function next() { state.index += 1; show(); }

for (const button of document.querySelectorAll(".category")) {
  button.addEventListener("click", () => decide(button.dataset.category));
}
for (const button of document.querySelectorAll(".stance")) {
  button.addEventListener("click", () => setStance(button.dataset.stance));
}
function skip() {
  if (state.saving) return;  // the decision being saved moves on by itself
  const item = state.items[state.index];
  if (item) state.skipped.add(item.comment_id);
  next();
}

$("skip").addEventListener("click", skip);

const KEYS = { "1": "substantive", "2": "whataboutism", "3": "abusive" };
const STANCE_KEYS = { s: "supports", d: "disputes", n: "neutral" };
document.addEventListener("keydown", (event) => {
  if (event.target instanceof HTMLInputElement || event.ctrlKey || event.metaKey || event.altKey) return;
  if (KEYS[event.key]) { event.preventDefault(); decide(KEYS[event.key]); }
  else if (STANCE_KEYS[event.key]) { event.preventDefault(); setStance(STANCE_KEYS[event.key]); }
  else if (event.key === "j") { event.preventDefault(); skip(); }
});

load();
