// What every layout of the TV does alike (main.js, the waiting room's; entrance.js, the
// door's): its counters, the sound and the one queue of announcements (sound.js,
// announcer.js), the live connection (the pages' shared one, /static/pages.js) with its
// reconnections and resyncs, the rule that what was missed during a long absence is shown
// but not announced, a screen whose key was replaced or changed, and the page's handle for
// tests and the console. Each layout keeps its own state and decides what to show and to
// announce.

// Relative, so that it also resolves under a path prefix: /display/static/display/ -> /static/.
import {connectLive} from "../../../static/pages.js";
import {createAnnouncer} from "./announcer.js";
import {createSound} from "./sound.js";

/**
 * The live screen of the page config `config`, drawn by `screen` (its top bar's functions:
 * screen.js, createTopBar), its state in `state` (this keeps its `connected` and
 * `offlineSince`). An announcement is whatever the layout queues (`announce`): `words(item)`
 * is what is said, `voiceUrl(item)` where the server's voice for it is (null: none).
 */
export function createLiveScreen({config, state, screen, words, voiceUrl}) {
  const {timings} = config;
  const stats = {snapshots: 0, events: 0, dropped: 0, announced: 0, chimes: 0, connects: 0,
                 resyncs: 0, failures: 0, serverVoices: 0};
  let socket = null;

  /** A language's speech settings (of config.speech), the screen's when it has none. */
  function speechIn(language) {
    return config.speech[language] || config.speech[config.language];
  }

  const sound = createSound({
    lang: speechIn(config.language).voice,
    voice: config.voice,
    voiceUrl,
    timings,
    stats,
    quiet: () => !announcer.busy,
    onTouchNeeded: screen.askForTouch,
    onUnlocked: screen.soundUnlocked,
  });
  const announcer = createAnnouncer({
    words,
    prepare: sound.prepare,
    chime: sound.chime,
    speak: sound.speak,
    timings,
    stats,
  });

  function catchingUpTooLate() {
    return state.offlineSince !== null && Date.now() - state.offlineSince > timings.catchUpMs;
  }

  /** A snapshot is in: whether what it brings that was missed meanwhile is still announced
   *  (the screen was away for at most `catchUpMs`). The screen is back. */
  function caughtUp() {
    const announceMissed = !catchingUpTooLate();
    state.offlineSince = null;
    return announceMissed;
  }

  function onStatus(online) {
    state.connected = online;
    screen.showOnline(online);
    if (!online && state.offlineSince === null) state.offlineSince = Date.now();
  }

  // This screen's key was replaced (refused, or told so while connected): stop and say so.
  function retire() {
    socket.disconnect();
    screen.showRetired();
  }

  /**
   * Start: the clock, the first picture (`show()`), the sound, then the live connection
   * with the layout's `handlers` (by event name); and `window.TornDisplay`, the page's own
   * functions for tests and the console: `handle` (the handlers), the announcer's and the
   * sound's, and the layout's `own` (its getters stay getters).
   */
  function start({show, handlers, own}) {
    screen.startClock();
    show();
    sound.start();

    socket = connectLive({screen: config.key}, {
      ...handlers,
      // An administrator changed this screen (layout, offices, language, message...): its
      // labels and sentences are rendered by the server, so the page loads itself again.
      display_changed: () => window.location.reload(),
      display_retired: retire,
    }, onStatus, {
      socket: {reconnectionDelay: timings.reconnectMs,
               reconnectionDelayMax: timings.reconnectMaxMs},
      resync: true,
      retryMs: timings.retryMs,
      onRefused: retire,
      stats,
    });

    window.TornDisplay = Object.defineProperties({
      unlockSound: sound.unlock,
      handle: handlers,
      get pending() { return announcer.pending; },
      get busy() { return announcer.busy; },
      get log() { return announcer.log; },
      get voices() { return sound.played; },
      get state() { return state; },
      timings,
      stats,
      socket,
    }, Object.getOwnPropertyDescriptors(own));
  }

  return {
    speechIn,
    caughtUp,
    /** Whether the screen has been away for longer than `catchUpMs` (and is not back). */
    catchingUpTooLate,
    /** Queue an announcement, said after those before it. */
    announce: (item) => announcer.announce(item),
    /** Forget the announcements still waiting (a new day). */
    clearAnnouncements: () => announcer.clear(),
    start,
  };
}
