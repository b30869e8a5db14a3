#!/usr/bin/env bash
# Regenerate the synthetic speech fixtures in tests/fixtures/speech/.
#
# Requires (developer machine only; CI uses the committed files):
#   espeak-ng  (apt install espeak-ng)
#   sox        (apt install sox libsox-fmt-mp3)
#
# Every clip is espeak-ng voice en-us, resampled to 16 kHz mono 16-bit PCM.
# sox runs with -R (repeatable dither), so output is byte-identical per run.
# Re-running the script overwrites the clips in place. manifest.json is
# maintained by hand (its key words were verified against Whisper tiny.en);
# update it if you change a sentence here.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/tests/fixtures/speech}"
RATE="${SPEECH_RATE:-150}"      # words per minute
VOICE="${SPEECH_VOICE:-en-us}"

for tool in espeak-ng sox; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool not found" >&2; exit 1; }
done

mkdir -p "$OUT"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# speak DEST.wav "TEXT" -> 16 kHz, mono, s16 WAV; leading/trailing silence
# trimmed, then 0.15 s of silence padded on both ends.
speak() {
  local dest="$1" text="$2"
  espeak-ng -v "$VOICE" -s "$RATE" -w "$TMP/raw.wav" "$text"
  sox -q -R "$TMP/raw.wav" -r 16000 -c 1 -b 16 "$dest" \
      silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse pad 0.15 0.15
  echo "wrote $dest"
}

speak "$OUT/weather.wav" "Tomorrow the weather will be sunny and warm with a light breeze from the ocean."
speak "$OUT/cooking.wav" "To bake a loaf of bread, mix flour, water, yeast and salt, then knead the dough."
speak "$OUT/rocket.wav"  "The rocket launch was delayed because of strong winds near the space station."

# Long passage: three topics in sequence (music -> volcanoes -> chess) so that
# time-based chunking can be tested. Approximate topic timings are recorded in
# manifest.json ("segments").
speak "$TMP/lecture_music.wav" "Welcome to today's lecture. We begin with music. \
A guitar has six strings that are tuned to different notes. \
When you pluck a string, the guitar body resonates and makes the sound louder. \
Many famous songs use only three or four chords, so learning the guitar is easier than it looks. \
A piano, by contrast, has eighty eight keys."
speak "$TMP/lecture_volcano.wav" "Now let us turn to volcanoes. \
A volcano forms where hot magma rises from deep inside the earth. \
When the volcano erupts, lava flows down the mountain and slowly cools into new rock. \
Some volcanoes in Hawaii erupt gently, while others explode with clouds of ash."
speak "$TMP/lecture_chess.wav" "Finally, a few words about chess. \
Each player starts with sixteen pieces, and the goal is to checkmate the opposing king. \
The queen is the most powerful piece on the chess board. \
That is all for today, thank you for listening."

# Join with a short pause between topics. At 16 kHz/16-bit a ~55 s WAV would
# be ~1.8 MB, so the long clip is stored as Ogg Vorbis (quality 0, ~165 KB),
# which soundfile/libsndfile and faster-whisper (PyAV) both decode.
sox -q -R -n -r 16000 -c 1 -b 16 "$TMP/pause.wav" trim 0.0 0.8
sox -q -R "$TMP/lecture_music.wav" "$TMP/pause.wav" \
       "$TMP/lecture_volcano.wav" "$TMP/pause.wav" \
       "$TMP/lecture_chess.wav" "$TMP/long_lecture.wav"
rm -f "$OUT/long_lecture.wav"
sox -q -R "$TMP/long_lecture.wav" -C 0 "$OUT/long_lecture.ogg"
echo "wrote $OUT/long_lecture.ogg ($(soxi -D "$OUT/long_lecture.ogg") s)"
# Print topic boundaries (seconds) for manifest.json "segments".
t=0
for part in music volcano chess; do
  d="$(soxi -D "$TMP/lecture_$part.wav")"
  printf '  %-8s %6.2f .. %6.2f s\n' "$part" "$t" "$(echo "$t + $d" | bc -l)"
  t="$(echo "$t + $d + 0.8" | bc -l)"
done

# Format variants (same speech, different container/codec).
sox -q -R "$OUT/weather.wav" "$OUT/weather.flac"
sox -q -R "$OUT/cooking.wav" -C 32 "$OUT/cooking.mp3"
sox -q -R "$OUT/rocket.wav"  -C 3  "$OUT/rocket.ogg"
echo "wrote weather.flac cooking.mp3 rocket.ogg"

ls -l "$OUT"
