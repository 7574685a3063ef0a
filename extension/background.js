// Opens the side panel from the toolbar button, the shortcut and the context menu.
const MENU_ID = "deskmate-search";

chrome.runtime.onInstalled.addListener(() => {
  chrome.contextMenus.create({
    id: MENU_ID,
    title: "Search Deskmate for '%s'",
    contexts: ["selection"],
  });
});

chrome.sidePanel.setPanelBehavior({ openPanelOnActionClick: true }).catch(() => {});

chrome.contextMenus.onClicked.addListener(async (info, tab) => {
  if (info.menuItemId !== MENU_ID || !info.selectionText) return;
  // open() must run inside the user gesture, before any await.
  const opening = chrome.sidePanel.open({ windowId: tab.windowId });
  await chrome.storage.session.set({ pendingQuery: { q: info.selectionText.trim(), at: Date.now() } });
  await opening.catch(() => {});
});
