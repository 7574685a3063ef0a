// The Deskmate address is synced across the agent's browsers; the API key stays local.
const form = document.getElementById("options");
const url = document.getElementById("url");
const apiKey = document.getElementById("api-key");

async function load() {
  url.value = (await chrome.storage.sync.get("url")).url || "";
  apiKey.value = (await chrome.storage.local.get("apiKey")).apiKey || "";
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  await chrome.storage.sync.set({ url: url.value.trim().replace(/\/+$/, "") });
  await chrome.storage.local.set({ apiKey: apiKey.value.trim() });
  document.getElementById("saved").textContent = "Saved.";
});

load();
