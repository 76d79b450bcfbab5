"""The server's voice: an announcement's sentence rendered to audio by Debian's espeak-ng,
offline, once, and kept in a bounded cache on disk (docs/speech.md).

The cache is content-addressed: a file's name is the SHA-256 of what made it (the engine's
settings, the voice, the text), so that the same sentence is rendered once however many
screens and recalls ask for it, and its address never changes meaning (the page's browser
may keep it for ever). It holds at most ``VOICE_CACHE_MAX_FILES`` files and
``VOICE_CACHE_MAX_BYTES`` bytes, the least recently used going first. Only texts the server
built itself reach ``render`` (display/views.py builds them from the journal's calls): a
client can name a call, never a text.

espeak-ng runs as a child process. Under eventlet (run.py monkey-patches ``subprocess``),
waiting for it lets the server serve everyone else meanwhile; at most ``MAX_RENDERS`` run
at once in a process, and a render that takes longer than ``RENDER_TIMEOUT_S`` is given up.
"""

import hashlib
import os
import subprocess
import tempfile
import threading

# The espeak-ng voice for each screen language.
ESPEAK_VOICES = {"ca": "ca", "es": "es", "en": "en-gb"}
# Words per minute: a little slower than espeak-ng's 175, for a hall with an echo.
SPEED_WPM = 150
RENDER_TIMEOUT_S = 10
MAX_RENDERS = 2
# Part of every file's address: a change of the engine's settings is a new file.
ENGINE = f"espeak-ng -s {SPEED_WPM} -b 1 wav"

DEFAULTS = {
    "VOICE_PROGRAM": "espeak-ng",
    "VOICE_CACHE_MAX_FILES": 500,
    "VOICE_CACHE_MAX_BYTES": 64 * 1024 * 1024,
}


class VoiceUnavailable(RuntimeError):
    """The server's voice could not render (no espeak-ng, or it failed)."""


class VoiceCache:
    """Sentences rendered to WAV files in ``folder``, at most ``max_files`` files and
    ``max_bytes`` bytes (least recently used out first)."""

    def __init__(self, folder, max_files, max_bytes, program="espeak-ng"):
        self.folder, self.max_files, self.max_bytes = folder, max_files, max_bytes
        self.program = program
        self._renders = threading.BoundedSemaphore(MAX_RENDERS)
        self._guard = threading.Lock()
        self._rendering = {}  # digest -> the lock held while it is being rendered

    @staticmethod
    def digest(language, text):
        """The address of ``text`` said in ``language``: 64 hex digits."""
        made_of = "\n".join([ENGINE, ESPEAK_VOICES[language], text])
        return hashlib.sha256(made_of.encode()).hexdigest()

    def path(self, digest):
        return os.path.join(self.folder, f"{digest}.wav")

    def find(self, digest):
        """The file of ``digest`` if the cache has it (marked as just used), else None."""
        path = self.path(digest)
        try:
            os.utime(path)
        except FileNotFoundError:
            return None
        return path

    def render(self, language, text):
        """``text`` said in ``language``, rendered unless the cache has it; its digest.
        VoiceUnavailable when espeak-ng is missing or fails."""
        digest = self.digest(language, text)
        with self._guard:
            lock = self._rendering.setdefault(digest, threading.Lock())
        try:
            with lock:  # two screens asking for one call: it is rendered once
                if self.find(digest) is None:
                    with self._renders:
                        self._render_to(self.path(digest), ESPEAK_VOICES[language], text)
                    self._evict()
        finally:
            with self._guard:
                self._rendering.pop(digest, None)
        return digest

    def _render_to(self, path, voice, text):
        os.makedirs(self.folder, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=self.folder, suffix=".part")
        os.close(handle)
        try:
            command = [self.program, "-v", voice, "-s", str(SPEED_WPM), "-b", "1", "-w", partial]
            try:
                # The text on stdin: never read as an option, whatever it starts with.
                done = subprocess.run(
                    command, input=text.encode(), capture_output=True, timeout=RENDER_TIMEOUT_S
                )
            except (OSError, subprocess.TimeoutExpired) as error:
                raise VoiceUnavailable(f"{self.program}: {error}") from error
            if done.returncode != 0 or os.path.getsize(partial) <= 44:  # a bare WAV header
                message = done.stderr.decode(errors="replace").strip()
                raise VoiceUnavailable(f"{self.program} failed ({done.returncode}): {message}")
            os.replace(partial, path)  # whole or not at all, for the other processes too
        finally:
            if os.path.exists(partial):
                os.remove(partial)

    def _evict(self):
        """Remove the least recently used files until within both bounds."""
        files = []
        for entry in os.scandir(self.folder):
            if entry.name.endswith(".wav"):
                try:
                    stat = entry.stat()
                except FileNotFoundError:  # another process evicted it meanwhile
                    continue
                files.append((stat.st_mtime, stat.st_size, entry.path))
        files.sort()
        count, size = len(files), sum(size for _, size, _ in files)
        for _, file_size, path in files:
            if count <= self.max_files and size <= self.max_bytes:
                break
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
            count, size = count - 1, size - file_size


def _setting(app, name, default):
    value = app.config.get(name)
    if value is None:
        value = os.environ.get(f"QUEUE_{name}") or default
    return value


def init_app(app):
    """The app's voice cache (``app.extensions["torn.voice"]``), from ``VOICE_CACHE_DIR``
    (default: the instance folder's voice-cache), ``VOICE_CACHE_MAX_FILES``,
    ``VOICE_CACHE_MAX_BYTES`` and ``VOICE_PROGRAM`` in the app's config, else the same names
    prefixed ``QUEUE_`` in the environment. A bound that is not a whole number > 0 stops the
    server at start-up."""
    folder = _setting(app, "VOICE_CACHE_DIR", os.path.join(app.instance_path, "voice-cache"))
    bounds = {}
    for name in ("VOICE_CACHE_MAX_FILES", "VOICE_CACHE_MAX_BYTES"):
        value = _setting(app, name, DEFAULTS[name])
        whole = isinstance(value, int) and not isinstance(value, bool)
        if isinstance(value, str) and value.isdigit():
            value, whole = int(value), True
        if not whole or value <= 0:
            raise ValueError(f"{name} must be a whole number > 0: {value!r}")
        bounds[name] = value
    app.extensions["torn.voice"] = VoiceCache(
        folder,
        bounds["VOICE_CACHE_MAX_FILES"],
        bounds["VOICE_CACHE_MAX_BYTES"],
        _setting(app, "VOICE_PROGRAM", DEFAULTS["VOICE_PROGRAM"]),
    )
