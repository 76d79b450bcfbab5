// What the screen says for a call (the sentences, the word framing a letter and the letter
// names come in the page config, from display/speech.py, which builds the very same text
// for the server's voice): the ticket's letter by its name after the word "letter", the
// number without its leading zeros, the desk as it is named in the screen's language.

/** How a language (`speech`: one language's `{letter, letters}`) says a ticket code:
 *  "A023" -> "lletra a, 23". */
export function spokenCode(code, speech) {
  const parts = /^([A-Za-z]*)([0-9]+)$/.exec(code);
  if (!parts) return code;
  const words = parts[1].toUpperCase().split("").filter(Boolean).map(
    (letter) => speech.letter.split("{name}").join(speech.letters[letter] || letter));
  words.push(String(parseInt(parts[2], 10)));
  return words.join(", ");
}

/** The sentence for `code` ("A023") at `desk` (its name in the language; may be empty),
 *  with `speech` = one language's `{withDesk, withoutDesk, letter, letters}`:
 *  "Torn lletra a, 23, Taulell 3". */
export function spokenText(code, desk, speech) {
  const sentence = desk ? speech.withDesk : speech.withoutDesk;
  return sentence.split("{code}").join(spokenCode(code, speech)).split("{desk}").join(desk);
}

/** The sentence for `code` let in from outside at the door, with `speech` = one language's
 *  `{admitted, letter, letters}`: "Torn lletra a, 12, podeu entrar". */
export function admittedText(code, speech) {
  return speech.admitted.split("{code}").join(spokenCode(code, speech));
}
