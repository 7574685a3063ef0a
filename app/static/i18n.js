// UI strings in English, Polish, Russian and Persian. KB text is never translated here.
export const STRINGS = {
  en: {
    searchLabel: "Search the knowledge base", placeholder: "Search articles…",
    language: "Language", product: "Product", interface: "Interface", any: "Any",
    hint: "/ search · ↑ ↓ move · Enter open · Esc clear",
    results: (n, q) => `${n} results for “${q}”`, noResults: (q) => `Nothing found for “${q}”`,
    noMatch: (q) => `No good match for “${q}”.`, candidates: "Closest articles:",
    tellOwners: "Tell the KB owners", told: "Thanks, the KB owners will see this query.",
    back: "← Back to results", copySnippet: "Copy snippet", copySection: "Copy section",
    copyLink: "Copy link", copied: "Copied", helpful: "👍 Helpful", notHelpful: "👎 Not helpful",
    thanks: "Thanks for the feedback", stale: "review overdue", internal: "internal",
    keyNeeded: "This Deskmate needs an API key.", saveKey: "Save key",
    forbidden: "Your API key may not do this.", error: "Search failed. Try again.",
    notReady: "The index is not ready yet.", loading: "Loading…", alsoIn: "Also in:",
    updated: "Updated", owner: "Owner", internalSection: "Internal — not for customers",
  },
  pl: {
    searchLabel: "Szukaj w bazie wiedzy", placeholder: "Szukaj artykułów…",
    language: "Język", product: "Produkt", interface: "Interfejs", any: "Dowolny",
    hint: "/ szukaj · ↑ ↓ wybierz · Enter otwórz · Esc wyczyść",
    results: (n, q) => `Wyniki dla „${q}”: ${n}`, noResults: (q) => `Brak wyników dla „${q}”`,
    noMatch: (q) => `Brak dobrego dopasowania dla „${q}”.`, candidates: "Najbliższe artykuły:",
    tellOwners: "Zgłoś autorom bazy", told: "Dziękujemy, autorzy bazy zobaczą to zapytanie.",
    back: "← Wróć do wyników", copySnippet: "Kopiuj fragment", copySection: "Kopiuj sekcję",
    copyLink: "Kopiuj link", copied: "Skopiowano", helpful: "👍 Pomocne", notHelpful: "👎 Niepomocne",
    thanks: "Dziękujemy za opinię", stale: "wymaga przeglądu", internal: "wewnętrzny",
    keyNeeded: "Ten Deskmate wymaga klucza API.", saveKey: "Zapisz klucz",
    forbidden: "Twój klucz API nie ma do tego uprawnień.", error: "Wyszukiwanie nie powiodło się.",
    notReady: "Indeks nie jest jeszcze gotowy.", loading: "Wczytywanie…", alsoIn: "Także w:",
    updated: "Zaktualizowano", owner: "Właściciel", internalSection: "Wewnętrzne — nie dla klientów",
  },
  ru: {
    searchLabel: "Поиск по базе знаний", placeholder: "Искать статьи…",
    language: "Язык", product: "Продукт", interface: "Интерфейс", any: "Любой",
    hint: "/ поиск · ↑ ↓ выбор · Enter открыть · Esc очистить",
    results: (n, q) => `Результатов по «${q}»: ${n}`, noResults: (q) => `Ничего не найдено по «${q}»`,
    noMatch: (q) => `Нет точного ответа на «${q}».`, candidates: "Ближайшие статьи:",
    tellOwners: "Сообщить авторам базы", told: "Спасибо, авторы базы увидят этот запрос.",
    back: "← Назад к результатам", copySnippet: "Копировать фрагмент", copySection: "Копировать раздел",
    copyLink: "Копировать ссылку", copied: "Скопировано", helpful: "👍 Полезно", notHelpful: "👎 Не помогло",
    thanks: "Спасибо за отзыв", stale: "нужна проверка", internal: "внутренняя",
    keyNeeded: "Для этого Deskmate нужен API-ключ.", saveKey: "Сохранить ключ",
    forbidden: "Вашему API-ключу это не разрешено.", error: "Поиск не удался. Попробуйте ещё раз.",
    notReady: "Индекс ещё не готов.", loading: "Загрузка…", alsoIn: "Также на:",
    updated: "Обновлено", owner: "Владелец", internalSection: "Внутреннее — не для клиентов",
  },
  fa: {
    searchLabel: "جستجو در پایگاه دانش", placeholder: "جستجوی مقاله‌ها…",
    language: "زبان", product: "محصول", interface: "زبان رابط", any: "همه",
    hint: "/ جستجو · ↑ ↓ حرکت · Enter باز کردن · Esc پاک کردن",
    results: (n, q) => `${n} نتیجه برای «${q}»`, noResults: (q) => `نتیجه‌ای برای «${q}» پیدا نشد`,
    noMatch: (q) => `پاسخ مناسبی برای «${q}» پیدا نشد.`, candidates: "نزدیک‌ترین مقاله‌ها:",
    tellOwners: "به نویسندگان پایگاه دانش اطلاع بده", told: "ممنون، نویسندگان این جستجو را می‌بینند.",
    back: "→ بازگشت به نتایج", copySnippet: "کپی بخش متن", copySection: "کپی این قسمت",
    copyLink: "کپی پیوند", copied: "کپی شد", helpful: "👍 مفید بود", notHelpful: "👎 مفید نبود",
    thanks: "از بازخورد شما ممنونیم", stale: "نیاز به بازبینی", internal: "داخلی",
    keyNeeded: "این Deskmate به کلید API نیاز دارد.", saveKey: "ذخیره کلید",
    forbidden: "کلید API شما اجازه این کار را ندارد.", error: "جستجو انجام نشد. دوباره تلاش کنید.",
    notReady: "نمایه هنوز آماده نیست.", loading: "در حال بارگذاری…", alsoIn: "به زبان‌های دیگر:",
    updated: "به‌روزرسانی", owner: "مسئول", internalSection: "داخلی — نه برای مشتری",
  },
};

const RTL = new Set(["fa", "ar", "he", "ur"]);

export function pickLanguage(stored, browserLanguages) {
  for (const tag of [stored, ...browserLanguages]) {
    const primary = (tag || "").toLowerCase().split("-")[0];
    if (primary in STRINGS) return primary;
  }
  return "en";
}

export function makeTranslator(lang) {
  const table = STRINGS[lang] || STRINGS.en;
  return (key, ...args) => {
    const value = table[key] ?? STRINGS.en[key] ?? key;
    return typeof value === "function" ? value(...args) : value;
  };
}

export function applyStatic(doc, lang, t) {
  doc.documentElement.lang = lang;
  doc.documentElement.dir = RTL.has(lang) ? "rtl" : "ltr";
  for (const node of doc.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of doc.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
}
