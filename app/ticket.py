"""Turn a helpdesk ticket into search queries: strip e-mail noise, split the body into passages.

Removes, in English, Polish, Russian and Persian (and, by shape, most other languages):
quoted history (``On … wrote:``, ``W dniu … napisał(a):``, ``… написал(а):``, ``… نوشت:``,
``-----Original Message-----``, Outlook ``From:/Sent:`` headers, ``>`` lines), signatures
(``-- ``, sign-offs such as ``Best regards`` / ``Pozdrawiam`` / ``С уважением`` / ``با تشکر``
and everything under them, "Sent from my iPhone"), greetings (``Hi Anna,`` / ``Dzień dobry`` /
``Здравствуйте`` / ``سلام``) and boilerplate ("Thanks in advance", confidentiality notices).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

PASSAGE_CHARS = 500
MAX_PASSAGES = 6
SUBJECT_CHARS = 300

_FLAGS = re.IGNORECASE | re.UNICODE

# A line that opens quoted history; everything from it on is the earlier conversation.
_QUOTE_HEADERS = [
    r"^-{2,}\s*(original message|forwarded message|wiadomość oryginalna|oryginalna wiadomość"
    r"|przekazana wiadomość|исходное сообщение|пересылаемое сообщение|پیام اصلی|پیام ارسال ?شده)"
    r"\s*-{2,}\s*$",
    r"^_{5,}\s*$",                                           # Outlook's rule above the quote
    r"^on\b.{0,200}\bwrote:?\s*$",                            # Gmail / Apple Mail, en
    r"^w dniu\b.{0,200}\bnapisał(a|\(a\))?:\s*$",             # pl
    r"^.{0,200}\d.{0,200}\bнаписал(а|\(а\))?\s*:\s*$",         # ru (a date before it)
    r"^.{0,200}\d.{0,200}\sنوشت(ه است|ه)?\s*[:：]\s*$",          # fa (a date before it)
    r"^.{0,200}<[^<>\s@]+@[^<>\s]+>\s*:\s*$",                 # "3 нояб. 2026 г., Anna <a@b.c>:"
]
_QUOTE_HEADER = re.compile("|".join(f"(?:{p})" for p in _QUOTE_HEADERS), _FLAGS)
# Outlook / Thunderbird header blocks: "From: …" followed closely by "Sent:" / "Date:" / "To:".
_HEADER_FROM = re.compile(r"^\*?(from|od|от|از)\s*:\*?\s*\S", _FLAGS)
_HEADER_NEXT = re.compile(r"^\*?(sent|date|to|subject|wysłano|data|do|temat|отправлено|дата|кому"
                          r"|тема|ارسال ?شده|تاریخ|به|موضوع)\s*:", _FLAGS)

_SIGN_OFFS = (
    "best regards|kind regards|warm regards|regards|best wishes|best|cheers|sincerely"
    "|yours sincerely|yours truly|thanks|thank you|many thanks|thanks again|thx"
    "|pozdrawiam|pozdrawiam serdecznie|serdecznie pozdrawiam|z poważaniem|z wyrazami szacunku"
    "|dziękuję|dziękuje|dzięki|z góry dziękuję|pozdr"
    "|с уважением|с наилучшими пожеланиями|всего доброго|всего хорошего|спасибо|заранее спасибо"
    "|благодарю|с благодарностью"
    "|با تشکر|با سپاس|با احترام|با تشکر و احترام|با سپاس فراوان|ممنون|ممنونم|مرسی|سپاس|سپاسگزارم"
    "|سپاس‌گزارم|ارادتمند|قربان شما|پیشاپیش ممنون"
)
# A sign-off alone on its line, or followed by a short name: "Best regards, Anna".
_SIGN_OFF = re.compile(rf"^({_SIGN_OFFS})\s*[,.!،]*\s*(\S+(\s+\S+){{0,2}})?\s*$", _FLAGS)
_SIGNATURE_MARK = re.compile(
    r"^(--\s*|—\s*|sent from my .*|get outlook for .*|wysłane z .*|wysłano z .*"
    r"|отправлено с .*|отправлено из .*|ارسال ?شده از .*)$", _FLAGS)
_DISCLAIMER = re.compile(
    r"(this (e-?mail|message)( and any attachments?)? (is|are|may be) (strictly )?confidential"
    r"|niniejsza wiadomość.{0,40}poufn|сообщение.{0,40}конфиденциальн|این (ایمیل|پیام).{0,30}محرمانه)",
    _FLAGS)

_GREETINGS = (
    "hi there|hello there|hi all|hello all|hi team|hello team|dear support team|dear support"
    "|dear sir or madam|dear sir/madam|good morning|good afternoon|good evening|greetings"
    "|hi|hello|hey|dear|hiya"
    "|dzień dobry|dzien dobry|dobry wieczór|szanowni państwo|szanowny panie|szanowna pani"
    "|witam serdecznie|witam|cześć|czesc|hej"
    "|здравствуйте|здраствуйте|добрый день|доброе утро|добрый вечер|доброго времени суток|привет"
    "|уважаемые|уважаемый|уважаемая"
    "|با سلام و احترام|با سلام و وقت بخیر|با سلام|سلام و وقت بخیر|سلام وقت بخیر|سلام و خسته نباشید"
    "|سلام|درود|وقت بخیر|روز بخیر|عرض سلام"
)
# A greeting line: the greeting and at most a short name before the punctuation or line end.
_GREETING_LINE = re.compile(rf"^({_GREETINGS})(\s+[^\s,.!:،]+){{0,3}}\s*[,.!:،]*\s*$", _FLAGS)
# A greeting that starts a line which goes on: "Hi, my thermostat…", "سلام، ترموستات…".
_GREETING_PREFIX = re.compile(rf"^({_GREETINGS})\s*[,!:،]\s*", _FLAGS)

_BOILERPLATE = re.compile(
    r"^(i hope (this|you).{0,40}(well|fine|good)|hope you('| a)re (well|doing well)"
    r"|thanks? in advance|thank you in advance|any help (would be|is) (much |greatly )?appreciated"
    r"|please (help|advise|assist)( me)?|looking forward to (hearing from you|your (reply|response))"
    r"|z góry dziękuję( za pomoc)?|z gory dziekuje|proszę o pomoc|prosze o pomoc"
    r"|proszę o (szybką )?odpowiedź|czekam na odpowiedź|liczę na szybką odpowiedź"
    r"|заранее (спасибо|благодарю)|помогите,? пожалуйста|пожалуйста,? помогите|жду ответа"
    r"|буду благодар(ен|на)( за помощь)?"
    r"|پیشاپیش (از )?(شما )?(ممنون|متشکرم|سپاسگزارم)|لطفا راهنمایی کنید|لطفاً راهنمایی کنید"
    r"|لطفا کمک کنید|لطفاً کمک کنید|منتظر پاسخ (شما )?هستم)[\s.!,،؟?]*$",
    _FLAGS)
_SUBJECT_PREFIX = re.compile(
    r"^\s*((re|fw|fwd|aw|wg|odp|pd|tr|ответ|отв|пересл|پاسخ|ارسال مجدد)\s*(\[\d+\])?\s*[:：]\s*"
    r"|\[(#|ticket|ticket #|zgłoszenie #?)?\s*\d+\]\s*)+", _FLAGS)
_CID = re.compile(r"\[(cid|image|obraz|изображение|تصویر)[^\]]*\]", _FLAGS)
_SENTENCE_END = re.compile(r"(?<=[.!?؟…])\s+")
_BLANK = re.compile(r"\n\s*\n")


@dataclass(frozen=True, slots=True)
class CleanTicket:
    """What is left of a ticket to search with."""

    subject: str
    """The subject without reply/forward prefixes and ticket numbers."""
    body: str
    """The customer's own words: no quoted history, greeting, sign-off, signature or boilerplate."""
    passages: tuple[str, ...]
    """The body cut into passages of about :data:`PASSAGE_CHARS`, at most :data:`MAX_PASSAGES`."""

    @property
    def text(self) -> str:
        """Subject and body together (for language detection)."""
        return "\n".join(part for part in (self.subject, self.body) if part)


def clean_ticket(subject: str, body: str) -> CleanTicket:
    """Clean both parts of a ticket and cut the body into passages."""
    cleaned_body = clean_body(body)
    return CleanTicket(clean_subject(subject), cleaned_body, split_passages(cleaned_body))


def clean_subject(subject: str) -> str:
    """``Re: Fwd: [#1234] Refund`` → ``Refund``; whitespace collapsed, at most SUBJECT_CHARS."""
    text = " ".join(subject.split())
    return _SUBJECT_PREFIX.sub("", text).strip()[:SUBJECT_CHARS]


def clean_body(body: str) -> str:
    """The customer's own words of an e-mail-like ticket body (see the module docstring)."""
    lines = [line.strip() for line in _CID.sub("", body).replace("\r\n", "\n").split("\n")]
    lines = _cut_quoted_history(_skip_forward_header(lines))
    lines = [line for line in lines if not line.startswith(">")]
    lines = _cut_signature(lines)
    lines = _drop_greeting(lines)
    lines = [line for line in lines if not _BOILERPLATE.match(line)]
    text = "\n".join(lines)
    return _BLANK.sub("\n\n", text).strip()


def _skip_forward_header(lines: list[str]) -> list[str]:
    """A ticket that is a forwarded mail: drop the marker and its From/Date/Subject lines."""
    first = next((i for i, line in enumerate(lines) if line), None)
    if first is None or not _QUOTE_HEADER.match(lines[first]):
        return lines
    rest = first + 1
    while rest < len(lines) and (not lines[rest] or _HEADER_FROM.match(lines[rest])
                                 or _HEADER_NEXT.match(lines[rest])):
        rest += 1
    return lines[rest:]


def _cut_quoted_history(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        # Mail clients wrap long "On …, Name <address> wrote:" lines in two.
        joined = f"{line} {lines[index + 1]}" if index + 1 < len(lines) else line
        if index > 0 and (_QUOTE_HEADER.match(line) or _QUOTE_HEADER.match(joined)):
            return lines[:index]
        if index > 0 and _HEADER_FROM.match(line) and any(
                _HEADER_NEXT.match(following) for following in lines[index + 1:index + 4]):
            return lines[:index]
    return lines


def _cut_signature(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if index == 0 or not line:
            continue
        if _SIGNATURE_MARK.match(line) or _DISCLAIMER.search(line):
            return lines[:index]
        if _SIGN_OFF.match(line) and _looks_like_closing(lines, index):
            return lines[:index]
    return lines


def _looks_like_closing(lines: list[str], index: int) -> bool:
    """A sign-off closes the message when little text follows it (a name, a title, a phone)."""
    rest = [line for line in lines[index + 1:] if line]
    return len(rest) <= 6 and all(len(line) <= 80 for line in rest)


def _drop_greeting(lines: list[str]) -> list[str]:
    first = next((i for i, line in enumerate(lines) if line), None)
    if first is None:
        return lines
    line = lines[first]
    if _GREETING_LINE.match(line):
        return lines[:first] + lines[first + 1:]
    return lines[:first] + [_GREETING_PREFIX.sub("", line, count=1)] + lines[first + 1:]


def split_passages(text: str, size: int = PASSAGE_CHARS,
                   limit: int = MAX_PASSAGES) -> tuple[str, ...]:
    """Paragraphs packed into passages of about ``size`` characters; long ones cut at sentences.

    At most ``limit`` passages are kept, half from the start and half from the end: the
    question of a long ticket is usually stated first or asked last, the middle tells the
    story, and every passage costs one search.
    """
    pieces: list[str] = []
    for paragraph in _BLANK.split(text):
        paragraph = " ".join(paragraph.split())
        if paragraph:
            pieces.extend(_sentences_within(paragraph, size))
    passages: list[str] = []
    for piece in pieces:
        if passages and len(passages[-1]) + 1 + len(piece) <= size:
            passages[-1] += " " + piece
        else:
            passages.append(piece)
    if len(passages) > limit:
        passages = passages[:(limit + 1) // 2] + passages[len(passages) - limit // 2:]
    return tuple(passages)


def _sentences_within(paragraph: str, size: int) -> list[str]:
    if len(paragraph) <= size:
        return [paragraph]
    out: list[str] = []
    for sentence in _SENTENCE_END.split(paragraph):
        while len(sentence) > size:  # one endless sentence: cut at the last space in reach
            cut = sentence.rfind(" ", 0, size)
            cut = cut if cut > 0 else size
            out.append(sentence[:cut])
            sentence = sentence[cut:].strip()
        if out and len(out[-1]) + 1 + len(sentence) <= size:
            out[-1] += " " + sentence
        elif sentence:
            out.append(sentence)
    return out


@functools.cache
def _identifier() -> Any:
    # Loaded once (about a second): the model ships inside the py3langid wheel, offline.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str, preferred: Sequence[str] = ()) -> str | None:
    """The language ``text`` is written in (ISO 639-1), or None when it cannot tell.

    A ``preferred`` language (one the KB has) wins over a more likely one when it is
    still plausible: short Russian reads as Ukrainian, Persian as Urdu.
    """
    sample = " ".join(text.split())[:2000]
    if not any(char.isalpha() for char in sample):
        return None
    ranked: list[tuple[str, float]] = _identifier().rank(sample)
    top, confidence = ranked[0]
    if top in preferred:
        return top
    for lang, probability in ranked[:5]:
        if lang in preferred and probability >= 0.2:
            return lang
    return top if confidence >= 0.5 else None
