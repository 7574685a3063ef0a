// Hosts the Deskmate sidebar page in an iframe and hands it the API key and queries.
const frame = document.getElementById("sidebar");
let origin = null;
let ready = false;

async function settings() {
  const { url = "" } = await chrome.storage.sync.get("url");
  const { apiKey = "" } = await chrome.storage.local.get("apiKey");
  return { url: url.replace(/\/+$/, ""), apiKey };
}

function post(message) {
  if (ready && origin) frame.contentWindow.postMessage(message, origin);
}

async function sendPendingQuery() {
  const { pendingQuery } = await chrome.storage.session.get("pendingQuery");
  if (!pendingQuery || !ready) return;
  post({ type: "deskmate:search", q: pendingQuery.q });
  await chrome.storage.session.remove("pendingQuery");
}

async function start() {
  const { url, apiKey } = await settings();
  if (!url) {
    document.getElementById("setup").hidden = false;
    return;
  }
  origin = new URL(url).origin;
  window.addEventListener("message", (event) => {
    if (event.source !== frame.contentWindow || event.origin !== origin) return;
    if (event.data?.type === "deskmate:ready") {
      ready = true;
      post({ type: "deskmate:config", apiKey });
      sendPendingQuery();
    }
  });
  chrome.storage.session.onChanged.addListener((changes) => {
    if (changes.pendingQuery?.newValue) sendPendingQuery();
  });
  frame.src = `${url}/sidebar`;
  frame.hidden = false;
}

start();
