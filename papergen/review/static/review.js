// papergen review page: keyboard-first settling of what grading left open.
// Every decision goes to the server at once (one override each); nothing is kept only here.
"use strict";

const config = JSON.parse(document.getElementById("config").textContent);
const LETTERS = "ABCDEFGH";
const state = {
  grader: config.grader || localStorage.getItem("papergen-grader") || "",
  session: sessionStorage.getItem("papergen-session") || newSession(),
  queue: [],          // [{id, kind, label, held_by}] in risk order
  item: null,         // the item shown (claimed by this tab)
  selection: new Set(),
  yesNo: null,        // absent/violation items: "1" | "0"
  deferred: [],       // ids put off with L (still open)
  mode: "item",       // item | group | done
  people: [],
  group: null,        // per-question view: {number, items, others, focus, selected:Set, answer:Set}
  busy: false,
};

function newSession() {
  const id = (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) + Date.now());
  sessionStorage.setItem("papergen-session", id);
  return id;
}

// -- small DOM helper: text is always set as text, never parsed as HTML ------------------------
function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "style") node.style.cssText = value;  // CSSOM: allowed by the page's CSP, a style attribute is not
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
const $ = (id) => document.getElementById(id);
const kbd = (key) => h("kbd", {}, key);

// -- server ----------------------------------------------------------------------------------
async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  let data = {};
  try { data = await response.json(); } catch (_) { /* not JSON: an HTML error page */ }
  if (!response.ok) {
    const error = new Error(data.error || `服务器返回 ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

function notice(text, kind) {
  const box = $("notice");
  box.textContent = text || "";
  box.className = "notice" + (kind === "info" ? " info" : "");
  box.hidden = !text;
}

function showProgress(progress) {
  if (!progress) return;
  $("progress-text").textContent = `已处理 ${progress.done} / 共 ${progress.total}`;
  $("progress-fill").style.width = progress.total ? `${(100 * progress.done) / progress.total}%` : "100%";
}

async function refreshQueue() {
  const data = await api(`/api/queue?session=${encodeURIComponent(state.session)}`);
  state.queue = data.items;
  showProgress(data.progress);
  renderQueue();
}

function renderQueue() {
  const list = $("queue-list");
  list.replaceChildren(...state.queue.map((entry) => h("li", {
    class: [entry.id === state.item?.id ? "current" : "", entry.held_by ? "held" : "",
            state.deferred.includes(entry.id) ? "deferred" : ""].join(" "),
    dataset: { id: entry.id },
    title: entry.held_by ? `${entry.held_by} 正在处理` : "",
    onclick: () => { if (!entry.held_by) openItem(entry.id); },
  }, h("span", { class: `dot ${entry.kind}` }), h("span", { class: "label" }, entry.label),
     entry.held_by ? h("span", { class: "who-holds" }, `${entry.held_by} 处理中`) : null)));
  $("queue-count").textContent = `（${state.queue.length}）`;
  list.querySelector(".current")?.scrollIntoView({ block: "nearest" });
}

// -- who is deciding -------------------------------------------------------------------------
function setupGrader() {
  const field = $("grader");
  field.value = state.grader;
  if (config.grader) { field.readOnly = true; return; }
  field.addEventListener("change", () => {
    state.grader = field.value.trim();
    localStorage.setItem("papergen-grader", state.grader);
  });
  if (!state.grader) askGrader();
}

function askGrader() {
  $("who").hidden = false;
  const input = $("who-name");
  input.value = state.grader;
  input.focus();
}

$("who-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const name = $("who-name").value.trim();
  if (!name) return;
  state.grader = name;
  localStorage.setItem("papergen-grader", name);
  $("grader").value = name;
  $("who").hidden = true;
  if (!state.item && state.mode === "item") nextItem();
});

function needGrader() {
  if (state.grader) return false;
  askGrader();
  return true;
}

// -- moving through the queue ----------------------------------------------------------------
async function nextItem() {
  if (needGrader()) return;
  try {
    const data = await api("/api/next", { session: state.session, grader: state.grader, skip: state.deferred });
    state.queue = data.queue.items;  // the queue comes with the item: one reading of the store per step
    showProgress(data.queue.progress);
    if (data.item) showItem(data.item);
    else if (data.held) showHeld(data.held);
    else showDone(data.final);
  } catch (error) {
    notice(error.message);
    refreshQueue().catch(() => {});
  }
}

async function openItem(id) {
  if (needGrader()) return;
  try {
    const data = await api("/api/open", { id, session: state.session, grader: state.grader });
    state.queue = data.queue.items;
    showProgress(data.queue.progress);
    showItem(data.item);
  } catch (error) {
    notice(error.message);
    refreshQueue().catch(() => {});
  }
}

function step(direction) {
  const open = state.queue.filter((entry) => !entry.held_by);
  if (!open.length) return;
  const at = open.findIndex((entry) => entry.id === state.item?.id);
  const target = open[(at + direction + open.length) % open.length];
  if (target && target.id !== state.item?.id) openItem(target.id);
}

function defer() {
  if (!state.item) return;
  // a duplicated 准考证号 is put off with all its sheets (each is an item of its own)
  for (const id of [state.item.id, ...state.item.sheets.map((sheet) => sheet.id)]) {
    if (!state.deferred.includes(id)) state.deferred.push(id);
  }
  notice("已放到最后，稍后再处理（仍未处理）", "info");
  nextItem();
}

async function undo() {
  if (needGrader()) return;
  try {
    const data = await api("/api/undo", { grader: state.grader });
    notice("已撤销上一个决定（审计记录中保留为“已撤销”）", "info");
    if (data.item) {
      state.deferred = state.deferred.filter((id) => id !== data.item);
      await openItem(data.item);
      notice("已撤销上一个决定（审计记录中保留为“已撤销”）", "info");
    } else nextItem();
  } catch (error) { notice(error.message); }
}

async function decide(field, value, sheet) {
  if (needGrader() || !state.item || state.busy) return;
  state.busy = true;
  try {
    await api("/api/decide", {
      id: state.item.id, session: state.session, grader: state.grader, field, new: value, sheet: sheet || "",
      reason: ($("reason")?.value || "").trim(),
    });
    state.deferred = state.deferred.filter((id) => id !== state.item.id);
    state.item = null;
    notice("");
    await nextItem();
  } catch (error) {
    notice(error.message);
  } finally {
    state.busy = false;
  }
}

// -- one item --------------------------------------------------------------------------------
function showItem(item) {
  state.mode = "item";
  state.item = item;
  state.selection = new Set();
  state.yesNo = null;
  notice("");
  showView("item");
  const view = $("item-view");
  view.replaceChildren(renderItem(item));
  view.querySelector("[data-autofocus]")?.focus();
  renderQueue();
}

function showView(name) {
  $("item-view").hidden = name !== "item";
  $("group-view").hidden = name !== "group";
  $("done-view").hidden = name !== "done";
  $("mode-item").classList.toggle("active", name !== "group");
  $("mode-group").classList.toggle("active", name === "group");
  $("help").hidden = name !== "item";  // the per-question view has its own key line
}

function who(item) {
  const parts = [item.student_id ? `准考证号 ${item.student_id}` : "准考证号未识别"];
  if (item.name) parts.push(item.name);
  if (item.variant) parts.push(`试卷 ${item.variant}`);
  return parts.join(" · ");
}

function previousNote(item) {
  const p = item.previous;
  if (!p) return null;
  const value = p.field === "answer" ? (p.new || "未作答") : p.new;
  return h("p", { class: "previous" },
    `重新扫描后这一项的读数变了，之前的决定不再自动适用：${p.grader} 于 ${p.at.replace("T", " ").replace("Z", "")} 判为 `,
    h("b", {}, value), `（当时机器读数 ${p.reading || "空白"}）。请重新确认。`);
}

function renderItem(item) {
  const title = item.kind === "mark" ? `第 ${item.number} 题` : item.reason_label;
  const head = h("div", { class: "item-head" },
    h("h1", {}, title),
    h("span", { class: `badge ${item.kind}` }, item.reason_label));
  const meta = h("p", { class: "meta" }, who(item), item.where ? ` · ${item.where}` : "");
  const parts = [head, meta];
  // a mark's message names the options in doubt, and on a black-and-white page why the reader could not tell
  if (item.message) parts.push(h("p", { class: "message" }, item.message));
  parts.push(previousNote(item));
  let body;
  if (item.kind === "mark") body = renderMark(item);
  else if (item.sheets.length) body = renderDuplicate(item);
  else if (item.fields.includes("student_id")) body = renderIdentity(item);
  else if (item.fields.includes("variant")) body = renderVariant(item);
  else if (item.fields.includes("absent") || item.fields.includes("violation")) body = renderYesNo(item);
  else body = renderAck(item);
  parts.push(body);
  parts.push(h("label", { class: "reason" }, "备注（可选，记入审计记录）",
    h("input", { id: "reason", maxlength: "200", autocomplete: "off", placeholder: "例如：打勾视为选 A" })));
  return h("div", { class: "card", dataset: { item: item.id, kind: item.kind } }, ...parts);
}

function thumbBox(item) {
  if (!item.thumb) return h("div");
  return h("div", { class: "thumb-box" },
    h("img", { class: "thumb", src: item.thumb, alt: "整页缩略图", onclick: () => lightbox(item.page) }),
    h("div", {}, "整页（点击放大）"));
}

function crop(src, alt, wide) {
  return h("img", {
    class: "crop" + (wide ? " wide" : ""), src, alt,
    onerror: (event) => event.target.replaceWith(h("p", { class: "notice" }, "无法显示这张扫描（文件已移动或更换）")),
  });
}

function renderMark(item) {
  const letters = item.letters.split("");
  const key = item.key_letters || "";
  const darkness = h("div", { class: "darkness" }, ...letters.flatMap((letter, i) => {
    const value = item.darkness[i] ?? 0;
    const tone = value >= config.marked ? "marked" : value > config.empty ? "doubt" : "";
    return [
      h("span", { class: "letter" }, letter),
      h("span", { class: "scale" },
        h("span", { class: `fill ${tone}`, style: `width:${Math.min(100, Math.max(0, value * 100)).toFixed(1)}%` }),
        h("span", { class: "limit empty", style: `left:${config.empty * 100}%`, title: `空白上限 ${config.empty}` }),
        h("span", { class: "limit", style: `left:${config.marked * 100}%`, title: `填涂下限 ${config.marked}` })),
      h("span", { class: "value" }, value.toFixed(2)),
    ];
  }));
  const legend = h("p", { class: "legend" },
    `每个框的涂黑程度（0 = 白纸，1 = 全黑）：≤ ${config.empty} 判为空白（灰线），≥ ${config.marked} 判为已涂（红线），之间无法自动判断。`);
  const choices = h("div", { class: "choices", id: "choices" },
    ...letters.map((letter) => h("button", {
      type: "button", class: "choice" + (key.includes(letter) ? " is-key" : ""), dataset: { letter },
      onclick: () => toggle(letter),
    }, letter)),
    h("button", { type: "button", class: "choice", dataset: { letter: "blank" }, onclick: () => toggle("0") },
      "0", h("small", {}, "未作答")));
  const facts = h("div", { class: "facts" },
    h("div", { class: "fact" }, h("span", { class: "k" }, "机器读数"), h("span", { class: "v" }, item.read_letters || "无法判断")),
    h("div", { class: "fact" }, h("span", { class: "k" }, "标准答案"), h("span", { class: "v key" }, key || "未知（试卷类型未定）")),
    h("div", { class: "fact" }, h("span", { class: "k" }, "你的判定"), h("span", { class: "v", id: "verdict" }, "—")));
  const actions = h("div", { class: "actions" },
    h("button", { type: "button", class: "primary", id: "confirm", onclick: confirmMark, disabled: true }, "确认", kbd("Enter")),
    h("button", { type: "button", class: "secondary", onclick: defer }, "稍后", kbd("L")),
    h("button", { type: "button", class: "secondary", onclick: () => openGroup(item.number) }, `第 ${item.number} 题批量`, kbd("Q")),
    h("button", { type: "button", class: "secondary", onclick: undo }, "撤销上一个", kbd("Z")));
  return h("div", { class: "item-body" },
    h("div", {}, crop(item.crop, `第 ${item.number} 题的扫描`, true),
      h("p", { class: "legend" }, "蓝框：选项框　绿框：标准答案"),
      facts, darkness, legend, choices, actions),
    thumbBox(item));
}

function toggle(letter) {
  const item = state.item;
  if (!item || item.kind !== "mark") return;
  if (letter === "0") {
    state.selection = state.selection.has("0") ? new Set() : new Set(["0"]);
  } else {
    if (!item.letters.includes(letter)) {
      notice(`第 ${item.number} 题只有选项 ${item.letters}`);
      return;
    }
    state.selection.delete("0");
    if (state.selection.has(letter)) state.selection.delete(letter);
    else state.selection.add(letter);
  }
  notice("");
  for (const button of document.querySelectorAll("#choices .choice")) {
    const name = button.dataset.letter === "blank" ? "0" : button.dataset.letter;
    button.classList.toggle("selected", state.selection.has(name));
  }
  const answer = markAnswer();
  $("verdict").textContent = answer === null ? "—" : answer || "未作答";
  $("confirm").disabled = answer === null;
}

function markAnswer() {
  if (state.selection.has("0")) return "";
  if (!state.selection.size) return null;
  return LETTERS.split("").filter((letter) => state.selection.has(letter)).join("");
}

function confirmMark() {
  const answer = markAnswer();
  if (answer === null) {
    notice("请先选择选项（A–H），或按 0 表示未作答");
    return;
  }
  decide("answer", answer);
}

// -- identity: type or pick the student --------------------------------------------------------
function idInput(onPick, autofocus) {
  const input = h("input", {
    inputmode: "numeric", autocomplete: "off", spellcheck: "false",
    placeholder: config.roster ? "准考证号或姓名" : "准考证号", "data-autofocus": autofocus ? "1" : null,
  });
  const list = h("ul", { class: "suggest", hidden: true });
  let active = -1;
  let shown = [];
  const render = () => {
    const text = input.value.trim();
    shown = text ? state.people.filter((p) => p.id.startsWith(text) || (p.name && p.name.includes(text))).slice(0, 8) : [];
    active = shown.length ? 0 : -1;
    list.replaceChildren(...shown.map((p, i) => h("li", {
      class: i === active ? "active" : "", onmousedown: (event) => { event.preventDefault(); onPick(p.id); },
    }, h("span", { class: "sid" }, p.id), h("span", { class: "nm" }, [p.name, p.klass].filter(Boolean).join(" · ")))));
    list.hidden = !shown.length || (shown.length === 1 && shown[0].id === text);
  };
  input.addEventListener("input", render);
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!shown.length) return;
      active = (active + (event.key === "ArrowDown" ? 1 : -1) + shown.length) % shown.length;
      [...list.children].forEach((li, i) => li.classList.toggle("active", i === active));
    } else if (event.key === "Enter") {
      event.preventDefault();
      event.stopPropagation();
      const text = input.value.trim();
      if (/^\d+$/.test(text)) onPick(text);
      else if (active >= 0 && !list.hidden) onPick(shown[active].id);
      else notice(`请输入 ${config.id_digits} 位准考证号${config.roster ? "，或输入姓名后从列表中选择" : ""}`);
    } else if (event.key === "Escape") {
      if (list.hidden) input.blur();  // back to the page's keys (L, ←, →, Z)
      list.hidden = true;
    }
  });
  return { input, box: h("div", { class: "id-entry" }, input, list) };
}

function renderIdentity(item) {
  const entry = idInput((sid) => decide("student_id", sid), true);
  return h("div", { class: "item-body" },
    h("div", {},
      h("p", { class: "hint" }, "对照考生手写的姓名和准考证号，输入这张答题卡的准考证号："),
      entry.box,
      h("p", { class: "hint" }, kbd("Enter"), " 确认　", kbd("↑"), kbd("↓"), " 在名单建议中选择　", kbd("Esc"), " 离开输入框后 ",
        kbd("L"), " 稍后处理"),
      item.crop ? h("div", { class: "sheet-crop" }, crop(item.crop, "准考证号填涂区", false)) : null),
    thumbBox(item));
}

function renderDuplicate(item) {
  const cards = item.sheets.map((sheet, index) => {
    const entry = idInput((sid) => decide("student_id", sid, sheet.id), index === 0);
    entry.input.addEventListener("keydown", (event) => {
      if (event.key.toLowerCase() === "v" && !event.ctrlKey && !event.metaKey) {
        event.preventDefault();
        event.stopPropagation();
        decide("void", "1", sheet.id);
      }
    });
    entry.input.addEventListener("focus", () => card.classList.add("focus"));
    entry.input.addEventListener("blur", () => card.classList.remove("focus"));
    const card = h("div", { class: "sheet-card", dataset: { sheet: sheet.id } },
      h("h3", {}, `第 ${index + 1} 张：${sheet.where}`),
      h("p", { class: "hint" }, "这是另一名考生 → 输入准考证号，", kbd("Enter")),
      entry.box,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "danger", onclick: () => decide("void", "1", sheet.id) },
          "作废这张（同一张答题卡重复扫描/重复提交）", kbd("V")),
        h("button", { type: "button", class: "secondary", onclick: () => lightbox(sheet.page) }, "看整页")),
      h("div", { class: "sheet-crop" }, crop(sheet.crop, "准考证号填涂区", true)));
    return card;
  });
  return h("div", {},
    h("p", { class: "hint" }, "两张答题卡填了同一个准考证号。要保留两张，就把其中一张改成另一名考生的准考证号；若是同一张答题卡扫描了两次，作废其中一张。",
      kbd("Tab"), " 在两张之间切换。"),
    h("div", { class: "sheets" }, ...cards),
    h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: defer }, "稍后", kbd("L"))));
}

function renderVariant(item) {
  const choices = h("div", { class: "choices", id: "choices" }, ...config.variants.map((name) => h("button", {
    type: "button", class: "choice", dataset: { letter: name }, onclick: () => pickVariant(name),
  }, name)));
  return h("div", { class: "item-body" },
    h("div", {}, item.crop ? crop(item.crop, "试卷类型填涂区", false) : null,
      h("p", { class: "hint" }, "这张答题卡是哪一种试卷？按字母选择，", kbd("Enter"), " 确认。"),
      choices,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "primary", id: "confirm", disabled: true, onclick: confirmVariant }, "确认", kbd("Enter")),
        h("button", { type: "button", class: "secondary", onclick: defer }, "稍后", kbd("L")))),
    thumbBox(item));
}

function pickVariant(name) {
  state.selection = new Set([name]);
  for (const button of document.querySelectorAll("#choices .choice")) {
    button.classList.toggle("selected", button.dataset.letter === name);
  }
  $("confirm").disabled = false;
}

function confirmVariant() {
  const [name] = [...state.selection];
  if (!name) { notice("请先按字母选择试卷类型"); return; }
  decide("variant", name);
}

function yesNoField(item) { return item.fields.includes("violation") ? "violation" : "absent"; }

function renderYesNo(item) {
  const field = yesNoField(item);
  const question = field === "violation" ? "这名考生确实违纪吗？" : "这名考生确实缺考吗？";
  const choices = h("div", { class: "choices", id: "choices" },
    h("button", { type: "button", class: "choice", dataset: { letter: "1" }, onclick: () => pickYesNo("1") }, "是", h("small", {}, "Y")),
    h("button", { type: "button", class: "choice", dataset: { letter: "0" }, onclick: () => pickYesNo("0") }, "否", h("small", {}, "N")));
  return h("div", { class: "item-body" },
    h("div", {}, item.crop ? crop(item.crop, "监考员填涂区", false) : null,
      h("p", { class: "hint" }, question, " 按 ", kbd("Y"), " 或 ", kbd("N"), "，再按 ", kbd("Enter"), " 确认。"),
      choices,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "primary", id: "confirm", disabled: true, onclick: confirmYesNo }, "确认", kbd("Enter")),
        h("button", { type: "button", class: "secondary", onclick: defer }, "稍后", kbd("L")))),
    thumbBox(item));
}

function pickYesNo(value) {
  state.yesNo = value;
  for (const button of document.querySelectorAll("#choices .choice")) {
    button.classList.toggle("selected", button.dataset.letter === value);
  }
  $("confirm").disabled = false;
}

function confirmYesNo() {
  if (state.yesNo === null) { notice("请先按 Y（是）或 N（否）"); return; }
  decide(yesNoField(state.item), state.yesNo);
}

function renderAck(item) {
  // a page (or file) that was not read has nothing to score: it is handled by a rescan or by hand
  const unread = item.kind === "page";
  const hint = unread
    ? "这一页没有评分：重新扫描（以原文件名保存后再评，新的读取替换这一页）或对照答题卡原件人工评阅之后，确认已处理："
    : "看过这张答题卡后，确认按机器的读取计分：";
  const label = unread ? "已处理（已重扫或人工评阅）" : "已核对，按读取结果计分";
  return h("div", { class: "item-body" },
    h("div", {}, item.crop ? crop(item.crop, "整页扫描", true) : null,
      h("p", { class: "hint" }, hint),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "primary", onclick: () => decide("ack", item.reason) }, label, kbd("Enter")),
        h("button", { type: "button", class: "secondary", onclick: defer }, "稍后", kbd("L")))),
    thumbBox(item));
}

function confirmItem() {
  const item = state.item;
  if (!item) return;
  if (item.kind === "mark") confirmMark();
  else if (item.sheets.length || item.fields.includes("student_id")) document.querySelector("#item-view input")?.focus();
  else if (item.fields.includes("variant")) confirmVariant();
  else if (item.fields.includes("absent") || item.fields.includes("violation")) confirmYesNo();
  else decide("ack", item.reason);
}

// -- per-question view ("answer groups") -------------------------------------------------------
async function openGroup(number, everySheet) {
  if (needGrader()) return;
  if (!number) { showQuestionIndex(); return; }
  try {
    const data = await api(`/api/question/${number}${everySheet ? "?all=1" : ""}`);
    if (state.item) {
      await api("/api/release", { id: state.item.id, session: state.session }).catch(() => {});
      state.item = null;
    }
    state.mode = "group";
    state.group = { ...data, every: !!everySheet, focus: 0, selected: new Set(data.items.map((i) => i.id)), answer: new Set() };
    showView("group");
    renderGroup();
    notice("");
    renderQueue();
  } catch (error) { notice(error.message); }
}

async function showQuestionIndex() {
  try {
    const counts = await api("/api/questions");
    if (state.item) {
      await api("/api/release", { id: state.item.id, session: state.session }).catch(() => {});
      state.item = null;
    }
    state.mode = "index";
    showView("group");
    $("group-view").replaceChildren(h("div", { class: "card" },
      h("h1", {}, "按题批量复核"),
      h("p", { class: "hint" }, "选一道题，把所有答题卡上这道题的待处理填涂放在一起比较、一次判定。"),
      counts.length ? h("div", { class: "choices" }, ...counts.map((c) => h("button", {
        type: "button", class: "choice", onclick: () => openGroup(c.number),
      }, `第 ${c.number} 题`, h("small", {}, `${c.open} 张`)))) : h("p", {}, "没有待处理的填涂。")));
    renderQueue();
  } catch (error) { notice(error.message); }
}

function renderGroup() {
  const g = state.group;
  const letters = LETTERS.slice(0, g.options).split("");
  const tiles = g.items.map((item, index) => h("div", {
    class: ["tile", g.selected.has(item.id) ? "selected" : "", index === g.focus ? "focus" : ""].join(" "),
    dataset: { item: item.id },
    onclick: () => { g.focus = index; toggleTile(item.id); },
  }, h("img", { src: item.crop, alt: `第 ${item.number} 题` }),
     h("div", { class: "cap" }, h("span", {}, `${item.student_id || "未识别"} ${item.name || ""}`),
       h("span", {}, "读数 ", h("span", { class: "read" }, item.read_letters || "存疑"), ` · 答案 ${item.key_letters || "?"}`))));
  const others = g.others.map((sheet) => h("div", { class: "tile other" },
    h("img", { src: sheet.crop, alt: "其他答题卡", loading: "lazy" }),
    h("div", { class: "cap" }, h("span", {}, `${sheet.student_id || "未识别"} ${sheet.name || ""}`),
      h("span", {}, sheet.by_hand ? "人工 " : "读数 ", h("b", {}, sheet.letters === null ? "存疑" : sheet.letters || "空白"),
        ` · 答案 ${sheet.key_letters || "?"}`))));
  const answerButtons = letters.map((letter) => h("button", {
    type: "button", class: "choice" + (g.answer.has(letter) ? " selected" : ""), onclick: () => groupLetter(letter),
  }, letter));
  answerButtons.push(h("button", { type: "button", class: "choice" + (g.answer.has("0") ? " selected" : ""), onclick: () => groupLetter("0") },
    "0", h("small", {}, "未作答")));
  const view = $("group-view");
  view.replaceChildren(h("div", {},
    h("div", { class: "group-head" },
      h("h1", {}, `第 ${g.number} 题 · 批量复核`),
      h("span", { class: "meta" }, `待处理 ${g.items.length} 张，已选 ${g.selected.size} 张`),
      h("label", {}, h("input", { type: "checkbox", checked: g.every, onchange: (e) => openGroup(g.number, e.target.checked) }),
        " 同时显示所有答题卡的这道题（仅供对照）"),
      h("button", { type: "button", class: "secondary", onclick: () => { state.mode = "item"; nextItem(); } }, "返回逐项", kbd("Esc"))),
    g.items.length ? h("div", { class: "grid", id: "group-grid" }, ...tiles)
      : h("p", { class: "notice info" }, "这道题没有待处理的填涂。"),
    others.length ? h("h2", { class: "meta" }, "其他答题卡（已读取，仅供对照）") : null,
    others.length ? h("div", { class: "grid" }, ...others) : null,
    h("div", { class: "group-bar" },
      h("span", {}, "把选中的答题卡判为："), h("div", { class: "choices" }, ...answerButtons),
      h("button", { type: "button", class: "primary", onclick: applyGroup, disabled: !g.selected.size || !g.answer.size },
        `应用到选中的 ${g.selected.size} 张`, kbd("Enter")),
      h("span", { class: "hint" }, kbd("←"), kbd("→"), " 移动　", kbd("空格"), " 选中/取消　", kbd("S"), " 全选/全不选"))));
}

function toggleTile(id) {
  const g = state.group;
  if (g.selected.has(id)) g.selected.delete(id); else g.selected.add(id);
  renderGroup();
}

function groupLetter(letter) {
  const g = state.group;
  if (letter === "0") g.answer = g.answer.has("0") ? new Set() : new Set(["0"]);
  else {
    g.answer.delete("0");
    if (g.answer.has(letter)) g.answer.delete(letter); else g.answer.add(letter);
  }
  renderGroup();
}

async function applyGroup() {
  const g = state.group;
  if (needGrader() || !g.selected.size || !g.answer.size || state.busy) {
    if (!g.answer.size) notice("请先按字母选择要应用的答案，或按 0 表示未作答");
    return;
  }
  const answer = g.answer.has("0") ? "" : LETTERS.split("").filter((l) => g.answer.has(l)).join("");
  state.busy = true;
  try {
    const data = await api("/api/decide-many", {
      ids: [...g.selected], session: state.session, grader: state.grader, new: answer,
    });
    showProgress(data.progress);
    const left = data.left.length ? `；${data.left.length} 张未改（${data.left.map((l) => l.why).join("、")}）` : "";
    await openGroup(g.number, g.every);
    notice(`已把 ${data.decided.length} 张判为 ${answer || "未作答"}${left}`, "info");
  } catch (error) { notice(error.message); } finally { state.busy = false; }
  refreshQueue().catch(() => {});
}

function groupKey(event) {
  const g = state.group;
  const key = event.key;
  if (key === "Escape") { state.mode = "item"; nextItem(); return true; }
  if (key === "ArrowRight" || key === "ArrowLeft" || key === "ArrowDown" || key === "ArrowUp") {
    if (!g.items.length) return true;
    const perRow = Math.max(1, Math.round(($("group-grid")?.clientWidth || 900) / 312));
    const delta = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: perRow, ArrowUp: -perRow }[key];
    g.focus = Math.min(g.items.length - 1, Math.max(0, g.focus + delta));
    renderGroup();
    document.querySelector(".tile.focus")?.scrollIntoView({ block: "nearest" });
    return true;
  }
  if (key === " ") { if (g.items[g.focus]) toggleTile(g.items[g.focus].id); return true; }
  if (key.toLowerCase() === "s") {
    g.selected = g.selected.size === g.items.length ? new Set() : new Set(g.items.map((i) => i.id));
    renderGroup();
    return true;
  }
  if (key === "Enter") { applyGroup(); return true; }
  if (key === "0") { groupLetter("0"); return true; }
  const letter = key.toUpperCase();
  if (letter.length === 1 && LETTERS.slice(0, g.options).includes(letter)) { groupLetter(letter); return true; }
  return false;
}

// -- done and waiting ------------------------------------------------------------------------
function showDone(final) {
  state.mode = "done";
  state.item = null;
  showView("done");
  const rows = final ? [
    ["考生", final.students],
    ["总分已确定", final.final],
    ["缺考", final.absent],
    ["仍待复核", final.review],
    ["人工判定", `${final.decisions} 项${final.graders.length ? `（${final.graders.join("、")}）` : ""}`],
  ] : [];
  $("done-view").replaceChildren(h("div", { class: "card done" },
    h("div", { class: "tick" }, "✓"),
    h("h1", {}, "全部处理完毕"),
    h("p", {}, "没有待复核的项目了。所有决定都已保存在成绩库中，并记录了阅卷人和时间。"),
    h("div", { class: "totals" }, ...rows.flatMap(([k, v]) => [h("span", {}, k), h("b", {}, String(v))])),
    h("p", { class: "hint" }, "现在可以关闭这个页面，并重新生成成绩报表和个人反馈（papergen report / papergen feedback）。")));
  renderQueue();
}

function showHeld(count) {
  state.item = null;
  showView("item");
  $("item-view").replaceChildren(h("div", { class: "card" },
    h("h1", {}, "其余项目正由其他阅卷人处理"),
    h("p", {}, `还有 ${count} 项未处理，都已被其他阅卷人打开。它们处理完或被放下后会出现在这里。`),
    h("button", { type: "button", class: "secondary", onclick: nextItem }, "再看一次")));
  renderQueue();
}

function lightbox(src) {
  if (!src) return;
  $("lightbox-image").src = src;
  $("lightbox").hidden = false;
}
$("lightbox").addEventListener("click", () => { $("lightbox").hidden = true; });

// -- suspected key errors (item analysis) ------------------------------------------------------
async function loadKeyErrors() {
  const suspects = await api("/api/key-errors").catch(() => []);
  const box = $("key-errors");
  if (!suspects.length) { box.hidden = true; return; }
  box.hidden = false;
  box.replaceChildren(h("h3", {}, "疑似答案错误（题库字母）"), ...suspects.map((s, index) => h("div", { class: "suspect", title: s.message },
    h("span", {}, `${s.where}（${s.question_id}）：答案 ${s.key}，${s.headline}`),
    h("button", { type: "button", class: "secondary", dataset: { rekey: s.question_id }, onclick: () => rekey(s) },
      `改为 ${s.suspected}`, index === 0 ? kbd("K") : null))));
  state.suspects = suspects;
}

async function rekey(suspect) {
  if (needGrader()) return;
  if (!confirm(`把 ${suspect.where}（${suspect.question_id}）的答案从 ${suspect.key} 改为 ${suspect.suspected}（题库字母）？\n所有答题卡立即按新答案重新计分，这一更正记入审计记录。`)) return;
  try {
    const data = await api("/api/rekey", { question_id: suspect.question_id, answer: suspect.suspected, grader: state.grader });
    showProgress(data.progress);
    notice(`${suspect.where} 的答案已改为 ${suspect.suspected}（已记录，可在审计表中查看）`, "info");
    loadKeyErrors();
    refreshQueue().catch(() => {});
  } catch (error) { notice(error.message); }
}

// -- keyboard --------------------------------------------------------------------------------
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (!$("who").hidden) return;
  if (!$("lightbox").hidden) { if (event.key === "Escape") $("lightbox").hidden = true; return; }
  const target = event.target;
  if (target.id === "reason") {  // the optional note: Enter confirms the item, Esc leaves the note
    if (event.key === "Enter") { event.preventDefault(); confirmItem(); }
    else if (event.key === "Escape") target.blur();
    return;
  }
  if (target.tagName === "INPUT" || target.tagName === "TEXTAREA") return;  // typing a name or a 准考证号
  if (event.key === "Enter" && target.tagName === "BUTTON") return;  // a focused button does its own thing
  let handled = false;
  if (state.mode === "index" && event.key === "Escape") { state.mode = "item"; nextItem(); handled = true; }
  if (state.mode === "group") handled = groupKey(event);
  else if (state.mode === "item") handled = itemKey(event);
  if (!handled && event.key.toLowerCase() === "q" && state.mode === "item") {
    openGroup(state.item?.number); handled = true;
  }
  if (handled) event.preventDefault();
});

function itemKey(event) {
  const key = event.key;
  const item = state.item;
  if (key === "ArrowRight") { step(1); return true; }
  if (key === "ArrowLeft") { step(-1); return true; }
  if (key.toLowerCase() === "z") { undo(); return true; }
  if (key.toLowerCase() === "k" && state.suspects?.length) { rekey(state.suspects[0]); return true; }
  if (!item) return false;
  if (key.toLowerCase() === "l") { defer(); return true; }
  if (key === "Enter") { confirmItem(); return true; }
  if (item.kind === "mark") {
    if (key === "0") { toggle("0"); return true; }
    const letter = key.toUpperCase();
    if (letter.length === 1 && LETTERS.includes(letter)) { toggle(letter); return true; }
  } else if (item.fields.includes("variant")) {
    const letter = key.toUpperCase();
    if (config.variants.includes(letter)) { pickVariant(letter); return true; }
  } else if (item.fields.includes("absent") || item.fields.includes("violation")) {
    if (key.toLowerCase() === "y") { pickYesNo("1"); return true; }
    if (key.toLowerCase() === "n") { pickYesNo("0"); return true; }
  }
  return false;
}

// Clicking an option must not leave the focus on it: Enter then confirms instead of toggling it again.
document.addEventListener("mousedown", (event) => {
  if (event.target.closest(".choice, .tile")) event.preventDefault();
});

$("mode-item").addEventListener("click", () => { if (state.mode !== "item") { state.mode = "item"; nextItem(); } });
$("mode-group").addEventListener("click", () => openGroup(state.item?.number || state.group?.number));

// -- keeping the claim while the item is open; letting go when the tab closes -------------------
setInterval(() => {
  if (state.item && state.grader) {
    api("/api/claim", { id: state.item.id, session: state.session, grader: state.grader }).catch(() => {});
  }
}, 30000);
window.addEventListener("pagehide", () => {
  if (state.item) {
    navigator.sendBeacon("/api/release", new Blob([JSON.stringify({ id: state.item.id, session: state.session })],
      { type: "application/json" }));
  }
});

// -- start -----------------------------------------------------------------------------------
(async function start() {
  setupGrader();
  state.people = await api("/api/people").catch(() => []);
  loadKeyErrors();
  if (state.grader) await nextItem();
  else refreshQueue().catch((error) => notice(error.message));
})();
