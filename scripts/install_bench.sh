#!/usr/bin/env bash
# Peer libraries for side-by-side evaluation (never runtime dependencies): implicit, Surprise, scikit-learn,
# matplotlib from wheels (the `bench` extra), then LightFM, which only builds from source with Cython and an
# older setuptools (its setup.py writes to __builtins__, which newer setuptools runs as a dict).
EXTRAS=dev,bench
source "$(dirname "$0")/_venv.sh"
.venv/bin/python -m pip install --quiet "setuptools<70" cython wheel
.venv/bin/python -m pip install --quiet --no-build-isolation lightfm
.venv/bin/python -m pip install --quiet "setuptools>=77"  # what torch asks for, once LightFM is built
.venv/bin/python -c "import implicit, surprise, lightfm, sklearn; print('peers installed')"
