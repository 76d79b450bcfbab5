// The announcements, one at a time: the chime, then the voice, then a short silence, and only
// then the next one. Calls arriving together wait their turn (at most `maxPending`: in a
// flood the oldest give way); none is cut off.

const wait = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/**
 * The queue of announcements. `words(call)` is what to say; `prepare(call, text)` (optional)
 * starts getting the voice ready before the chime rings (the server's voice is fetched
 * meanwhile) and gives what `speak` needs; `chime()` rings and says whether it could;
 * `speak(text, prepared)` resolves when the voice is done. The pauses come from `timings`
 * (the page config's: chimeMs, gapMs). `stats` counts announced calls and failures.
 */
export function createAnnouncer({words, prepare = () => null, chime, speak, timings, stats,
                                 maxPending = 8, logSize = 20}) {
  const pending = [];
  const log = [];  // the last announcements made, for a look from the console or a test
  let busy = false;

  function playOne(call) {
    const text = words(call);
    stats.announced += 1;
    log.push({code: call.code, desk: call.desk, recall: call.recall, text});
    if (log.length > logSize) log.shift();
    let prepared = null;
    try {
      prepared = prepare(call, text);
    } catch (error) {  // the voice may still manage without it
      stats.failures += 1;
    }
    let rang = false;
    try {
      rang = chime();
    } catch (error) {  // no chime this time; the voice still says the call
      stats.failures += 1;
    }
    return wait(rang ? timings.chimeMs : 0)
      .then(() => speak(text, prepared))
      .then(() => wait(timings.gapMs));
  }

  /* Whatever goes wrong with one announcement (a voice engine that throws, an audio device
   * that fails), the next one is still made: the screen must never fall silent until
   * someone reloads it. */
  function pump() {
    if (busy || pending.length === 0) return;
    busy = true;
    const call = pending.shift();
    let played;
    try {
      played = playOne(call);
    } catch (error) {
      played = Promise.reject(error);
    }
    played.catch((error) => {
      stats.failures += 1;
      if (window.console) window.console.warn("announcement failed:", error);
    }).then(() => {
      busy = false;
      pump();
    });
  }

  return {
    /** Queue a call (`{code, desk, recall}`) to be announced after those before it. */
    announce(call) {
      pending.push(call);
      if (pending.length > maxPending) pending.splice(0, pending.length - maxPending);
      pump();
    },
    /** Forget the calls still waiting (a new day); the one being said ends as usual. */
    clear() { pending.length = 0; },
    get pending() { return pending.slice(); },
    get busy() { return busy; },
    get log() { return log.slice(); },
  };
}
