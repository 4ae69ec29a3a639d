#!/usr/bin/env bash
# Peer libraries for side-by-side evaluation (never runtime dependencies): implicit, Surprise, scikit-learn,
# matplotlib from wheels (the `bench` extra), then LightFM, which only builds from source with Cython, an
# older setuptools and the legacy `setup.py` build (its setup.py writes to __builtins__, which the PEP 517 path
# runs as a dict); pip 25.3 dropped that build, so pip stays below it.
EXTRAS=dev,bench
source "$(dirname "$0")/_venv.sh"
.venv/bin/python -m pip install --quiet "pip<25.3" "setuptools<70" cython wheel
.venv/bin/python -m pip install --quiet --no-build-isolation --no-use-pep517 lightfm
.venv/bin/python -m pip install --quiet "setuptools>=77"  # what torch asks for, once LightFM is built
.venv/bin/python -c "import implicit, surprise, lightfm, sklearn; print('peers installed')"
