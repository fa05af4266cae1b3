"""Built-in encoder wrappers, one file per family; installed as the package `bench.encoders`.

`BUILTIN` maps each registered name to its class ("module:Class", relative to this package) and the
constructor arguments that make that name. Modules are imported only when the name is used.
"""

BUILTIN: dict[str, tuple[str, dict]] = {
    "logmel": ("baselines:LogMel", {}),
    "mfcc": ("baselines:MFCC", {}),
    # weights shipped inside pip packages (README lists the install lines)
    "whisper-tiny-en": ("whisper_ct2:WhisperCT2", {"model": "tiny.en"}),
    "whisper-base": ("whisper_ct2:WhisperCT2", {"model": "base"}),
    "resemblyzer": ("resemblyzer_enc:Resemblyzer", {}),
    "crepe-tiny": ("crepe:Crepe", {"capacity": "tiny"}),
    "crepe-full": ("crepe:Crepe", {"capacity": "full"}),
    "aisfx": ("aisfx_enc:AiSFX", {}),
    "openwakeword": ("openwakeword_enc:OpenWakeWord", {}),
    "voicefilter-lite": ("voicefilter_enc:VoiceFilterLite", {}),
    # Hugging Face families: a local save_pretrained folder (--checkpoint) or, with a network, a hub id
    "hf-whisper": ("hf:HFWhisper", {}),
    "hf-wav2vec2": ("hf:HFWav2Vec2", {}),
    "hf-hubert": ("hf:HFHubert", {}),
    "hf-wavlm": ("hf:HFWavLM", {}),
    "hf-data2vec-audio": ("hf:HFData2VecAudio", {}),
    "hf-ast": ("hf:HFAST", {}),
    "hf-clap": ("hf:HFClap", {}),
    "hf-auto": ("hf:auto", {}),
}
