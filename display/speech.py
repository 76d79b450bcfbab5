"""What the TV says aloud on a call, in each of the screen languages (docs/speech.md).

A call is announced as "<Ticket> <letter word> <letter name>, <number>, <desk>", e.g.
"Torn lletra a, 23, Taulell 3": the ticket's letter framed by the word "letter" and said by
its name, so that no voice reads "A" or "I" as the words "a" (to) or "i" (and), nor "H" as
a silent letter, and names that sound alike are told apart ("be alta" and "ve baixa" in
Catalan, "i llatina" and "i grega"); then the number as a number, without its leading zeros
("A023" -> "23", said "vint-i-tres"); then the desk's name in the screen's language.

The tables are language data, chosen for the ear rather than translated (a language's letter
names are its own); the two sentences around them come from the catalogs. The page builds
the same text from the same tables (``display/static/display/speech.js``, ``spokenText``)
for the browser's voice, and the server builds it here (``spoken_text``) for its own voice
(``display/voice.py``): the tests hold the two to the same words.

The entrance screen (a display with ``layout: entrance``) says a ticket let in from outside
the same way, in a sentence of its own: "Torn lletra a, 12, podeu entrar" (``admitted_text``,
``admittedText`` in the page).
"""

import re

from flask_babel import force_locale, gettext

# The speech synthesis voice asked for in each screen language (a browser's voice list is
# searched for it; the server's espeak-ng voices are in display/voice.py).
VOICES = {"ca": "ca-ES", "es": "es-ES", "en": "en-GB"}

# How each language frames a letter: the word "letter" before its name, then a pause.
LETTER_WORD = {"ca": "lletra {name}", "es": "letra {name}", "en": "letter {name}"}

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Letter names as a listener understands them (docs/speech.md says why each one).
# fmt: off
LETTER_NAMES = {
    "ca": dict(zip(ALPHABET, [
        "a", "be alta", "ce", "de", "e", "efa", "ge", "hac", "i llatina", "jota", "ca",
        "ela", "ema", "ena", "o", "pe", "cu", "erra", "essa", "te", "u", "ve baixa",
        "ve doble", "ics", "i grega", "zeta"], strict=True)),
    "es": dict(zip(ALPHABET, [
        "a", "be", "ce", "de", "e", "efe", "ge", "hache", "i latina", "jota", "ka", "ele",
        "eme", "ene", "o", "pe", "cu", "erre", "ese", "te", "u", "uve", "uve doble",
        "equis", "i griega", "zeta"], strict=True)),
    # English voices say a capital letter by its name once "letter" has announced it.
    "en": dict(zip(ALPHABET, ALPHABET, strict=True)),
}
# fmt: on

# A ticket code: its office's letters, then its number.
CODE = re.compile(r"([A-Za-z]*)([0-9]+)")


def speech_settings(languages):
    """For each language: its voice, its two sentences for a call (with and without a desk)
    and the one for a ticket let in at the door, how it frames a letter and its letter names;
    translated server-side, handed to the page in its JSON block."""
    settings = {}
    for language in languages:
        with force_locale(language):
            settings[language] = {
                "voice": VOICES[language],
                "withDesk": gettext("Ticket {code}, {desk}"),
                "withoutDesk": gettext("Ticket {code}"),
                "admitted": gettext("Ticket {code}, please come in"),
                "letter": LETTER_WORD[language],
                "letters": LETTER_NAMES[language],
            }
    return settings


def spoken_code(code, language):
    """How ``language`` says a ticket code: "A023" -> "lletra a, 23" in Catalan."""
    parts = CODE.fullmatch(code)
    if not parts:
        return code
    words = [
        LETTER_WORD[language].replace("{name}", LETTER_NAMES[language].get(letter, letter))
        for letter in parts.group(1).upper()
    ]
    return ", ".join([*words, str(int(parts.group(2)))])


def spoken_text(code, desk, language):
    """The sentence a screen in ``language`` says for ``code`` called at ``desk`` (its name
    in that language; may be empty): "Torn lletra a, 23, Taulell 3". Needs an app context
    (the sentences come from the catalogs)."""
    with force_locale(language):
        sentence = gettext("Ticket {code}, {desk}") if desk else gettext("Ticket {code}")
    return sentence.replace("{code}", spoken_code(code, language)).replace("{desk}", desk)


def admitted_text(code, language):
    """The sentence an entrance screen in ``language`` says for ``code`` let in from outside:
    "Torn lletra a, 12, podeu entrar". Needs an app context (the sentence is the catalogs')."""
    with force_locale(language):
        sentence = gettext("Ticket {code}, please come in")
    return sentence.replace("{code}", spoken_code(code, language))
