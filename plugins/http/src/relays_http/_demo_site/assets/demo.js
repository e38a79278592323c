// The small script of the relays demo: each page's interactive part, no framework.
"use strict";

function show(element, text) {
  element.textContent = text;
}

function headerLines(response, names) {
  const lines = [`HTTP ${response.status} ${response.statusText}`];
  for (const name of names) {
    const value = response.headers.get(name);
    if (value !== null) lines.push(`${name}: ${value}`);
  }
  return lines.join("\n");
}

const pages = {
  async rpc() {
    const form = document.getElementById("rpc");
    if (!form) return;
    let id = 0;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const call = {
        jsonrpc: "2.0",
        method: "add",
        params: [Number(form.a.value), Number(form.b.value)],
        id: ++id,
      };
      const response = await fetch(form.action, {
        method: "POST",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify(call),
      });
      const answer = await response.json();
      show(document.getElementById("sent"), JSON.stringify(call));
      show(document.getElementById("answer"), JSON.stringify(answer));
      show(document.getElementById("sum"), String(answer.result));
    });
  },

  async files() {
    const target = document.getElementById("sample");
    if (!target) return;
    const url = target.dataset.url;
    const names = ["content-type", "content-length", "etag", "last-modified", "accept-ranges",
                   "content-range"];
    const whole = await fetch(url, {cache: "no-store"});
    await whole.text();
    show(document.getElementById("whole"), headerLines(whole, names));
    const etag = whole.headers.get("etag");
    const again = await fetch(url, {cache: "no-store", headers: {"If-None-Match": etag}});
    show(document.getElementById("again"), headerLines(again, names));
    const part = await fetch(url, {cache: "no-store", headers: {"Range": "bytes=0-31"}});
    const text = await part.text();
    show(document.getElementById("range"), headerLines(part, names) + "\n\n" + text);
  },

  async chat() {
    const join = document.getElementById("join");
    if (!join) return;
    const log = document.getElementById("log");
    const say = document.getElementById("say");
    let socket = null;
    join.addEventListener("submit", (event) => {
      event.preventDefault();
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const name = encodeURIComponent(join.name.value);
      socket = new WebSocket(`${scheme}://${location.host}${join.dataset.socket}?name=${name}`);
      socket.addEventListener("open", () => {
        join.hidden = true;
        say.hidden = false;
        document.body.dataset.chat = "open";
        say.text.focus();
      });
      socket.addEventListener("message", (message) => {
        log.textContent += message.data + "\n";
        log.scrollTop = log.scrollHeight;
      });
      socket.addEventListener("close", () => {
        document.body.dataset.chat = "closed";
        log.textContent += "* the connection closed\n";
      });
    });
    say.addEventListener("submit", (event) => {
      event.preventDefault();
      if (socket && say.text.value) socket.send(say.text.value);
      say.text.value = "";
    });
  },

  async events() {
    const log = document.getElementById("log");
    if (!log) return;
    const status = document.getElementById("stream-status");
    const source = new EventSource(log.dataset.url);
    source.addEventListener("open", () => show(status, "connected"));
    source.addEventListener("tick", (event) => {
      log.textContent += `id ${event.lastEventId}: ${event.data}\n`;
    });
    source.addEventListener("done", () => {
      source.close();
      show(status, "the stream ended (reload the page for another)");
    });
  },
};

const setUp = pages[document.body.dataset.page];
if (setUp) setUp();
