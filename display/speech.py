"""What the TV says aloud on a call, in each of the screen languages.

A call is announced as "<Ticket> <letter> <number>, <desk>": the ticket's letter spelled
by its name in the language (so that a voice never reads "H" as a silent letter or "I"
as a word), then the number as a number without its leading zeros ("A023" -> "a 23",
said "vint-i-tres"), then the desk's name exactly as it is painted on the desk. The
sentences come from the catalogs; the page fills them in
(``display/static/display/speech.js``, ``spokenText``).
"""

from flask_babel import force_locale, gettext

# The speech synthesis voice asked for in each screen language.
VOICES = {"ca": "ca-ES", "es": "es-ES", "en": "en-GB"}

# Letter names as a voice should say them. English voices spell a lone capital letter
# by themselves, so English keeps the letters as they are.
# fmt: off
LETTER_NAMES = {
    "ca": dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", [
        "a", "be", "ce", "de", "e", "efa", "ge", "hac", "i", "jota", "ca", "ela", "ema",
        "ena", "o", "pe", "cu", "erra", "essa", "te", "u", "ve", "ve doble", "ics",
        "i grega", "zeta"], strict=True)),
    "es": dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", [
        "a", "be", "ce", "de", "e", "efe", "ge", "hache", "i", "jota", "ka", "ele", "eme",
        "ene", "o", "pe", "cu", "erre", "ese", "te", "u", "uve", "uve doble", "equis",
        "i griega", "zeta"], strict=True)),
    "en": {},
}
# fmt: on


def speech_settings(languages):
    """For each language: its voice, its two sentences (with and without a desk), its
    letter names; translated server-side, handed to the page in its JSON block."""
    settings = {}
    for language in languages:
        with force_locale(language):
            settings[language] = {
                "voice": VOICES[language],
                "withDesk": gettext("Ticket {code}, {desk}"),
                "withoutDesk": gettext("Ticket {code}"),
                "letters": LETTER_NAMES.get(language, {}),
            }
    return settings
