"""Speech: the SttEngine and TtsEngine seams, their local and Wyoming implementations, audio helpers, VAD."""
