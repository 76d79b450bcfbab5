// What the screen says for a call (the sentences and letter names come translated in the
// page config, from display/speech.py): the ticket's letter by its name in the language,
// the number without its leading zeros, the desk as it is named.

/** The sentence for `code` ("A023") at `desk` (may be empty), with `speech` = one
 *  language's `{withDesk, withoutDesk, letters}`: "Torn a 23, Taulell 3". */
export function spokenText(code, desk, speech) {
  const parts = /^([A-Za-z]*)(\d+)$/.exec(code);
  let said = code;
  if (parts) {
    const words = parts[1].toUpperCase().split("").filter(Boolean)
      .map((letter) => speech.letters[letter] || letter);
    words.push(String(parseInt(parts[2], 10)));
    said = words.join(" ");
  }
  const sentence = desk ? speech.withDesk : speech.withoutDesk;
  return sentence.replace("{code}", said).replace("{desk}", desk);
}
