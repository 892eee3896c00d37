"""A toy voice assistant split into five services: core, llm, tts, stt and vad."""
